//go:build !linux

package main

import (
	"errors"
	"os/exec"

	"github.com/urfave/cli/v2"
)

func resolvConfAddrs(int) []string { return nil }

func canRewriteResolvConf() error {
	return errors.New("needs Linux mount namespaces; point the client at $DNSFAULT_ADDR instead")
}

func childCommand(command []string, _ string) (*exec.Cmd, func(), error) {
	return exec.Command(command[0], command[1:]...), func() {}, nil
}

func enterNamespaceCommand() *cli.Command {
	return &cli.Command{Name: "__resolv-conf-exec", Hidden: true}
}
