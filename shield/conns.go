package shield

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Conns counts the open connections of each client (an IPv4 address or an
// IPv6 /64) and refuses one past server.max_conns_per_client. A client is
// held only while it has connections open, so its memory is bounded by the
// connections open. Its methods are safe for concurrent use; one Conns
// serves the process and outlives reloads (which may change the limit).
type Conns struct {
	max     atomic.Int64
	refused atomic.Uint64
	shards  [tableShards]connShard
}

type connShard struct {
	mu sync.Mutex
	m  map[clientKey]int32
	_  [48]byte
}

// NewConns returns a Conns allowing max connections per client; 0 means
// unlimited (connections are still counted, so a limit set later applies
// to those already open).
func NewConns(max int) *Conns {
	c := &Conns{}
	for i := range c.shards {
		c.shards[i].m = map[clientKey]int32{}
	}
	c.SetMax(max)
	return c
}

// SetMax changes the limit; 0 or less means unlimited. Lowering it closes
// nothing: a client over it is refused new connections until enough of
// its own have closed.
func (c *Conns) SetMax(n int) { c.max.Store(int64(max(n, 0))) }

// Max returns the limit; 0 means unlimited.
func (c *Conns) Max() int { return int(c.max.Load()) }

// Acquire counts a new connection from a and reports whether it is within
// the limit. Only a connection Acquire accepted is Released.
func (c *Conns) Acquire(a netip.Addr) bool {
	k := keyOf(a)
	s := &c.shards[k.shard(tableShards)]
	limit := c.max.Load()
	s.mu.Lock()
	n := s.m[k]
	if limit > 0 && int64(n) >= limit {
		s.mu.Unlock()
		c.refused.Add(1)
		return false
	}
	s.m[k] = n + 1
	s.mu.Unlock()
	return true
}

// Release uncounts a connection Acquire accepted.
func (c *Conns) Release(a netip.Addr) {
	k := keyOf(a)
	s := &c.shards[k.shard(tableShards)]
	s.mu.Lock()
	if n := s.m[k]; n > 1 {
		s.m[k] = n - 1
	} else {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

// Clients returns how many clients have connections open.
func (c *Conns) Clients() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Open returns how many connections client a has open.
func (c *Conns) Open(a netip.Addr) int {
	k := keyOf(a)
	s := &c.shards[k.shard(tableShards)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[k])
}

// Refused returns how many connections were refused since the start.
func (c *Conns) Refused() uint64 { return c.refused.Load() }
