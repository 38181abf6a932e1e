package zone_test

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"

	"github.com/dnsfault/dnsfault/injector/zone"
)

// TestProofsAreSignedOncePerNameAndType: the second ask of a key within
// its TTL takes the kept records; a TTL of 0 keeps nothing; a flood of
// keys past the bound does not grow the cache without end, and keys still
// work after it.
func TestProofsAreSignedOncePerNameAndType(t *testing.T) {
	s := zone.NewSet(nil, nil)
	made := 0
	make := func() []dns.RR { made++; return []dns.RR{&dns.NSEC{}} }
	first := s.Proof("nxdomain/a.test./A", 300, make)
	second := s.Proof("nxdomain/a.test./A", 300, make)
	assert.Equal(t, 1, made)
	assert.Same(t, first[0], second[0])
	s.Proof("nxdomain/a.test./AAAA", 300, make)
	assert.Equal(t, 2, made, "another type is another proof")
	s.Proof("nodata/b.test./A", 0, make)
	s.Proof("nodata/b.test./A", 0, make)
	assert.Equal(t, 4, made, "a TTL of 0 is never kept")

	for i := range 25_000 {
		s.Proof(fmt.Sprintf("nxdomain/r%d.test./A", i), 300, make)
	}
	made = 0
	s.Proof("nxdomain/fresh.test./A", 300, make)
	s.Proof("nxdomain/fresh.test./A", 300, make)
	assert.Equal(t, 1, made, "still kept after the flood")
}
