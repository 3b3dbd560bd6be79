package proxy

// HTTP/2 abuse, each case from a raw frame client: the server's work and
// memory stay bounded, and the connection ends with GOAWAY where the RFC
// or common practice (HAProxy's glitches, Go's CVE fixes) says.

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"

	"tlsfront/internal/itest"
)

// abuseServer starts the server with h and o, logging warnings to the
// returned buffer. MaxGlitches is 1000 (server.http2_glitches' default)
// unless o says otherwise.
func abuseServer(t *testing.T, h H2Handler, o H2Options) (*h2Harness, *itest.SyncBuffer) {
	t.Helper()
	logs := &itest.SyncBuffer{}
	if o.MaxGlitches == 0 {
		o.MaxGlitches = 1000
	}
	o.Logger = zerolog.New(logs).Level(zerolog.WarnLevel)
	return startH2(t, h, o), logs
}

// checkCalm checks the connection ended with ENHANCE_YOUR_CALM, that the
// server counted one glitch close and logged it once.
func checkCalm(t *testing.T, r *rawH2, hs *h2Harness, logs *itest.SyncBuffer) {
	t.Helper()
	code := r.goAway(nil)
	for code == http2.ErrCodeNo { // the graceful GOAWAY at 3/4 of the threshold comes first
		code = r.goAway(nil)
	}
	if code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
	}
	r.closed()
	if n := hs.srv.Stats().GlitchCloses; n != 1 {
		t.Errorf("glitch closes counted: %d, want 1", n)
	}
	if n := logs.Count("ENHANCE_YOUR_CALM"); n != 1 {
		t.Errorf("%d log lines about the close, want 1", n)
	}
}

// TestH2RapidReset is CVE-2023-44487: HEADERS then RST_STREAM, over and
// over. Issue 13 saw 2,000 pairs put 268 requests on the backend and the
// connection stay open.
func TestH2RapidReset(t *testing.T) {
	verifyNoLeaksH2(t)
	h := newCountingHandler()
	hs, logs := abuseServer(t, h, H2Options{MaxGlitches: 1000})
	r := dialRaw(t, hs)
	go func() {
		for i := uint32(0); i < 2000; i++ {
			id := 1 + 2*i
			ok := r.tryWrite(func() error {
				if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.get("/slow"),
					EndStream: true, EndHeaders: true}); err != nil {
					return err
				}
				return r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			})
			if !ok {
				return
			}
		}
	}()
	checkCalm(t, r, hs, logs)
	if g := hs.srv.Stats().Glitches; g < 1000 || g > 1100 {
		t.Errorf("%d glitches counted, want the threshold (1000)", g)
	}
	if n := h.started.Load(); n > 1000 {
		t.Errorf("%d requests reached the handler (the backend), want fewer than the 1000 streams allowed", n)
	}
	if p := h.peak.Load(); p > 128 {
		t.Errorf("%d handlers ran at once, past max_concurrent_streams", p)
	}
	t.Logf("handler started %d times, at most %d at once", h.started.Load(), h.peak.Load())
}

// TestH2ResetFasterThanHandlers resets streams whose handlers do not stop
// on cancellation (a backend call that cannot be interrupted): once every
// worker is busy, the streams queued for one are bounded.
func TestH2ResetFasterThanHandlers(t *testing.T) {
	verifyNoLeaksH2(t)
	release, started := make(chan struct{}), make(chan struct{}, 100)
	stubborn := H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
		started <- struct{}{}
		<-release
	})
	hs, logs := abuseServer(t, stubborn, H2Options{MaxConcurrentStreams: 10})
	defer close(release)
	r := dialRaw(t, hs)
	pair := func(id uint32) bool {
		return r.tryWrite(func() error {
			_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.get("/"), EndStream: true, EndHeaders: true})
			return r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		})
	}
	for i := uint32(0); i < 10; i++ { // every worker busy with a handler that will not stop
		r.headers(1+2*i, true, r.get("/"))
		<-started
		r.write(func() error { return r.fr.WriteRSTStream(1+2*i, http2.ErrCodeCancel) })
	}
	go func() {
		for i := uint32(10); i < 100 && pair(1+2*i); i++ {
		}
	}()
	checkCalm(t, r, hs, logs)
}

// TestH2MaxConcurrentStreams opens more streams of a slow URL than allowed:
// the extra ones are refused, the handler never runs more than the limit.
func TestH2MaxConcurrentStreams(t *testing.T) {
	verifyNoLeaksH2(t)
	h := newCountingHandler()
	hs, _ := abuseServer(t, h, H2Options{MaxConcurrentStreams: 128})
	r := dialRaw(t, hs)
	for i := uint32(0); i < 250; i++ {
		r.headers(1+2*i, true, r.get("/slow"))
	}
	refused := 0
	for refused < 250-128 {
		f := r.read()
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			if rst.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("stream %d reset with %v", rst.StreamID, rst.ErrCode)
			}
			refused++
		}
	}
	for deadline := time.Now().Add(10 * time.Second); h.running.Load() < 128 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(h.release)
	ended := map[uint32]bool{}
	for len(ended) < 128 { // in any order
		switch f := r.read().(type) {
		case *http2.DataFrame:
			if f.StreamEnded() {
				ended[f.StreamID] = true
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		}
	}
	if p := h.peak.Load(); p != 128 {
		t.Errorf("peak %d handlers at once, want 128", p)
	}
}

// TestH2ContinuationFlood is the CVE-2024-27316 class: a header block
// that never ends, in empty CONTINUATION frames or in large ones.
func TestH2ContinuationFlood(t *testing.T) {
	for _, tc := range []struct {
		name string
		frag []byte
	}{
		{"empty", nil},
		{"1 KiB", make([]byte, 1024)}, // zero bytes: indexed field 0, but never decoded past the limit
	} {
		t.Run(tc.name, func(t *testing.T) {
			verifyNoLeaksH2(t)
			hs, logs := abuseServer(t, newCountingHandler(), H2Options{})
			r := dialRaw(t, hs)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			go func() {
				first := r.get("/")
				if !r.tryWrite(func() error {
					return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first[:1], EndStream: true})
				}) {
					return
				}
				for i := 0; i < 100000; i++ {
					if !r.tryWrite(func() error { return r.fr.WriteContinuation(1, false, tc.frag) }) {
						return
					}
				}
			}()
			checkCalm(t, r, hs, logs)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("%d MiB allocated during the flood", grew>>20)
			}
		})
	}
}

// TestH2HPACKBomb names a 4 KB dynamic table entry 16,000 times in one
// 16 KB header block (64 MB decoded): the request gets 431 and the
// connection stays usable.
func TestH2HPACKBomb(t *testing.T) {
	verifyNoLeaksH2(t)
	hs, _ := abuseServer(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	r := dialRaw(t, hs)
	r.headers(1, true, r.get("/", "x-big", strings.Repeat("b", 4000))) // enters the table as index 62
	if st, _ := r.response(1); st != "200" {
		t.Fatalf("setup request: %s", st)
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	bomb := r.get("/")
	for len(bomb) < 16000 {
		bomb = append(bomb, 0x80|62) // indexed field 62: x-big
	}
	r.headers(3, true, bomb)
	if st, _ := r.response(3); st != "431" {
		t.Fatalf("bomb: status %s, want 431", st)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("%d MiB allocated for the bomb", grew>>20)
	}
	r.headers(5, true, r.get("/after"))
	if st, body := r.response(5); st != "200" || string(body) != "GET /after\n" {
		t.Fatalf("after the bomb: %s %q", st, body)
	}
}

// TestH2OversizedHeaders: a header list over the limit gets 431; a block
// over twice the limit, or one string over it, closes the connection.
func TestH2OversizedHeaders(t *testing.T) {
	verifyNoLeaksH2(t)
	hs, logs := abuseServer(t, newTransportHandler(t, h2Backend(t).URL), H2Options{MaxHeaderBytes: 16 << 10})
	r := dialRaw(t, hs)

	var kv []string
	for i := 0; i < 40; i++ { // 40 x 500 bytes: over 16 KiB decoded, under 32 KiB encoded
		kv = append(kv, "x-h"+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("v", 500))
	}
	blk := r.get("/", kv...)
	r.write(func() error {
		_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:16000], EndStream: true})
		return r.fr.WriteContinuation(1, true, blk[16000:])
	})
	if st, _ := r.response(1); st != "431" {
		t.Fatalf("oversized list: %s, want 431", st)
	}

	r.write(func() error { // 40 KiB of one literal: over twice the limit
		_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: make([]byte, 16000), EndStream: true})
		_ = r.fr.WriteContinuation(3, false, make([]byte, 16000))
		return r.fr.WriteContinuation(3, true, make([]byte, 8000))
	})
	checkCalm(t, r, hs, logs)

	r2 := dialRaw(t, hs)
	one := r2.get("/", "x-one", strings.Repeat("v", 20000))
	r2.write(func() error { // one 20 KB value: over the string limit, COMPRESSION_ERROR
		_ = r2.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, BlockFragment: one[:16000]})
		return r2.fr.WriteContinuation(1, true, one[16000:])
	})
	if code := r2.goAway(nil); code != http2.ErrCodeCompression {
		t.Fatalf("one oversized string: GOAWAY %v, want COMPRESSION_ERROR", code)
	}
	r2.closed()
}

// TestH2ControlFloods sends frames that each cost the server an answer or
// work but move no request forward.
func TestH2ControlFloods(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *rawH2)
		frame func(r *rawH2, i int) error
	}{
		{"SETTINGS", nil, func(r *rawH2, i int) error { return r.fr.WriteSettings() }},
		{"PING", nil, func(r *rawH2, i int) error { return r.fr.WritePing(false, [8]byte{byte(i)}) }},
		{"PRIORITY", nil, func(r *rawH2, i int) error {
			return r.fr.WritePriority(uint32(1001+2*i), http2.PriorityParam{Weight: 1})
		}},
		{"unknown frames", nil, func(r *rawH2, i int) error { return r.fr.WriteRawFrame(0x20, 0, 0, []byte("x")) }},
		{"WINDOW_UPDATE", nil, func(r *rawH2, i int) error { return r.fr.WriteWindowUpdate(0, 1) }},
		{"zero-length DATA", func(r *rawH2) {
			r.headers(1, false, r.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/"))
		}, func(r *rawH2, i int) error { return r.fr.WriteData(1, false, nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verifyNoLeaksH2(t)
			h := newCountingHandler()
			defer close(h.release)
			hs, logs := abuseServer(t, h, H2Options{})
			r := dialRaw(t, hs)
			if tc.setup != nil {
				tc.setup(r)
			}
			go func() {
				for i := 0; i < 5000; i++ {
					if !r.tryWrite(func() error { return tc.frame(r, i) }) {
						return
					}
				}
			}()
			checkCalm(t, r, hs, logs)
		})
	}
}

// TestH2StreamIDExhaustion uses the last stream ID at once: served, then a
// lower ID is a connection error, and no state was kept per skipped ID.
func TestH2StreamIDExhaustion(t *testing.T) {
	verifyNoLeaksH2(t)
	hs, _ := abuseServer(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	r := dialRaw(t, hs)
	r.headers(1<<31-1, true, r.get("/last"))
	if st, body := r.response(1<<31 - 1); st != "200" || string(body) != "GET /last\n" {
		t.Fatalf("stream 2^31-1: %s %q", st, body)
	}
	r.headers(3, true, r.get("/lower"))
	if code := r.goAway(nil); code != http2.ErrCodeStreamClosed && code != http2.ErrCodeProtocol {
		t.Fatalf("lower stream ID after 2^31-1: GOAWAY %v", code)
	}
	r.closed()
}

// TestH2SlowRead: a client that never opens its stream window gets the
// stream reset after the send timeout; one that stops reading the socket
// gets the connection closed. Either way the handler's write fails, so
// the backend request ends.
func TestH2SlowRead(t *testing.T) {
	verifyNoLeaksH2(t)
	writeErr := make(chan error, 4)
	big := H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
		_ = w.WriteHead(200, nil, false)
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ { // 64 MiB, more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- w.End(nil)
	})
	hs, _ := abuseServer(t, big, H2Options{SendTimeout: 300 * time.Millisecond})

	r := dialRaw(t, hs, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	r.headers(1, true, r.get("/big"))
	for {
		f := r.read()
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			if rst.ErrCode != http2.ErrCodeInternal {
				t.Fatalf("window never opened: RST_STREAM %v, want INTERNAL_ERROR", rst.ErrCode)
			}
			break
		}
	}
	if err := <-writeErr; err == nil {
		t.Fatal("the handler's write succeeded although the client opened no window")
	}

	r2 := dialRaw(t, hs, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	r2.write(func() error { return r2.fr.WriteWindowUpdate(0, 1<<30) })
	r2.headers(1, true, r2.get("/big"))
	if err := <-writeErr; err == nil { // the client reads nothing more
		t.Fatal("the handler's write succeeded although the client stopped reading")
	}
	// The handler's wait for buffer room can time out (its stream reset)
	// just before the writer's socket write does: a client that resumed
	// reading at once would rightly keep its connection. This one stays
	// silent past the send timeout, then reads to the end.
	time.Sleep(3 * 300 * time.Millisecond)
	r2.closed()
}

// TestH2IdleStreams opens streams and never sends their bodies: each body
// read times out (the handler answers 408), then the idle connection is
// closed with GOAWAY.
func TestH2IdleStreams(t *testing.T) {
	verifyNoLeaksH2(t)
	reader := H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
		if _, err := io.ReadAll(r.Body); errors.Is(err, ErrH2BodyTimeout) {
			h2ErrorPage(w, 408, "The request body did not arrive in time.")
			return
		}
		h2ErrorPage(w, 200, "read")
	})
	hs, _ := abuseServer(t, reader, H2Options{BodyTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	r := dialRaw(t, hs)
	post := r.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/echo", "content-length", "10")
	for i := uint32(0); i < 10; i++ {
		r.headers(1+2*i, false, post)
	}
	got := map[uint32]string{}
	for len(got) < 10 {
		if f, ok := r.read().(*http2.MetaHeadersFrame); ok {
			got[f.StreamID] = f.PseudoValue("status")
		}
	}
	for id, st := range got {
		if st != "408" {
			t.Errorf("stream %d: %s, want 408", id, st)
		}
	}
	if code := r.goAway(nil); code != http2.ErrCodeNo {
		t.Fatalf("idle connection: GOAWAY %v, want NO_ERROR", code)
	}
	r.closed()
}

// TestH2EventStreamNoGlitches: a client returning window for each small
// DATA frame of a long event stream (as some do) is no abuser: 2000 events
// later its connection is open and counted nothing.
func TestH2EventStreamNoGlitches(t *testing.T) {
	verifyNoLeaksH2(t)
	events := H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
		_ = w.WriteHead(200, []H2Field{{"content-type", "text/event-stream"}}, false)
		for i := 0; i < 2000; i++ {
			if _, err := w.Write([]byte("data: tick\n\n")); err != nil {
				return
			}
			_ = w.Flush()
		}
		_ = w.End(nil)
	})
	hs, _ := abuseServer(t, events, H2Options{})
	r := dialRaw(t, hs)
	r.headers(1, true, r.get("/events"))
	for n := 0; ; {
		f := r.read()
		if d, ok := f.(*http2.DataFrame); ok {
			if l := uint32(len(d.Data())); l > 0 {
				r.write(func() error {
					_ = r.fr.WriteWindowUpdate(1, l)
					return r.fr.WriteWindowUpdate(0, l)
				})
			}
			n += len(d.Data())
			if d.StreamEnded() {
				if n != 2000*12 {
					t.Fatalf("%d bytes of events", n)
				}
				break
			}
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v", g.ErrCode)
		}
	}
	if g := hs.srv.Stats().Glitches; g != 0 {
		t.Errorf("%d glitches for a well-behaved event stream", g)
	}
}
