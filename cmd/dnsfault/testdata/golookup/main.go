// Command golookup resolves its arguments with Go's own resolver (not
// libc), reading /etc/resolv.conf as every Go program does: the run
// --resolv-conf test uses it as a client that dnsfault cannot see coming.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	status := 0
	for _, name := range os.Args[1:] {
		addrs, err := r.LookupHost(context.Background(), name)
		if err != nil {
			fmt.Println(name, "error:", err)
			status = 1
			continue
		}
		fmt.Println(name, addrs)
	}
	os.Exit(status)
}
