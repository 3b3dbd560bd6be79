package shield

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// clock is a settable time for Options.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

// limited builds a one-site shield with rules on a fresh table.
func limited(t testing.TB, c *clock, table *Table, rules ...Rule) *Shield {
	t.Helper()
	if table == nil {
		table = NewTable(0)
	}
	s, err := New(Options{Sites: []Site{{Name: "a.test", Rules: rules}}, Table: table, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// burstOf sends n requests at the current time and returns the decisions.
func burstOf(s *Shield, n int, path string, client netip.Addr) []Decision {
	var ds []Decision
	for range n {
		ds = append(ds, s.Check(0, path, client))
	}
	return ds
}

// verdicts writes decisions as a string: "." passed, "D" delayed, "L"
// limited.
func verdicts(ds []Decision) string {
	b := make([]byte, len(ds))
	for i, d := range ds {
		switch {
		case d.Verdict == Limit:
			b[i] = 'L'
		case d.Delay > 0:
			b[i] = 'D'
		case d.Verdict == Pass:
			b[i] = '.'
		default:
			b[i] = '?'
		}
	}
	return string(b)
}

var alice = netip.MustParseAddr("192.0.2.1")

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"10r/s", 10000, false},
		{"60r/m", 1000, false},
		{"1r/m", 16, false}, // nginx: 1 * 1000 / 60
		{"1000000r/s", 1e9, false},
		{"0r/s", 0, true},
		{"10r/h", 0, true},
		{"10 r/s", 0, true},
		{"-1r/s", 0, true},
		{"1.5r/s", 0, true},
		{"r/s", 0, true},
		{"10", 0, true},
		{"1000001r/s", 0, true},
	} {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestLimitReqArithmetic checks nginx's limit_req arithmetic, step by step
// with an injected clock: burst+1 requests at once, the drain in whole
// milliseconds, rejected requests costing nothing, Retry-After, delays.
func TestLimitReqArithmetic(t *testing.T) {
	t.Run("nodelay", func(t *testing.T) {
		c := newClock()
		s := limited(t, c, nil, Rule{Path: "/", Rate: "2r/s", Burst: 3})
		ds := burstOf(s, 10, "/", alice)
		if got := verdicts(ds); got != "....LLLLLL" {
			t.Fatalf("10 at once = %s, want 4 (burst+1) served at once, 6 limited", got)
		}
		if r := ds[4].RetryAfter; r != 500*time.Millisecond || ds[4].RetryAfterSeconds() != 1 || ds[4].Rule != "/" {
			t.Errorf("retry after %v (%ds), rule %q; want 500ms (1s), /", r, ds[4].RetryAfterSeconds(), ds[4].Rule)
		}
		c.advance(499 * time.Millisecond)
		if got := verdicts(burstOf(s, 1, "/", alice)); got != "L" {
			t.Errorf("after 499ms: %s, want still limited (excess 3002 > 3000)", got)
		}
		c.advance(time.Millisecond)
		if got := verdicts(burstOf(s, 2, "/", alice)); got != ".L" {
			t.Errorf("after 500ms: %s, want one served (half a second drains one request at 2r/s)", got)
		}
		c.advance(10 * time.Second)
		if got := verdicts(burstOf(s, 5, "/", alice)); got != "....L" {
			t.Errorf("after 10s idle: %s, want burst+1 again", got)
		}
	})
	t.Run("delay", func(t *testing.T) {
		c := newClock()
		s := limited(t, c, nil, Rule{Path: "/", Rate: "2r/s", Burst: 3, Delay: true})
		ds := burstOf(s, 5, "/", alice)
		if got := verdicts(ds); got != ".DDDL" {
			t.Fatalf("5 at once = %s, want 1 at once, 3 delayed, 1 limited", got)
		}
		for i, want := range []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond} {
			if ds[i].Delay != want {
				t.Errorf("request %d delayed %v, want %v (excess/rate)", i, ds[i].Delay, want)
			}
		}
	})
	t.Run("zero burst", func(t *testing.T) {
		c := newClock()
		s := limited(t, c, nil, Rule{Path: "/", Rate: "1r/m"})
		if got := verdicts(burstOf(s, 2, "/", alice)); got != ".L" {
			t.Fatalf("two at once = %s, want one", got)
		}
		c.advance(60 * time.Second) // 16 * 60000 / 1000 = 960 of 1000 drained
		if got := verdicts(burstOf(s, 1, "/", alice)); got != "L" {
			t.Errorf("after 60s: %s, want limited: 1r/m is 16/1000 per second in nginx's arithmetic", got)
		}
		c.advance(2500 * time.Millisecond)
		if got := verdicts(burstOf(s, 1, "/", alice)); got != "." {
			t.Errorf("after 62.5s: %s, want served", got)
		}
	})
	t.Run("clients apart, IPv6 by /64", func(t *testing.T) {
		c := newClock()
		s := limited(t, c, nil, Rule{Path: "/", Rate: "1r/s"})
		for _, tt := range []struct {
			a, b string
			same bool
		}{
			{"192.0.2.1", "192.0.2.2", false},
			{"192.0.2.3", "::ffff:192.0.2.3", true},
			{"2001:db8:0:1::1", "2001:db8:0:1:ffff::2", true},
			{"2001:db8:0:2::1", "2001:db8:0:3::1", false},
		} {
			first := s.Check(0, "/", netip.MustParseAddr(tt.a))
			second := s.Check(0, "/", netip.MustParseAddr(tt.b))
			if first.Verdict != Pass || (second.Verdict == Limit) != tt.same {
				t.Errorf("%s then %s: %v, %v; want the second limited: %v", tt.a, tt.b, first.Verdict, second.Verdict, tt.same)
			}
		}
	})
}

// TestSeveralLimits checks that every matching rule's limit applies, and a
// request one of them rejects is charged to none (nginx's limit_req with
// several zones in one location).
func TestSeveralLimits(t *testing.T) {
	c := newClock()
	s := limited(t, c, nil,
		Rule{Path: "/", Rate: "1r/s", Burst: 5},
		Rule{Path: "/login", Rate: "10r/s"},
	)
	if got := verdicts(burstOf(s, 3, "/login", alice)); got != ".LL" {
		t.Fatalf("/login x3 = %s, want .LL (10r/s, burst 0)", got)
	}
	// Rejected by /login, they cost "/" nothing: 5 more fit its burst.
	if got := verdicts(burstOf(s, 7, "/", alice)); got != ".....LL" {
		t.Errorf("/ x7 after = %s, want 5 served (burst 5 minus the one /login request) then limited", got)
	}
	c.advance(200 * time.Millisecond) // /login drained, / not yet
	ds := burstOf(s, 1, "/login", alice)
	if ds[0].Verdict != Limit || ds[0].Rule != "/" {
		t.Errorf("/login with / exhausted: %+v, want limited by rule /", ds[0])
	}
}

// TestTable checks the LRU bound, the size metric's numbers and that state
// survives a new Shield on the same table for an unchanged rule.
func TestTable(t *testing.T) {
	c := newClock()
	table := NewTable(64)
	s := limited(t, c, table, Rule{Path: "/", Rate: "1r/m"})
	for i := range 1000 {
		s.Check(0, "/", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	if n := table.Len(); n > 64 || n < 32 {
		t.Errorf("Len = %d after 1000 clients, want at most the size 64 (and most of it used)", n)
	}
	if table.Evicted() != uint64(1000-table.Len()) {
		t.Errorf("Evicted = %d, want %d", table.Evicted(), 1000-table.Len())
	}
	// The most recent client is remembered, one long gone is not.
	last := netip.AddrFrom4([4]byte{10, 0, 3, 231})
	if d := s.Check(0, "/", last); d.Verdict != Limit {
		t.Errorf("the last client again: %v, want limited (remembered)", d.Verdict)
	}
	if d := s.Check(0, "/", netip.AddrFrom4([4]byte{10, 0, 0, 0})); d.Verdict != Pass {
		t.Errorf("the first client again: %v, want served (forgotten)", d.Verdict)
	}

	// A reload: same site and path keep the state, with the new rate and
	// burst applied to it; another path starts afresh.
	reloaded := limited(t, c, table, Rule{Path: "/", Rate: "1r/m", Burst: 1}, Rule{Path: "/x", Rate: "1r/m"})
	if got := verdicts(burstOf(reloaded, 2, "/", last)); got != ".L" {
		t.Errorf("after reload, / = %s, want one more (burst 1 on the excess kept), then limited", got)
	}
	if got := verdicts(burstOf(reloaded, 1, "/x", netip.MustParseAddr("10.9.9.9"))); got != "." {
		t.Errorf("after reload, new rule /x = %s, want served", got)
	}
	renamed, err := New(Options{Sites: []Site{{Name: "b.test", Rules: []Rule{{Path: "/", Rate: "1r/m"}}}}, Table: table, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(burstOf(renamed, 1, "/", last)); got != "." {
		t.Errorf("another site's rule: %s, want its own state (served)", got)
	}
	table.SetSize(0)
	if table.Size() != DefaultTableSize {
		t.Errorf("SetSize(0): Size = %d, want %d", table.Size(), DefaultTableSize)
	}
}

func TestConns(t *testing.T) {
	c := NewConns(2)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	b2 := netip.MustParseAddr("2001:db8::2:1") // same /64
	got := fmt.Sprint(c.Acquire(a), c.Acquire(a), c.Acquire(a), c.Acquire(b), c.Acquire(b2), c.Acquire(b))
	if got != "true true false true true false" {
		t.Fatalf("acquires = %s, want two per client (IPv6 per /64)", got)
	}
	if c.Refused() != 2 || c.Clients() != 2 || c.Open(a) != 2 {
		t.Errorf("refused %d, clients %d, open %d; want 2, 2, 2", c.Refused(), c.Clients(), c.Open(a))
	}
	c.Release(a)
	if !c.Acquire(a) {
		t.Error("after a release the client is still refused")
	}
	c.SetMax(0)
	for range 10 {
		if !c.Acquire(a) {
			t.Fatal("refused with no limit")
		}
	}
	c.SetMax(3)
	if c.Acquire(a) {
		t.Error("a limit set later does not count the connections already open")
	}
	for range 12 {
		c.Release(a)
	}
	c.Release(b)
	c.Release(b2)
	if c.Clients() != 0 {
		t.Errorf("Clients = %d after every release, want 0 (nothing kept for closed clients)", c.Clients())
	}
}
