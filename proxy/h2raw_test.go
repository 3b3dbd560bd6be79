package proxy

// A raw HTTP/2 client for the abuse tests: it writes whatever frames a
// test asks for, legal or not, and reads the server's frames one by one.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type rawH2 struct {
	t    testing.TB
	conn *tls.Conn
	fr   *http2.Framer
	wmu  sync.Mutex // guards writes: frames and the encoder
	enc  *hpack.Encoder
	ebuf bytes.Buffer
}

// dialRaw connects, sends the preface and an empty SETTINGS, and reads the
// server's SETTINGS.
func dialRaw(t testing.TB, hs *h2Harness, settings ...http2.Setting) *rawH2 {
	t.Helper()
	c, err := tls.Dial("tcp", hs.addr, &tls.Config{RootCAs: hs.ca.Pool(), ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawH2{t: t, conn: c}
	r.fr = http2.NewFramer(c, c)
	r.fr.AllowIllegalWrites = true
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.fr.SetMaxReadFrameSize(1 << 24)
	r.enc = hpack.NewEncoder(&r.ebuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	r.write(func() error { return r.fr.WriteSettings(settings...) })
	f := r.read()
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first frame from the server: %v, want SETTINGS", f)
	}
	r.write(func() error { return r.fr.WriteSettingsAck() })
	return r
}

func (r *rawH2) write(fn func() error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := fn(); err != nil {
		r.t.Errorf("writing a frame: %v", err)
	}
}

// tryWrite writes and reports whether it worked (the server may have
// closed the connection by then).
func (r *rawH2) tryWrite(fn func() error) bool {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return fn() == nil
}

// block encodes fields (name, value, name, value...) with the client's
// encoder; call it with wmu held or from one goroutine.
func (r *rawH2) block(kv ...string) []byte {
	r.ebuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), r.ebuf.Bytes()...)
}

// get is a GET request's header block for path.
func (r *rawH2) get(path string, extra ...string) []byte {
	return r.block(append([]string{":method", "GET", ":scheme", "https", ":authority", "localhost", ":path", path}, extra...)...)
}

func (r *rawH2) headers(id uint32, end bool, block []byte) {
	r.write(func() error {
		return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: end, EndHeaders: true})
	})
}

// read returns the next frame, failing the test after 10s.
func (r *rawH2) read() http2.Frame {
	r.t.Helper()
	f, err := r.readErr(10 * time.Second)
	if err != nil {
		r.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (r *rawH2) readErr(d time.Duration) (http2.Frame, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	return r.fr.ReadFrame()
}

// response reads frames until stream id ends; it returns the status and
// body. Other streams' frames are skipped.
func (r *rawH2) response(id uint32) (status string, body []byte) {
	r.t.Helper()
	for {
		switch f := r.read().(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				if s := f.PseudoValue("status"); s != "" && s[0] != '1' {
					status = s
				}
				if f.StreamEnded() {
					return status, body
				}
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				body = append(body, f.Data()...)
				if f.StreamEnded() {
					return status, body
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				r.t.Fatalf("stream %d reset: %v", id, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			r.t.Fatalf("GOAWAY %v while waiting for stream %d", f.ErrCode, id)
		}
	}
}

// goAway reads until GOAWAY and returns its code; it fails the test when
// the connection ends first. Frames before it are counted in seen.
func (r *rawH2) goAway(seen map[http2.FrameType]int) http2.ErrCode {
	r.t.Helper()
	for {
		f, err := r.readErr(10 * time.Second)
		if err != nil {
			r.t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if seen != nil {
			seen[f.Header().Type]++
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			return g.ErrCode
		}
	}
}

// closed reads until the server closes the connection, discarding
// frames; it fails the test if that takes 10s.
func (r *rawH2) closed() {
	r.t.Helper()
	for {
		if _, err := r.readErr(10 * time.Second); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

// countingHandler counts requests and holds each until its stream is
// done or release is closed, answering 200 then.
type countingHandler struct {
	started, running, peak atomic.Int64
	release                chan struct{}
}

func newCountingHandler() *countingHandler { return &countingHandler{release: make(chan struct{})} }

func (h *countingHandler) ServeH2(w H2ResponseWriter, r *H2Request) {
	h.started.Add(1)
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-r.Context().Done():
		return
	case <-h.release:
	}
	_ = w.WriteHead(200, []H2Field{{"content-length", "2"}}, false)
	_, _ = w.Write([]byte("ok"))
	_ = w.End(nil)
}

// verifyNoLeaksH2 checks, after every other clean-up of the test, that no
// goroutine it started is left and that no file descriptor stayed open
// (Linux: /proc/self/fd).
func verifyNoLeaksH2(t *testing.T) {
	t.Helper()
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return -1
		}
		return len(ents)
	}
	before := fds()
	t.Cleanup(func() {
		if before < 0 {
			return
		}
		n := fds()
		for deadline := time.Now().Add(5 * time.Second); n > before && time.Now().Before(deadline); n = fds() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > before {
			t.Errorf("%d file descriptors open after the test, %d before", n, before)
		}
	})
	verifyNoLeaks(t)
}
