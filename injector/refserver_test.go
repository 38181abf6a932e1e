package injector_test

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// startAnswering starts a reference server (knotd, unbound) that the
// test configured for addr, and waits until it answers question there:
// true once it does; false, with what it printed, when it exits first or
// 20 s pass (the caller tries another port). The process is killed when
// the test ends.
func startAnswering(t *testing.T, cmd *exec.Cmd, addr string, question *dns.Msg, ok func(*dns.Msg) bool) (bool, string) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(dnstest.Patience(20 * time.Second))
	for {
		if r, _, err := (&dns.Client{Timeout: dnstest.Patience(200 * time.Millisecond)}).Exchange(question, addr); err == nil && ok(r) {
			t.Cleanup(stop)
			return true, ""
		}
		select {
		case <-tick.C:
		case <-exited:
			return false, out.String()
		case <-deadline:
			stop()
			return false, out.String()
		}
	}
}

// refServersAtOnce bounds the reference servers a test measures through
// at once, by the cores there are: most of a measurement waits on
// timeouts, but each server's timers need a core when they fire, or a
// loaded machine changes what they measure.
func refServersAtOnce() int { return 4 * runtime.NumCPU() }
