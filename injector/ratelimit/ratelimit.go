// Package ratelimit limits each client to a steady rate with bursts (a
// token bucket per address), so a server cannot be used to amplify traffic
// toward a spoofed victim.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// maxClients bounds the buckets kept; past it, buckets that have refilled
// (clients quiet long enough) are forgotten.
const maxClients = 100_000

// Limiter allows each client rate events a second, in bursts of up to
// burst. It is safe for concurrent use.
type Limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter; now is its clock (time.Now unless a test steps one).
func New(rate, burst float64, now func() time.Time) *Limiter {
	return &Limiter{rate: rate, burst: max(burst, 1), now: now, buckets: map[netip.Addr]*bucket{}}
}

// Allow takes a token from client's bucket, telling whether there was one.
func (l *Limiter) Allow(client netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refilled(client)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Has tells whether client has a token, without taking it: a cheap look
// before the work that Allow or Spend will then pay for.
func (l *Limiter) Has(client netip.Addr) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	return b == nil || b.tokens+now.Sub(b.last).Seconds()*l.rate >= 1
}

// Spend takes n tokens from client's bucket after the fact, for work
// whose cost was known only once it was done; the bucket may go into
// debt down to -burst, and Has says no until it is paid back.
func (l *Limiter) Spend(client netip.Addr, n float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refilled(client)
	b.tokens = max(b.tokens-n, -l.burst)
}

// refilled is client's bucket, made or refilled for the time since it
// was last used; l.mu is held.
func (l *Limiter) refilled(client netip.Addr) *bucket {
	now := l.now()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxClients {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	return b
}

// forgetFull drops the buckets that have refilled: forgetting them changes
// nothing for their clients.
func (l *Limiter) forgetFull(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
}

// Prefix is the network a client address is limited by, as response rate
// limiting counts them (BIND's defaults): its /24 for IPv4, its /56 for
// IPv6. One host cannot dodge the limit by using its neighbours'
// addresses.
func Prefix(client netip.Addr) netip.Addr {
	bits := 56
	if client.Is4() {
		bits = 24
	}
	p, err := client.Prefix(bits)
	if err != nil {
		return client
	}
	return p.Addr()
}
