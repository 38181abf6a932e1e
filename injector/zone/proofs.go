package zone

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxProofs bounds the signed proofs a Set keeps: a flood of random names
// fills it with nothing worth keeping, so past it the expired go first,
// then any.
const maxProofs = 10_000

// proofCache keeps the NSEC and NSEC3 records a fault's negative answer
// was given, signed on the spot ("white lies"), for their TTL: a name
// asked again is not signed again. A Set is made anew with each scenario,
// so its keys and its proofs go together.
type proofCache struct {
	mu      sync.Mutex
	entries map[string]proof
}

type proof struct {
	records []dns.RR
	expires time.Time
}

// Proof returns the records cached under key, or makes them with make and
// keeps them for ttl seconds. The records are shared: callers copy one
// before changing it.
func (s *Set) Proof(key string, ttl uint32, make func() []dns.RR) []dns.RR {
	now := time.Now()
	c := &s.proofs
	c.mu.Lock()
	if p, ok := c.entries[key]; ok && now.Before(p.expires) {
		c.mu.Unlock()
		return p.records
	}
	c.mu.Unlock()
	records := make() // unlocked: signing is the slow part
	if ttl == 0 {
		return records
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]proof{}
	}
	if len(c.entries) >= maxProofs {
		c.evict(now)
	}
	c.entries[key] = proof{records: records, expires: now.Add(time.Duration(ttl) * time.Second)}
	return records
}

// evict makes room: the expired entries, or failing that a tenth of them.
func (c *proofCache) evict(now time.Time) {
	for k, p := range c.entries {
		if !now.Before(p.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < maxProofs*9/10 {
			return
		}
		delete(c.entries, k)
	}
}
