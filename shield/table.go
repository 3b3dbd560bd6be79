package shield

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTableSize is the number of (client, rule) rate-limit entries a
// Table holds when its size is not set: about 12 MB (some 120 bytes an
// entry), where a 10m nginx zone holds some 80 000.
const DefaultTableSize = 100_000

// tableShards spreads clients over independently locked parts. A power of
// two.
const tableShards = 16

// Table holds the rate-limit state of every client, for every Shield built
// on it: one process-wide Table outlives reloads, so a client's excess
// survives a new configuration. It holds at most Size entries (one per
// client and rate-limited rule; Size rounded up to a multiple of 16, its
// shards); past that the least recently seen entry of the client's shard
// is forgotten. Its methods are safe for concurrent use.
type Table struct {
	epoch   time.Time // ms are counted from here
	size    atomic.Int64
	evicted atomic.Uint64
	shards  [tableShards]tableShard
}

type tableShard struct {
	mu    sync.Mutex
	m     map[tableKey]*entry
	head  entry // sentinel of the LRU list: head.next is the most recent
	limit int   // entries this shard may hold
	_     [40]byte
}

type tableKey struct {
	rule   uint64
	client clientKey
}

// entry is nginx's ngx_http_limit_req_node_t: the excess in thousandths of
// a request, at last (ms since the table's epoch).
type entry struct {
	key          tableKey
	excess, last int64
	prev, next   *entry
}

// NewTable returns a Table holding at most size entries; 0 or less means
// DefaultTableSize.
func NewTable(size int) *Table {
	t := &Table{epoch: time.Now()}
	for i := range t.shards {
		s := &t.shards[i]
		s.m = map[tableKey]*entry{}
		s.head.next, s.head.prev = &s.head, &s.head
	}
	t.SetSize(size)
	return t
}

// SetSize changes how many entries the table holds; 0 or less means
// DefaultTableSize. Shrinking forgets the least recently seen entries at
// their shard's next insertion.
func (t *Table) SetSize(n int) {
	if n <= 0 {
		n = DefaultTableSize
	}
	t.size.Store(int64(n))
	per := max((n+tableShards-1)/tableShards, 1)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.limit = per
		s.mu.Unlock()
	}
}

// Size returns how many entries the table holds at most.
func (t *Table) Size() int { return int(t.size.Load()) }

// Len returns how many entries the table holds now.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Evicted returns how many entries were forgotten to make room since the
// table was made. A growing count under normal traffic means the table is
// too small: forgotten clients start afresh.
func (t *Table) Evicted() uint64 { return t.evicted.Load() }

// ms returns now in milliseconds since the table's epoch, rounded down.
func (t *Table) ms(now time.Time) int64 {
	d := now.Sub(t.epoch)
	ms := int64(d / time.Millisecond)
	if d < 0 && d%time.Millisecond != 0 {
		ms--
	}
	return ms
}

// maxLimits is how many rate-limited rules one request may match: the
// rules of a site are capped at maxRules.
const maxLimits = maxRules

// admit applies limits ls, in order, to one request of client at now, as
// nginx's limit_req handler does for the limits of a location: if any limit
// would take its excess above its burst, the request is rejected and no
// limit is charged (reject names the limit, retry says when to come back);
// otherwise every limit is charged and delay is the longest wait any of
// them asks for.
func (t *Table) admit(client clientKey, ls []*limit, now time.Time) (reject *limit, retry, delay time.Duration) {
	ms := t.ms(now)
	s := &t.shards[client.shard(tableShards)]
	var next [maxLimits]int64
	var found [maxLimits]*entry
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range ls {
		e := s.m[tableKey{rule: l.id, client: client}]
		found[i] = e
		if e == nil {
			next[i] = 0 // nginx: a new node starts with excess 0
			continue
		}
		s.touch(e)
		next[i] = l.next(e.excess, e.last, ms)
		if next[i] > l.burst {
			return l, l.retryAfter(e.excess, e.last, ms), 0
		}
	}
	// Entries found first: an insertion into a tiny shard may forget them.
	for i, l := range ls {
		if e := found[i]; e != nil {
			e.excess = next[i]
			if ms > e.last { // nginx: "if (ms) lr->last = now", ms clamped at 0
				e.last = ms
			}
		}
		delay = max(delay, l.delayFor(next[i]))
	}
	for i, l := range ls {
		if found[i] == nil {
			e := s.insert(t, tableKey{rule: l.id, client: client})
			e.excess, e.last = next[i], ms
		}
	}
	return nil, 0, delay
}

// touch moves e to the front of the LRU list.
func (s *tableShard) touch(e *entry) {
	if s.head.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	s.pushFront(e)
}

func (s *tableShard) pushFront(e *entry) {
	e.prev, e.next = &s.head, s.head.next
	s.head.next.prev = e
	s.head.next = e
}

// insert adds an entry for k, forgetting the least recently seen entries
// while the shard is full (their memory is reused).
func (s *tableShard) insert(t *Table, k tableKey) *entry {
	var e *entry
	for len(s.m) >= s.limit {
		old := s.head.prev
		old.prev.next, old.next.prev = old.next, old.prev
		delete(s.m, old.key)
		t.evicted.Add(1)
		e = old
	}
	if e == nil {
		e = new(entry)
	}
	*e = entry{key: k}
	s.m[k] = e
	s.pushFront(e)
	return e
}
