package listen_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// fakeConn is a Gated connection whose idleness the test sets.
type fakeConn struct {
	since   int64
	busy    bool
	evicted bool
}

func (c *fakeConn) IdleSince() (int64, bool) { return c.since, !c.busy }
func (c *fakeConn) Evict()                   { c.evicted = true }

// TestGateBoundsEachClientAndEvictsTheIdlest: a client past its share is
// turned away while others still get in; at the overall bound the
// connection idle longest gives way, and a busy one never does.
func TestGateBoundsEachClientAndEvictsTheIdlest(t *testing.T) {
	greedy, other := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	g := listen.NewGate(4, 2)
	a, b := &fakeConn{since: 1, busy: true}, &fakeConn{since: 2}
	assert.True(t, g.Admit(greedy, a))
	assert.True(t, g.Admit(greedy, b))
	assert.False(t, g.Admit(greedy, &fakeConn{}), "over the client's share")
	c, d := &fakeConn{since: 3}, &fakeConn{since: 4}
	assert.True(t, g.Admit(other, c))
	assert.True(t, g.Admit(other, d)) // 4 of 4 now
	assert.Equal(t, 4, g.Open())

	e := &fakeConn{since: 5}
	assert.True(t, g.Admit(netip.MustParseAddr("127.0.0.4"), e), "room made by eviction")
	assert.True(t, b.evicted, "b is the idle one idle longest")
	assert.False(t, a.evicted, "a is older but busy")
	assert.True(t, g.Admit(greedy, &fakeConn{since: 6}), "b's eviction gave greedy its place back")
	assert.True(t, c.evicted)

	g.Forget(a)
	g.Forget(a) // twice is harmless
	assert.Equal(t, 3, g.Open())
	g.Close()
	assert.True(t, d.evicted && e.evicted, "Close evicts every open one")
	assert.False(t, g.Admit(other, &fakeConn{}), "nothing gets in after Close")
}
