// Package upstream forwards queries to upstream resolvers: UDP with a TCP
// retry when the answer is truncated, TCP for TCP clients, and a deadline
// after which the caller answers SERVFAIL instead of hanging.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// DefaultTimeout is how long a query may wait for all upstreams together.
const DefaultTimeout = 2 * time.Second

// EDNSSize is the UDP payload size dnsfault offers, to its clients and
// upstream alike: small enough that answers are not fragmented (DNS flag
// day 2020).
const EDNSSize = 1232

// ErrNone is returned when there is no upstream (`none`): names outside the
// zones are refused.
var ErrNone = errors.New("no upstream configured")

// Forwarder sends a query upstream and returns the matching answer.
type Forwarder interface {
	// Forward sends a copy of query (never query itself) and returns the
	// answer with the query's ID. tcp asks for TCP from the start.
	Forward(ctx context.Context, query *dns.Msg, tcp bool) (*dns.Msg, error)
	// ForwardAsync forwards query over UDP like Forward, without waiting:
	// done is called once, from another goroutine or before it returns,
	// with the answer or the error.
	ForwardAsync(ctx context.Context, query *dns.Msg, done func(*dns.Msg, error))
}

// New returns the forwarder for an upstream setting: ["system"] (the
// nameservers of resolvConf), ["none"], or HOST:PORT addresses. Its UDP
// queries go through mux, which the caller closes when done.
func New(spec []string, timeout time.Duration, resolvConf string, mux *Mux) (Forwarder, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch {
	case len(spec) == 0:
		return nil, errors.New("upstream: empty setting")
	case spec[0] == "none":
		return None{}, nil
	case spec[0] == "system":
		addrs, err := SystemServers(resolvConf)
		if err != nil {
			return nil, err
		}
		return &Pool{Addrs: addrs, Timeout: timeout, Mux: mux}, nil
	}
	for _, a := range spec {
		if _, err := scenarios.ParseHostPort(a); err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
	}
	return &Pool{Addrs: spec, Timeout: timeout, Mux: mux}, nil
}

// AddrsOf is what f forwards to through its Mux: a Pool's addresses, none
// for any other Forwarder.
func AddrsOf(f Forwarder) []string {
	if p, ok := f.(*Pool); ok {
		return p.Addrs
	}
	return nil
}

// SystemServers reads the nameservers of a resolv.conf file.
func SystemServers(resolvConf string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("upstream system: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("upstream system: %s names no nameserver; give --upstream HOST:PORT or none", resolvConf)
	}
	addrs := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		addrs[i] = net.JoinHostPort(s, cfg.Port)
	}
	return addrs, nil
}

// None is the forwarder of `upstream: none`: it refuses every query.
type None struct{}

// Forward implements Forwarder: it always returns ErrNone.
func (None) Forward(context.Context, *dns.Msg, bool) (*dns.Msg, error) { return nil, ErrNone }

// ForwardAsync implements Forwarder: done gets ErrNone at once.
func (None) ForwardAsync(_ context.Context, _ *dns.Msg, done func(*dns.Msg, error)) {
	done(nil, ErrNone)
}

// Pool forwards to its addresses in order: an address that fails at once
// (refused, unreachable) passes the query to the next; one that stays
// silent uses up the time left. UDP goes through Mux's shared sockets.
type Pool struct {
	Addrs   []string
	Timeout time.Duration
	Mux     *Mux
}

// buffers holds TCP read buffers: an answer can be 64 KiB.
var buffers = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// Forward implements Forwarder.
func (p *Pool) Forward(ctx context.Context, query *dns.Msg, tcp bool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	return p.forwardFrom(ctx, query, prepare(query), tcp, 0)
}

// ForwardAsync implements Forwarder. The usual case (the first upstream
// answers in full) costs no goroutine; the rare ones (truncation, a
// failing upstream) go on in one through the waiting path, within the
// same time limit.
func (p *Pool) ForwardAsync(ctx context.Context, query *dns.Msg, done func(*dns.Msg, error)) {
	out := prepare(query)
	began := time.Now()
	p.Mux.Send(p.Addrs[0], out, p.Timeout, func(resp *dns.Msg, err error) {
		if err == nil && !resp.Truncated {
			resp.Id = query.Id
			done(resp, nil)
			return
		}
		if err != nil && (len(p.Addrs) == 1 || ctx.Err() != nil || errors.Is(err, ErrClosed)) {
			// Nothing left to try: answer now, on this goroutine, so a
			// closing Mux has answered every query when Close returns.
			done(nil, fmt.Errorf("%s: %w", p.Addrs[0], err))
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(ctx, p.Timeout-time.Since(began))
			defer cancel()
			if err == nil { // truncated: the same upstream over TCP, then the others
				done(p.forwardFrom(ctx, query, out, true, 0))
				return
			}
			resp, next := p.forwardFrom(ctx, query, out, false, 1)
			if next != nil {
				next = errors.Join(fmt.Errorf("%s: %w", p.Addrs[0], err), next)
			}
			done(resp, next)
		}()
	})
}

// forwardFrom tries the addresses from the start-th on.
func (p *Pool) forwardFrom(ctx context.Context, query, out *dns.Msg, tcp bool, start int) (*dns.Msg, error) {
	var errs []error
	for _, addr := range p.Addrs[start:] {
		resp, err := p.exchange(ctx, addr, out, tcp)
		if err == nil {
			resp.Id = query.Id
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// prepare copies the query with a fresh random ID (so off-path answers
// cannot be forged from the client's ID) and our own EDNS0 record.
func prepare(query *dns.Msg) *dns.Msg {
	out := query.Copy()
	// A recursive server asks for recursion whatever its client asked: a
	// resolver with a stub zone pointing here sends RD=0, and an upstream
	// resolver may refuse that (unbound does, for what it has not cached).
	out.RecursionDesired = true
	// math/rand/v2's generator is ChaCha8 seeded by the system: as
	// unpredictable to an off-path forger as crypto/rand, without dns.Id's
	// system call and reflection on every query.
	out.Id = uint16(rand.Uint32())
	do := false
	if opt := out.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	RemoveOPT(out)
	out.SetEdns0(EDNSSize, do)
	return out
}

// RemoveOPT removes m's OPT record, if it has one.
func RemoveOPT(m *dns.Msg) {
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}

func (p *Pool) exchange(ctx context.Context, addr string, query *dns.Msg, tcp bool) (*dns.Msg, error) {
	if !tcp {
		resp, err := p.Mux.Exchange(ctx, addr, query)
		if err != nil || !resp.Truncated {
			return resp, err
		}
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := exchangeTCP(ctx, conn, query)
	if err == nil && resp.Truncated {
		return nil, errors.New("truncated answer over tcp")
	}
	return resp, err
}

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// exchangeTCP sends query over conn and reads until the answer with the
// query's ID and question arrives.
func exchangeTCP(ctx context.Context, conn net.Conn, query *dns.Msg) (*dns.Msg, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	co := &dns.Conn{Conn: conn}
	if err := co.WriteMsg(query); err != nil {
		return nil, err
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, err := co.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no answer over tcp in time: %w", ctx.Err())
			}
			return nil, err
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(buf[:n]); err != nil {
			return nil, fmt.Errorf("malformed answer over tcp: %w", err)
		}
		if resp.Id == query.Id && answers(resp, query.Question[0]) {
			return resp, nil
		}
	}
}

// answers reports whether resp answers question q.
func answers(resp *dns.Msg, q dns.Question) bool {
	if len(resp.Question) != 1 {
		return false
	}
	a := resp.Question[0]
	return a.Qtype == q.Qtype && a.Qclass == q.Qclass && strings.EqualFold(a.Name, q.Name)
}
