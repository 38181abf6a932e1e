// Package upstream forwards queries to upstream resolvers: UDP with a TCP
// retry when the answer is truncated, TCP for TCP clients, and a deadline
// after which the caller answers SERVFAIL instead of hanging.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// DefaultTimeout is how long a query may wait for all upstreams together.
const DefaultTimeout = 2 * time.Second

// ednsSize is the UDP payload size offered upstream (DNS flag day 2020).
const ednsSize = 1232

// ErrNone is returned when there is no upstream (`none`): names outside the
// zones are refused.
var ErrNone = errors.New("no upstream configured")

// Forwarder sends a query upstream and returns the matching answer.
type Forwarder interface {
	// Forward sends a copy of query (never query itself) and returns the
	// answer with the query's ID. tcp asks for TCP from the start.
	Forward(ctx context.Context, query *dns.Msg, tcp bool) (*dns.Msg, error)
}

// New returns the forwarder for an upstream setting: ["system"] (the
// nameservers of resolvConf), ["none"], or HOST:PORT addresses.
func New(spec []string, timeout time.Duration, resolvConf string) (Forwarder, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch {
	case len(spec) == 0:
		return nil, errors.New("upstream: empty setting")
	case spec[0] == "none":
		return none{}, nil
	case spec[0] == "system":
		addrs, err := SystemServers(resolvConf)
		if err != nil {
			return nil, err
		}
		return &Pool{Addrs: addrs, Timeout: timeout}, nil
	}
	for _, a := range spec {
		if _, err := scenarios.ParseHostPort(a); err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
	}
	return &Pool{Addrs: spec, Timeout: timeout}, nil
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

type none struct{}

func (none) Forward(context.Context, *dns.Msg, bool) (*dns.Msg, error) { return nil, ErrNone }

// Pool forwards to its addresses in order: an address that fails at once
// (refused, unreachable) passes the query to the next; one that stays
// silent uses up the time left.
type Pool struct {
	Addrs   []string
	Timeout time.Duration
}

// Forward implements Forwarder.
func (p *Pool) Forward(ctx context.Context, query *dns.Msg, tcp bool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	out := prepare(query)
	var errs []error
	for _, addr := range p.Addrs {
		resp, err := exchange(ctx, addr, out, tcp)
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
	out.Id = dns.Id()
	do := false
	if opt := out.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	extra := out.Extra[:0]
	for _, rr := range out.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	out.Extra = extra
	out.SetEdns0(ednsSize, do)
	return out
}

func exchange(ctx context.Context, addr string, query *dns.Msg, tcp bool) (*dns.Msg, error) {
	if !tcp {
		resp, err := exchangeOver(ctx, "udp", addr, query)
		if err != nil || !resp.Truncated {
			return resp, err
		}
	}
	resp, err := exchangeOver(ctx, "tcp", addr, query)
	if err == nil && resp.Truncated {
		return nil, errors.New("truncated answer over tcp")
	}
	return resp, err
}

// exchangeOver sends query over one new connection and reads until an
// answer with the query's ID and question arrives; anything else on UDP is
// discarded, as a stray or forged datagram would be.
func exchangeOver(ctx context.Context, network, addr string, query *dns.Msg) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	co := &dns.Conn{Conn: conn, UDPSize: dns.MaxMsgSize}
	if err := co.WriteMsg(query); err != nil {
		return nil, err
	}
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, err := co.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no answer over %s in time: %w", network, ctx.Err())
			}
			return nil, err
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(buf[:n]); err != nil {
			if network == "tcp" {
				return nil, fmt.Errorf("malformed answer over tcp: %w", err)
			}
			continue
		}
		if resp.Id != query.Id || !sameQuestion(resp, query) {
			continue
		}
		return resp, nil
	}
}

func sameQuestion(a, b *dns.Msg) bool {
	if len(a.Question) != 1 || len(b.Question) != 1 {
		return false
	}
	qa, qb := a.Question[0], b.Question[0]
	return qa.Qtype == qb.Qtype && qa.Qclass == qb.Qclass && strings.EqualFold(qa.Name, qb.Name)
}
