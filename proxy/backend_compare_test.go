package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tlsfront/wire"
)

// recordingBackend records every byte it receives, per connection, and
// answers each request with a fixed 200 (after a 100 Continue when asked).
type recordingBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	bytes map[int]*bytes.Buffer
}

func newRecordingBackend(t *testing.T) *recordingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &recordingBackend{ln: ln, bytes: map[int]*bytes.Buffer{}}
	var wg sync.WaitGroup
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec := &bytes.Buffer{}
			b.mu.Lock()
			b.bytes[n] = rec
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(io.TeeReader(c, lockedWriter{&b.mu, rec}))
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Header.Get("Expect") == "100-continue" {
						io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return b
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *recordingBackend) received() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var all []string
	for i := 0; i < len(b.bytes); i++ {
		all = append(all, b.bytes[i].String())
	}
	return strings.Join(all, "\n--- next connection ---\n")
}

// pieces is a body delivered in the given reads, as a client sends it.
type pieces struct{ p []string }

func (r *pieces) Read(b []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.p[0])
	r.p[0] = r.p[0][n:]
	if r.p[0] == "" {
		r.p = r.p[1:]
	}
	return n, nil
}

// recSink is a ResponseSink that keeps the response.
type recSink struct {
	status int
	body   bytes.Buffer
}

func (s *recSink) SetTimeouts(send, body time.Duration)         {}
func (s *recSink) Inform(status int, fields []wire.Field) error { return nil }
func (s *recSink) WriteHead(status int, reason string, fields []wire.Field, length int64) error {
	s.status = status
	return nil
}
func (s *recSink) Write(p []byte) (int, error)        { return s.body.Write(p) }
func (s *recSink) Flush() error                       { return nil }
func (s *recSink) Finish(trailers []wire.Field) error { return nil }
func (s *recSink) Abort()                             { s.status = -1 }
func (s *recSink) CloseAfter()                        {}
func (s *recSink) Watch(func())                       {}
func (s *recSink) Unwatch() bool                      { return false }

// sendOurs sends a request with the given backend fields through the
// backend client, as the request path does after building them.
func sendOurs(t *testing.T, h *Handler, r *Request, out []wire.Field) *recSink {
	t.Helper()
	s := &recSink{}
	x := &exchange{h: h, w: s, r: r, st: &h.sites[0]}
	x.out = append([]wire.Field(nil), out...)
	if r.Body != nil {
		x.body = limitedBody{r: r.Body}
	}
	if err := x.roundTrip(); err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Target, err)
	}
	x.respond()
	return s
}

// TestBackendWireIdentical holds tlsfront's backend client to
// http.Transport, the client it replaced: for the same request (method,
// target, Host, fields; bodies of known length, chunked in the pieces the
// client sent, announced with Expect: 100-continue), the bytes Apache
// receives are the same, byte for byte.
func TestBackendWireIdentical(t *testing.T) {
	fields := []wire.Field{ // canonical and sorted, as buildRequest leaves them
		{Name: "Accept", Value: "text/html,*/*;q=0.8"},
		{Name: "Accept-Encoding", Value: "gzip, deflate, br"},
		{Name: "Cookie", Value: "PHPSESSID=0123; lang=en"},
		{Name: "Forwarded", Value: "for=192.0.2.7;host=a.example;proto=https"},
		{Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64)"},
		{Name: "X-Forwarded-For", Value: "192.0.2.7"},
		{Name: "X-Forwarded-Host", Value: "a.example"},
		{Name: "X-Forwarded-Proto", Value: "https"},
		{Name: "X-Multi", Value: "1"},
		{Name: "X-Multi", Value: "2"},
		{Name: "X-Real-Ip", Value: "192.0.2.7"},
	}
	noUA := append(append([]wire.Field(nil), fields[:4]...), fields[5:]...)
	for _, tc := range []struct {
		name, method, target string
		fields               []wire.Field
		body                 []string // nil: no body
		length               int64    // -1: unknown (chunked)
		expect               bool
	}{
		{"GET", "GET", "/index.php?id=1&q=a%20b", fields, nil, 0, false},
		{"GET without User-Agent", "GET", "/", noUA, nil, 0, false},
		{"HEAD", "HEAD", "/big.iso", fields, nil, 0, false},
		{"OPTIONS", "OPTIONS", "/", fields, nil, 0, false},
		{"DELETE", "DELETE", "/item/1", fields, nil, 0, false},
		{"POST without body", "POST", "/form", fields, nil, 0, false},
		{"POST length", "POST", "/form", fields, []string{"a=1&", "b=2"}, 7, false},
		{"PUT length, large", "PUT", "/upload", fields, []string{strings.Repeat("x", 40000), strings.Repeat("y", 30000)}, 70000, false},
		{"POST chunked", "POST", "/stream", fields, []string{"hello ", "chunked ", "world"}, -1, false},
		{"POST length, 100-continue", "POST", "/form", append([]wire.Field{{Name: "Expect", Value: "100-continue"}}, fields...), []string{"a=1"}, 3, true},
		{"PATCH chunked, 100-continue", "PATCH", "/p", append([]wire.Field{{Name: "Expect", Value: "100-continue"}}, fields...), []string{"x", "yz"}, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire.SortFields(tc.fields)
			// http.Transport, as httputil.ReverseProxy used it.
			ref := newRecordingBackend(t)
			tr := &http.Transport{DisableCompression: true, ExpectContinueTimeout: time.Second}
			defer tr.CloseIdleConnections()
			path, query, _ := strings.Cut(tc.target, "?")
			req := &http.Request{Method: tc.method, Host: "a.example", Header: http.Header{},
				URL: &url.URL{Scheme: "http", Host: ref.ln.Addr().String(), Opaque: path, RawQuery: query}}
			for _, f := range tc.fields {
				req.Header[f.Name] = append(req.Header[f.Name], f.Value)
			}
			if req.Header["User-Agent"] == nil {
				req.Header["User-Agent"] = []string{""} // ReverseProxy: no Go default
			}
			if tc.body != nil {
				req.Body = io.NopCloser(&pieces{append([]string(nil), tc.body...)})
				req.ContentLength = tc.length
			}
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()

			// tlsfront's backend client.
			got := newRecordingBackend(t)
			h := newHandler(t, "http://"+got.ln.Addr().String())
			r := &Request{Method: tc.method, Authority: "a.example", Target: tc.target, Proto: "HTTP/1.1", Start: time.Now()}
			if tc.body != nil {
				r.Body, r.ContentLength = &pieces{append([]string(nil), tc.body...)}, tc.length
			}
			if tc.expect {
				r.Expect = wire.ExpectContinue
			}
			s := sendOurs(t, h, r, tc.fields)
			if s.status != 200 || s.body.String() != "ok" && tc.method != "HEAD" {
				t.Errorf("response %d %q", s.status, s.body.String())
			}
			time.Sleep(20 * time.Millisecond) // the backend's reads are done
			if a, b := ref.received(), got.received(); a != b {
				t.Errorf("http.Transport sent:\n%q\ntlsfront sent:\n%q", a, b)
			}
		})
	}
}
