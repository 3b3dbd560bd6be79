package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 16's differential test: for a corpus of HTTP/2 requests (the
// smuggling battery's included), the HTTP/1.1 request the backend receives
// is byte-identical whichever HTTP/2 server (server.http2 = "go" or
// "tlsfront") received it, except where tlsfront's own server is stricter
// on purpose (h2Stricter).

// recRequest is one request as a backend received it: the head's bytes,
// the body's bytes as framed (Content-Length bytes, or the chunked coding
// as sent), the body decoded, and whether the body arrived whole.
type recRequest struct {
	head     string
	raw      []byte
	body     []byte
	chunked  bool
	complete bool
}

// recBackend records every request it gets, by the case prefix of its
// target ("/d07"; "" for targets without one), and answers 200 "ok".
type recBackend struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs map[string][]recRequest
}

func startRecBackend(t *testing.T) *recBackend {
	t.Helper()
	b := &recBackend{reqs: map[string][]recRequest{}}
	b.ln = serveRaw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			r, ok := readRecRequest(br, c)
			if r.head == "" {
				return
			}
			key := ""
			if f := strings.Fields(strings.SplitN(r.head, "\n", 2)[0]); len(f) == 3 && len(f[1]) >= 4 && strings.HasPrefix(f[1], "/d") {
				key = f[1][:4]
			}
			b.mu.Lock()
			b.reqs[key] = append(b.reqs[key], r)
			b.mu.Unlock()
			if !ok {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return b
}

// readRecRequest reads one request head and its body by the head's
// framing; ok is false when the connection ended before the request did.
func readRecRequest(br *bufio.Reader, w io.Writer) (r recRequest, ok bool) {
	var head strings.Builder
	length, expect := int64(0), false
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			r.head = head.String()
			return r, false
		}
		if line == "\r\n" {
			break
		}
		name, value, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.ParseInt(value, 10, 64)
		case "transfer-encoding":
			r.chunked = strings.EqualFold(value, "chunked")
		case "expect":
			expect = strings.EqualFold(value, "100-continue")
		}
	}
	r.head = head.String()
	if expect {
		io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\n")
	}
	var raw bytes.Buffer
	tee := io.TeeReader(br, &raw)
	defer func() { r.raw = raw.Bytes() }()
	if !r.chunked {
		r.body = make([]byte, length)
		if _, err := io.ReadFull(tee, r.body); err != nil {
			return r, false
		}
		r.complete = true
		return r, true
	}
	tr := bufio.NewReader(tee)
	for {
		line, err := tr.ReadString('\n')
		if err != nil {
			return r, false
		}
		size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
		if err != nil {
			return r, false
		}
		if size == 0 {
			for { // trailers, then the empty line
				line, err := tr.ReadString('\n')
				if err != nil {
					return r, false
				}
				if line == "\r\n" {
					r.complete = true
					return r, true
				}
			}
		}
		chunk := make([]byte, size+2)
		if _, err := io.ReadFull(tr, chunk); err != nil {
			return r, false
		}
		r.body = append(r.body, chunk[:size]...)
	}
}

func (b *recBackend) get(key string) []recRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recRequest(nil), b.reqs[key]...)
}

func (b *recBackend) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.reqs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diffCases are ordinary and awkward but valid requests, added to the
// smuggling battery for the differential test.
var diffCases = []h2Case{
	{"query", h2Req("GET", "{p}/a?x=1&y=%20z&y=2"), nil, nil, nil, ""},
	{"encoded path", h2Req("GET", "{p}/%7Euser/%E2%82%AC/a%2Fb"), nil, nil, nil, ""},
	{"many fields, names repeated and out of order", h2Req("GET", "{p}/a",
		[2]string{"x-b", "2"}, [2]string{"accept", "text/html"}, [2]string{"x-a", "1"}, [2]string{"x-b", "3"},
		[2]string{"user-agent", "diff/1.0"}, [2]string{"accept-encoding", "gzip, br"}, [2]string{"accept-language", "de, en;q=0.5"}),
		nil, nil, nil, ""},
	{"cookie crumbs", h2Req("GET", "{p}/a", [2]string{"cookie", "a=1"}, [2]string{"x-z", "z"}, [2]string{"cookie", "b=2"}, [2]string{"cookie", "c=3"}), nil, nil, nil, ""},
	{"empty value", h2Req("GET", "{p}/a", [2]string{"x-empty", ""}), nil, nil, nil, ""},
	{"value with inner spaces and tabs", h2Req("GET", "{p}/a", [2]string{"x-s", "a  b\tc"}), nil, nil, nil, ""},
	{"long value", h2Req("GET", "{p}/a", [2]string{"x-long", strings.Repeat("v", 8000)}), nil, nil, nil, ""},
	{"non-ASCII value", h2Req("GET", "{p}/a", [2]string{"x-u", "caf\xc3\xa9"}), nil, nil, nil, ""},
	{"authority with port", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost:443"}, {":path", "{p}/a"}}, nil, nil, nil, ""},
	{"host instead of authority", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "{p}/a"}, {"host", "localhost"}}, nil, nil, nil, ""},
	{"authority and same host", h2Req("GET", "{p}/a", [2]string{"host", "localhost"}), nil, nil, nil, ""},
	{"HEAD", h2Req("HEAD", "{p}/a"), nil, nil, nil, ""},
	{"OPTIONS", h2Req("OPTIONS", "{p}/a"), nil, nil, nil, ""},
	{"DELETE", h2Req("DELETE", "{p}/a"), nil, nil, nil, ""},
	{"extension method", h2Req("PROPFIND", "{p}/a", [2]string{"depth", "1"}), nil, nil, nil, ""},
	{"PUT with length, body in three frames", h2Req("PUT", "{p}/a", [2]string{"content-length", "15"}), []string{"hello", "there", "world"}, nil, nil, ""},
	{"POST without length", h2Req("POST", "{p}/a", [2]string{"content-type", "text/plain"}), []string{"chunked towards the backend"}, nil, nil, ""},
	{"POST with length 0", h2Req("POST", "{p}/a", [2]string{"content-length", "0"}), nil, nil, nil, ""},
	{"POST with expect", h2Req("POST", "{p}/a", [2]string{"content-length", "5"}, [2]string{"expect", "100-continue"}), []string{"hello"}, nil, nil, ""},
	{"forwarding claims", h2Req("GET", "{p}/a", [2]string{"x-forwarded-for", "6.6.6.6"}, [2]string{"x-real-ip", "6.6.6.6"},
		[2]string{"forwarded", "for=6.6.6.6"}, [2]string{"client-ip", "6.6.6.6"}, [2]string{"x-forwarded-proto", "http"}), nil, nil, nil, ""},
	{"invalid names", h2Req("GET", "{p}/a", [2]string{"x_real_ip", "6.6.6.6"}, [2]string{"x.forwarded.for", "6.6.6.6"}), nil, nil, nil, ""},
	{"mod_ssl variable names", h2Req("GET", "{p}/a", [2]string{"ssl-client-verify", "SUCCESS"}, [2]string{"ssl_client_s_dn", "CN=admin"}), nil, nil, nil, ""},
	{"hop-by-hop te trailers and via", h2Req("GET", "{p}/a", [2]string{"te", "trailers"}, [2]string{"via", "1.1 other"}), nil, nil, nil, ""},
}

// h2Stricter lists the corpus requests net/http's HTTP/2 server passes to
// the request path (which forwards them) and tlsfront's own server
// refuses as malformed (RFC 9113 §8.1.1, §8.2.2, §8.3.1), with why. For
// these the backend gets nothing through tlsfront's server.
var h2Stricter = map[string]string{
	"content-length above DATA":       "the DATA frames do not add up to content-length: malformed, reset; a backend request begun is aborted",
	"content-length below DATA":       "as above",
	"content-length below split DATA": "as above",
	"content-length twice":            "two content-length fields: malformed (net/http frames by the first)",
	"authority and host differ":       "a host field naming another authority than :authority: malformed (RFC 9113 §8.3.1 SHOULD)",
}

// expectLine is the one field line by which the two servers' requests
// differ on purpose: net/http's HTTP/2 server consumes "Expect:
// 100-continue" (it answers 100 itself at the handler's first body read and
// deletes the field), so Apache never learns the client waits; tlsfront's
// server leaves the expectation to the request path, which forwards it and
// relays Apache's answer, exactly as for HTTP/1.1 clients: Apache can refuse
// the body (401, 413) before the client uploads it.
const expectLine = "Expect: 100-continue\r\n"

// TestHTTP2Differential sends every corpus request to a front running
// net/http's HTTP/2 server and to one running tlsfront's, each in front of
// a recording backend, and compares what the two backends got.
func TestHTTP2Differential(t *testing.T) {
	t.Parallel()
	corpus := append(append([]h2Case{}, h2Cases...), diffCases...)
	backends := map[string]*recBackend{}
	fronts := map[string]*hostileFront{}
	for _, h2 := range h2Servers {
		backends[h2] = startRecBackend(t)
		fronts[h2] = startHostile(t, hostileOptions{Backend: "http://" + backends[h2].ln.Addr().String(), HTTP2: h2, MaxIdleConns: 8})
		defer leakCheck(t, fronts[h2], 8)()
	}
	outcomes := map[string][]string{}
	var mu sync.Mutex
	t.Run("cases", func(t *testing.T) {
		for i, c := range corpus {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				p := fmt.Sprintf("/d%02d", i)
				fields := make([][2]string, len(c.fields))
				for j, kv := range c.fields {
					fields[j] = [2]string{kv[0], strings.ReplaceAll(kv[1], "{p}", p)}
				}
				// The same request to both, one after the other.
				var got []string
				for _, h2 := range h2Servers {
					got = append(got, h2Exchange(t, fronts[h2].HTTPSAddr, fields, c.data))
				}
				mu.Lock()
				outcomes[c.name] = got
				mu.Unlock()
			})
		}
	})

	same, stricter := 0, 0
	for i, c := range corpus {
		p := fmt.Sprintf("/d%02d", i)
		goReqs, ownReqs := backends["go"].get(p), backends["tlsfront"].get(p)
		t.Logf("%-46s go %-10s tlsfront %-10s backend: %d, %d", c.name, outcomes[c.name][0], outcomes[c.name][1], len(goReqs), len(ownReqs))
		if why, ok := h2Stricter[c.name]; ok {
			stricter++
			// A body refused by its DATA frames may find its request begun
			// (tlsfront streams bodies, as for HTTP/1.1): the backend may
			// have the head, never the whole request.
			for _, o := range ownReqs {
				if o.complete || !strings.Contains(c.name, "DATA") {
					t.Errorf("%s: tlsfront's server is listed as refusing it (%s), but the backend got %q (complete %v)", c.name, why, o.head, o.complete)
				}
			}
			if len(goReqs) == 0 {
				t.Errorf("%s: listed as stricter, but net/http's server does not forward it either: drop it from h2Stricter", c.name)
			}
			continue
		}
		if len(goReqs) != len(ownReqs) {
			t.Errorf("%s: the backend got %d requests through net/http's server, %d through tlsfront's", c.name, len(goReqs), len(ownReqs))
			continue
		}
		for j := range goReqs {
			g, o := goReqs[j], ownReqs[j]
			if c.name == "POST with expect" {
				if !strings.Contains(o.head, expectLine) || strings.Contains(g.head, expectLine) {
					t.Errorf("%s: want %q forwarded through tlsfront's server only (see expectLine)", c.name, expectLine)
				}
				o.head = strings.Replace(o.head, expectLine, "", 1)
			}
			if g.head != o.head {
				t.Errorf("%s: the heads differ\nthrough net/http's server:\n%s\nthrough tlsfront's:\n%s", c.name, g.head, o.head)
			}
			// A Content-Length body is compared as sent; a chunked one
			// decoded, as its chunk sizes follow the DATA frames' arrival.
			if !g.chunked && !bytes.Equal(g.raw, o.raw) || !bytes.Equal(g.body, o.body) || g.complete != o.complete {
				t.Errorf("%s: the bodies differ: %q (complete %v) through net/http's server, %q (complete %v) through tlsfront's",
					c.name, g.raw, g.complete, o.raw, o.complete)
			}
		}
		if len(goReqs) > 0 {
			same++
		}
	}
	// Nothing reached either backend that no case sent.
	for h2, b := range backends {
		for _, k := range b.keys() {
			if k != "" && strings.HasPrefix(k, "/d") {
				continue
			}
			for _, r := range b.get(k) {
				if !strings.HasPrefix(r.head, "GET /?itest-ready-leak-check ") {
					t.Errorf("server.http2 = %q: the backend got a request no case sent: %q", h2, r.head)
				}
			}
		}
	}
	t.Logf("%d requests reached the backend byte-identical through both servers; %d refused by tlsfront's only (h2Stricter)", same, stricter)
	if same < len(diffCases) {
		t.Errorf("only %d requests reached the backend through both servers: the comparison proves little", same)
	}
}
