package proxy

// The request rules of RFC 9113 §8 and issue 13, one raw request each: what
// is malformed is reset with PROTOCOL_ERROR before any handler runs; what
// is refused reaches the handler with Refuse set and nothing else.

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// recordingHandler passes each request, its body and trailers on, and
// answers 200, or Refuse.
type recordingHandler struct{ got chan recorded }

type recorded struct {
	H2Request
	body     string
	bodyErr  error
	trailers []H2Field
}

func (h *recordingHandler) ServeH2(w H2ResponseWriter, r *H2Request) {
	rec := recorded{H2Request: *r}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		rec.body, rec.bodyErr, rec.trailers = string(b), err, r.Body.Trailers()
	}
	h.got <- rec
	status := 200
	if r.Refuse != 0 {
		status = r.Refuse
	}
	_ = w.WriteHead(status, nil, true)
}

func TestH2RequestRules(t *testing.T) {
	verifyNoLeaksH2(t)
	h := &recordingHandler{got: make(chan recorded, 1)}
	hs := startH2(t, h, H2Options{})
	base := []string{":method", "GET", ":scheme", "https", ":authority", "a.test", ":path", "/"}
	with := func(kv ...string) []string { return append(append([]string(nil), base...), kv...) }
	replace := func(name, value string) []string {
		out := append([]string(nil), base...)
		for i := 0; i < len(out); i += 2 {
			if out[i] == name {
				out[i+1] = value
			}
		}
		return out
	}
	cases := []struct {
		name   string
		fields []string
		status int // 0: PROTOCOL_ERROR reset, no handler
	}{
		{"plain GET", base, 200},
		{"uppercase name", with("X-Up", "1"), 0},
		{"connection", with("connection", "close"), 0},
		{"keep-alive", with("keep-alive", "5"), 0},
		{"transfer-encoding", with("transfer-encoding", "chunked"), 0},
		{"upgrade", with("upgrade", "h2c"), 0},
		{"proxy-connection", with("proxy-connection", "x"), 0},
		{"te trailers", with("te", "trailers"), 200},
		{"te gzip", with("te", "gzip"), 0},
		{"value with LF", with("x-a", "1\nx-b: 2"), 0},
		{"value with NUL", with("x-a", "1\x00"), 0},
		{"value with leading space", with("x-a", " 1"), 0},
		{"name with space", with("x a", "1"), 0},
		{"empty name", with("", "1"), 0},
		{"no :method", base[2:], 0},
		{"no :path", base[:6], 0},
		{"empty :path", replace(":path", ""), 0},
		{"two :path", with(":path", "/x"), 0},
		{":status in a request", with(":status", "200"), 0},
		{":protocol", with(":protocol", "websocket"), 0},
		{"pseudo after regular", append([]string{"x-a", "1"}, base...), 0},
		{"invalid :method", replace(":method", "GE T"), 0},
		{"content-length not a number", with("content-length", "1x"), 0},
		{"content-length without body", with("content-length", "5"), 0},
		{"two content-length", with("content-length", "0", "content-length", "0"), 0},
		{"host differs from :authority", with("host", "b.test"), 0},
		{"host instead of :authority", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a.test"}, 200},
		{"two host fields", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a.test", "host", "a.test"}, 0},
		{"CONNECT", []string{":method", "CONNECT", ":authority", "a.test:443"}, 405},
		{"CONNECT with :path", []string{":method", "CONNECT", ":authority", "a.test:443", ":path", "/"}, 0},
		{"scheme http", replace(":scheme", "http"), 400},
		// Issue 13: the authority routed on is the one sent, validated once.
		{"fullwidth authority", replace(":authority", "ｂ.test"), 400},
		{"authority with path", replace(":authority", "b.test/x"), 400},
		{"authority two ports", replace(":authority", "b.test:80:80"), 400},
		{"authority list", replace(":authority", "b.test,a.test"), 400},
		{"authority userinfo", replace(":authority", "u@b.test"), 400},
		{"empty authority", replace(":authority", ""), 400},
		// Issue 13: a target that would end the request line early.
		{"path with spaces", replace(":path", "/q?a HTTP/1.0 x"), 400},
		{"path with tab", replace(":path", "/q\tx"), 400},
		{"asterisk path", replace(":path", "*"), 400},
		{"absolute path", replace(":path", "http://b.test/"), 400},
	}
	r := dialRaw(t, hs)
	id := uint32(1)
	for _, tc := range cases {
		r.headers(id, true, r.block(tc.fields...))
		code, status := h2Outcome(t, r, id)
		switch {
		case tc.status == 0 && code != http2.ErrCodeProtocol:
			t.Errorf("%s: %v status %s, want a PROTOCOL_ERROR reset", tc.name, code, status)
		case tc.status != 0 && status != itoa3(tc.status):
			t.Errorf("%s: %v status %s, want %d", tc.name, code, status, tc.status)
		}
		if status != "" {
			req := <-h.got
			if (req.Refuse != 0) != (tc.status != 200) {
				t.Errorf("%s: the handler got Refuse %d", tc.name, req.Refuse)
			}
			if req.Refuse != 0 && (req.Authority != "" && tc.status == 400 && strings.Contains(tc.name, "authority") || req.Fields != nil && tc.status == 405) {
				t.Errorf("%s: a refused request carries %q %v", tc.name, req.Authority, req.Fields)
			}
		}
		id += 2
	}
	select {
	case req := <-h.got:
		t.Errorf("a handler ran for a reset stream: %+v", req)
	default:
	}
}

// h2Outcome reads stream id's response: its status, or the code it was
// reset with.
func h2Outcome(t *testing.T, r *rawH2, id uint32) (http2.ErrCode, string) {
	t.Helper()
	for {
		switch f := r.read().(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return http2.ErrCodeNo, f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return f.ErrCode, ""
			}
		case *http2.GoAwayFrame:
			t.Fatalf("stream %d: GOAWAY %v", id, f.ErrCode)
		}
	}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// TestH2RequestParsed checks what a handler gets: authority split, cookies
// joined, host and te left out, the body and its trailers, content-length
// checked against DATA.
func TestH2RequestParsed(t *testing.T) {
	verifyNoLeaksH2(t)
	h := &recordingHandler{got: make(chan recorded, 1)}
	hs := startH2(t, h, H2Options{})
	r := dialRaw(t, hs)
	r.headers(1, false, r.block(":method", "POST", ":scheme", "https", ":authority", "a.test:8443", ":path", "/p?q",
		"cookie", "a=1", "x-b", "2", "te", "trailers", "cookie", "c=3", "content-length", "5"))
	r.write(func() error {
		_ = r.fr.WriteData(1, false, []byte("hel"))
		_ = r.fr.WriteData(1, false, []byte("lo"))
		return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block("x-trailer", "t"), EndStream: true, EndHeaders: true})
	})
	req := <-h.got
	if req.Method != "POST" || req.Authority != "a.test:8443" || req.Host != "a.test" || req.Port != "8443" ||
		req.Path != "/p?q" || req.ContentLength != 5 || req.body != "hello" || req.bodyErr != nil ||
		len(req.trailers) != 1 || req.trailers[0] != (H2Field{"x-trailer", "t"}) {
		t.Errorf("request: %+v", req)
	}
	want := []H2Field{{"cookie", "a=1; c=3"}, {"x-b", "2"}}
	if len(req.Fields) != len(want) {
		t.Fatalf("fields %v, want %v", req.Fields, want)
	}
	for i := range want {
		if req.Fields[i] != want[i] {
			t.Errorf("field %d: %v, want %v", i, req.Fields[i], want[i])
		}
	}
	if code, st := h2Outcome(t, r, 1); st != "200" {
		t.Fatalf("POST: %v %s", code, st)
	}

	// More DATA than content-length, and less: reset before the handler
	// reads a body of another length than declared.
	for i, body := range []string{"toolong", "shr"} {
		id := uint32(3 + 2*i)
		r.headers(id, false, r.block(":method", "POST", ":scheme", "https", ":authority", "a.test", ":path", "/", "content-length", "5"))
		r.write(func() error { return r.fr.WriteData(id, true, []byte(body)) })
		if code, _ := h2Outcome(t, r, id); code != http2.ErrCodeProtocol {
			t.Errorf("body %q for content-length 5: %v, want PROTOCOL_ERROR", body, code)
		}
		select {
		case req := <-h.got:
			if req.bodyErr == nil {
				t.Errorf("body %q for content-length 5: the handler read %q to its end", body, req.body)
			}
		case <-time.After(100 * time.Millisecond): // reset before the handler started
		}
	}
}

// TestH2ResponseShapes: trailers, HEAD, 204, 100-continue, a handler that
// returns without a response, one that panics.
func TestH2ResponseShapes(t *testing.T) {
	verifyNoLeaksH2(t)
	h := H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
		switch r.Path {
		case "/trailers":
			_ = w.WriteHead(200, []H2Field{{"Trailer", "X-Sum"}}, false)
			_, _ = w.Write([]byte("body"))
			_ = w.End([]H2Field{{"X-Sum", "42"}})
		case "/head":
			_ = w.WriteHead(200, []H2Field{{"content-length", "4"}}, false)
			_, _ = w.Write([]byte("body")) // not sent: HEAD
			_ = w.End(nil)
		case "/204":
			_ = w.WriteHead(204, nil, false)
			_, _ = w.Write([]byte("body"))
		case "/continue":
			b, _ := io.ReadAll(r.Body)
			_ = w.WriteHead(200, nil, false)
			_, _ = w.Write(b)
		case "/nothing":
		case "/panic":
			panic("handler bug")
		}
	})
	hs := startH2(t, h, H2Options{})
	client := hs.client()
	defer client.CloseIdleConnections()

	res, err := client.Get(hs.url("/trailers"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "body" || res.Trailer.Get("X-Sum") != "42" {
		t.Errorf("trailers: %q, %v", b, res.Trailer)
	}
	res, err = client.Head(hs.url("/head"))
	if err != nil || res.StatusCode != 200 || res.ContentLength != 4 {
		t.Errorf("HEAD: %v %v", err, res)
	}
	res, err = client.Get(hs.url("/204"))
	if err == nil {
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err != nil || res.StatusCode != 204 || len(b) != 0 {
		t.Errorf("204: %v %q", err, b)
	}
	req, _ := http.NewRequest("POST", hs.url("/continue"), strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	res, err = client.Do(req)
	if err == nil {
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err != nil || string(b) != "payload" {
		t.Errorf("100-continue: %v %q", err, b)
	}
	for _, p := range []string{"/nothing", "/panic"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.url(p), nil)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			t.Errorf("%s: got a response (%d), want the stream reset", p, res.StatusCode)
		} else if !strings.Contains(err.Error(), "INTERNAL_ERROR") {
			t.Errorf("%s: %v, want INTERNAL_ERROR", p, err)
		}
		cancel()
	}
}
