package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"

	"github.com/urfave/cli/v2"
)

// resolvConfAddrs are where dnsfault may listen for --resolv-conf, to try
// in turn: port 53, since resolv.conf cannot name a port, of loopback
// addresses drawn from 127.53.0.0/16 (Linux routes all of 127/8 to lo),
// so several runs on one host do not collide.
func resolvConfAddrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.53.%d.%d:53", 1+rand.IntN(254), 1+rand.IntN(254))
	}
	return out
}

// enterNamespace is the hidden command that --resolv-conf re-executes
// dnsfault as, inside a new mount namespace.
const enterNamespace = "__resolv-conf-exec"

func canRewriteResolvConf() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root, to make a mount namespace and listen on port 53; run as root, or point the client at $DNSFAULT_ADDR instead")
	}
	return nil
}

// childCommand returns the command to start. With resolvConf it is
// dnsfault itself in a new mount namespace, which bind-mounts a
// resolv.conf naming dnsfault over /etc/resolv.conf and then becomes the
// command: the host's file is never touched.
func childCommand(command []string, nameserver string) (*exec.Cmd, func(), error) {
	if nameserver == "" {
		return exec.Command(command[0], command[1:]...), func() {}, nil
	}
	f, err := os.CreateTemp("", "dnsfault-resolv-*.conf")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.Remove(f.Name()) }
	fmt.Fprintf(f, "# written by dnsfault run --resolv-conf\nnameserver %s\noptions attempts:2 timeout:2\n", nameserver)
	if err := f.Close(); err != nil {
		cleanup()
		return nil, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	cmd := exec.Command(self, append([]string{enterNamespace, f.Name(), "--"}, command...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return cmd, cleanup, nil
}

func enterNamespaceCommand() *cli.Command {
	return &cli.Command{
		Name:   enterNamespace,
		Hidden: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) < 3 || args[1] != "--" {
				return cli.Exit("usage: dnsfault "+enterNamespace+" RESOLV_CONF -- COMMAND [ARGS...]", 2)
			}
			file, command := args[0], args[2:]
			// Keep our mounts out of the host's namespace, then put our
			// resolv.conf over the real one (following a symlink to it).
			if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
				return cli.Exit(fmt.Sprintf("dnsfault run --resolv-conf: making mounts private: %v", err), 125)
			}
			if err := syscall.Mount(file, "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
				return cli.Exit(fmt.Sprintf("dnsfault run --resolv-conf: mounting over /etc/resolv.conf: %v", err), 125)
			}
			path, err := exec.LookPath(command[0])
			if err != nil {
				return cli.Exit(fmt.Sprintf("dnsfault run: %v", err), 127)
			}
			return syscall.Exec(path, command, os.Environ())
		},
	}
}
