// Command manynames asks dnsfault ($DNSFAULT_ADDR) for N distinct names
// over UDP, as a client hunting random subdomains would, then prints its
// parent's (dnsfault run's) peak resident memory in kB.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: manynames N")
		os.Exit(2)
	}
	const clients = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	for c := range clients {
		wg.Go(func() {
			conn, err := net.Dial("udp", os.Getenv("DNSFAULT_ADDR"))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer conn.Close()
			dc := &dns.Conn{Conn: conn}
			got := 0
			// A window of queries in flight, each answered before the
			// next goes, so no socket buffer overflows.
			for i := c; i < n; i += clients {
				q := new(dns.Msg).SetQuestion(fmt.Sprintf("n%d.many.test.", i), dns.TypeA)
				if dc.WriteMsg(q) != nil {
					return
				}
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := dc.ReadMsg(); err == nil {
					got++
				}
			}
			mu.Lock()
			answered += got
			mu.Unlock()
		})
	}
	wg.Wait()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", os.Getppid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Printf("answered %d\npeak %s\n", answered, strings.Fields(line)[1])
		}
	}
}
