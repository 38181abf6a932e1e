// Package dnstest helps tests talk DNS on loopback: it starts small DNS
// servers that stand in for upstream resolvers, and sends queries with the
// miekg/dns client.
package dnstest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// Server is a DNS server on 127.0.0.1, UDP and TCP on one port, serving a
// handler; tests use it as a fake upstream.
type Server struct {
	// Addr is IP:PORT of both listeners.
	Addr string

	mu      sync.Mutex
	queries []Received
}

// Received is one query a Server got.
type Received struct {
	Msg       *dns.Msg
	Transport string // "udp" or "tcp"
	From      string // the sender's IP:PORT
}

// Start serves h on 127.0.0.1 with a free port until the test ends.
func Start(t testing.TB, h dns.HandlerFunc) *Server {
	t.Helper()
	pcs, ln, err := listen.UDPAndTCP("127.0.0.1:0", 1)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	pc := pcs[0]
	s := &Server{Addr: pc.LocalAddr().String()}
	record := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		transport := "udp"
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			transport = "tcp"
		}
		s.mu.Lock()
		s.queries = append(s.queries, Received{Msg: r.Copy(), Transport: transport, From: w.RemoteAddr().String()})
		s.mu.Unlock()
		h(w, r)
	})
	var ready sync.WaitGroup
	servers := []*dns.Server{{PacketConn: pc, Handler: record}, {Listener: ln, Handler: record}}
	for _, srv := range servers {
		ready.Add(1)
		srv.NotifyStartedFunc = ready.Done
		go srv.ActivateAndServe()
	}
	ready.Wait()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.ShutdownContext(ctx)
		}
	})
	return s
}

// Received returns the queries the server got so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.queries...)
}

// Answer returns a handler that answers every query with records built by
// rr from the queried name, such as `name + " 60 IN A 192.0.2.1"`.
func Answer(rr func(name string) string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if rec, err := dns.NewRR(rr(r.Question[0].Name)); err == nil {
			m.Answer = append(m.Answer, rec)
		}
		w.WriteMsg(m)
	}
}

// AnswerA returns a handler that answers every name with one A record,
// addr, with a TTL of 120 s: an upstream that knows every name.
func AnswerA(addr string) dns.HandlerFunc {
	return Answer(func(name string) string { return name + " 120 IN A " + addr })
}

// Silent is a handler that never answers.
func Silent(dns.ResponseWriter, *dns.Msg) {}

// Query returns a recursive query for name and qtype.
func Query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

// Exchange sends m to addr over network ("udp" or "tcp") with the
// miekg/dns client, waiting at most timeout.
func Exchange(addr, network string, m *dns.Msg, timeout time.Duration) (*dns.Msg, time.Duration, error) {
	return ExchangeFrom("", addr, network, m, timeout)
}

// ExchangeFrom is Exchange sent from the local IP from (such as
// 127.0.0.2, to be another client on loopback); "" lets the system pick.
func ExchangeFrom(from, addr, network string, m *dns.Msg, timeout time.Duration) (*dns.Msg, time.Duration, error) {
	c := &dns.Client{Net: network, Timeout: timeout, UDPSize: dns.MaxMsgSize}
	if from != "" {
		ip := net.ParseIP(from)
		c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.UDPAddr{IP: ip}}
		if network == "tcp" {
			c.Dialer.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	return c.Exchange(m, addr)
}

// FreePort returns a port that was free for both TCP and UDP on 127.0.0.1
// a moment ago, for a program the test starts that binds its own port
// (knotd, unbound, a documented command); a clash is the caller's to
// retry.
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
}
