package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestAttackVectors runs every attackVector through wire (as an engine
// reads a connection) and through net/http, and classifies it:
//
//   - both refuse: fine;
//   - wire refuses a request net/http accepts: stricter, fine, listed in
//     the log;
//   - wire accepts a request: it must frame it exactly as net/http does
//     (same method, target, Host, body, and the same end in the stream, so
//     no byte is left over for a backend to read as another request), and
//     what the engine sends on (reserialise) must be one unambiguous
//     message: read back whole by wire and by net/http as exactly that
//     request with nothing left over, and re-serialised to the same bytes.
//
// Anything else is a bug and fails the vector's subtest.
func TestAttackVectors(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range attackVectors {
		if seen[v.name] {
			t.Fatalf("two vectors named %q", v.name)
		}
		seen[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			c := classify([]byte(v.data))
			t.Logf("wire: %s | net/http: %s | %s", c.wire, c.goRes, c.verdict)
			for _, b := range c.bugs {
				t.Error(b)
			}
		})
	}
}

// classification is the outcome of one vector.
type classification struct {
	w, g    streamResult
	wire    string // what wire did, for the table
	goRes   string // what net/http did
	verdict string
	bugs    []string
	// forward is what the engine sends on for each request wire accepted.
	forward [][]byte
}

func describeWire(s streamResult) string {
	out := fmt.Sprintf("%d req", len(s.Msgs))
	var e *Error
	switch {
	case errors.As(s.Err, &e):
		out += fmt.Sprintf(", then %d %s", e.Status, e.Reason)
	case s.Err != nil:
		out += ", then " + s.Err.Error()
	case s.Short:
		out += ", then waits for more"
	}
	return out
}

func describeGo(s streamResult) string {
	out := fmt.Sprintf("%d req", len(s.Msgs))
	switch {
	case s.Err != nil:
		out += ", then refuses: " + s.Err.Error()
	case s.Short:
		out += ", then waits for more"
	}
	return out
}

// sameMessage reports how two readers' framings of one request differ.
func sameMessage(w, g message) string {
	if w.Method != g.Method || w.Target != g.Target || w.Minor != g.Minor || w.Host != g.Host ||
		!bytes.Equal(w.Body, g.Body) || w.Close != g.Close || w.End != g.End {
		return fmt.Sprintf("wire read %v close=%v, net/http %v close=%v", w, w.Close, g, g.Close)
	}
	return ""
}

func classify(data []byte) classification {
	c := classification{w: wireStream([][]byte{data}), g: goStream(data)}
	c.wire, c.goRes = describeWire(c.w), describeGo(c.g)
	bug := func(format string, args ...any) { c.bugs = append(c.bugs, fmt.Sprintf(format, args...)) }

	n := min(len(c.w.Msgs), len(c.g.Msgs))
	for i := 0; i < n; i++ {
		if d := sameMessage(c.w.Msgs[i], c.g.Msgs[i]); d != "" {
			bug("request %d framed differently (desync): %s", i, d)
		}
	}
	switch {
	case len(c.w.Msgs) > len(c.g.Msgs):
		bug("wire accepts request %d (%v), net/http does not: %s", n, c.w.Msgs[n], c.goRes)
	case len(c.w.Msgs) < len(c.g.Msgs) && c.w.Short:
		bug("wire waits for more bytes in request %d, net/http reads it whole: %v", n, c.g.Msgs[n])
	case len(c.w.Msgs) < len(c.g.Msgs):
		c.verdict = fmt.Sprintf("stricter (request %d)", n)
	case c.w.Short && c.g.Err != nil:
		// wire checks a head once it is whole (HeadEnd, then Parse), so
		// it waits where net/http refuses a first line as soon as it has
		// it: not a desync, since wire never accepts what it waits on
		// unless the rest makes it valid (checked with whole inputs).
		c.verdict = "net/http refuses sooner (wire waits for the whole head or chunk line)"
	case c.w.Err != nil && c.g.Err != nil:
		c.verdict = "both refuse"
		if n > 0 {
			c.verdict = fmt.Sprintf("same %d, then both refuse", n)
		}
	case c.w.Err != nil && c.g.Short:
		c.verdict = "stricter (net/http waits)"
	case c.w.Err == nil && !c.w.Short && c.g.Err != nil:
		bug("wire ends cleanly after %d requests, net/http refuses: %v", n, c.g.Err)
	case c.w.Short && c.g.Short:
		c.verdict = fmt.Sprintf("same %d, then both wait", n)
	default:
		c.verdict = fmt.Sprintf("same %d", n)
	}

	for i, m := range c.w.Msgs {
		b := reserialise(m)
		c.forward = append(c.forward, b)
		for _, d := range checkForwarded(m, b) {
			bug("request %d as sent on, %q: %s", i, b, d)
		}
	}
	if len(c.bugs) > 0 {
		c.verdict = "BUG"
	}
	return c
}

// checkForwarded checks that b, what the engine sends on for m, is one
// unambiguous message.
func checkForwarded(m message, b []byte) []string {
	var out []string
	target := m.req.Path
	if m.req.Form == FormAuthority {
		target = m.req.Target
	}
	host := m.Host
	if host == "" {
		host = backendHost
	}
	want := message{Method: m.Method, Target: target, Minor: 1, Host: host, Body: m.Body, End: len(b)}
	w := wireStream([][]byte{b})
	if len(w.Msgs) != 1 || w.Err != nil || w.Short {
		out = append(out, "wire reads it as "+describeWire(w))
	} else {
		got := w.Msgs[0]
		want.Close = got.Close
		if d := sameMessage(got, want); d != "" {
			out = append(out, "wire reads it back differently: "+d)
		}
		if again := reserialise(got); !bytes.Equal(again, b) {
			out = append(out, fmt.Sprintf("not a fixpoint: re-serialised again as %q", again))
		}
	}
	g := goStream(b)
	if len(g.Msgs) != 1 || g.Err != nil || g.Short {
		out = append(out, "net/http reads it as "+describeGo(g))
	} else {
		got := g.Msgs[0]
		want.Close = got.Close
		if d := sameMessage(got, want); d != "" {
			out = append(out, "net/http reads it differently: "+d)
		}
	}
	return out
}

// TestAttackVectorsInPieces feeds every vector to wire split at every
// position (two reads), one byte per read, and one byte per read with an
// empty read before each: the requests read and the final refusal must be
// the same as from one read, since a client chooses where its bytes are
// cut.
func TestAttackVectorsInPieces(t *testing.T) {
	for _, v := range attackVectors {
		data := []byte(v.data)
		whole := wireStream([][]byte{data})
		// Every split point within the first 4 KiB (the long vectors are
		// cut one byte per read below anyway).
		for i := 0; i <= min(len(data), 4096); i++ {
			if d := sameStream(whole, wireStream([][]byte{data[:i], data[i:]})); d != "" {
				t.Errorf("%s: whole vs split at %d: %s", v.name, i, d)
				break
			}
		}
		if d := sameStream(whole, wireStream(pieces(data, 1, false))); d != "" {
			t.Errorf("%s: whole vs one byte per read: %s", v.name, d)
		}
		if d := sameStream(whole, wireStream(pieces(data, 1, true))); d != "" {
			t.Errorf("%s: whole vs one byte per read with empty reads: %s", v.name, d)
		}
	}
}

// pieces cuts data into reads of size bytes, each preceded by an empty read
// when empties is set.
func pieces(data []byte, size int, empties bool) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		k := min(size, len(data))
		if empties {
			out = append(out, []byte{})
		}
		out = append(out, data[:k])
		data = data[k:]
	}
	return out
}

// attackTable formats the classifications as a table, for the report.
func attackTable(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
