//go:build !linux

package main

import (
	"errors"
	"os/exec"

	"github.com/urfave/cli/v2"
)

const resolvConfListen = "127.0.0.153:53"

func canRewriteResolvConf() error {
	return errors.New("needs Linux mount namespaces; point the client at $DNSFAULT_ADDR instead")
}

func childCommand(command []string, _ bool) (*exec.Cmd, func(), error) {
	return exec.Command(command[0], command[1:]...), func() {}, nil
}

func enterNamespaceCommand() *cli.Command {
	return &cli.Command{Name: "__resolv-conf-exec", Hidden: true}
}
