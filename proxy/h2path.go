package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"tlsfront/wire"
)

// ServeH2 makes the request path an H2Handler: tlsfront's own HTTP/2 server
// (H2Server) hands each stream's request to it as net/http's server does
// to ServeHTTP. The stream's :authority and :path were held to
// wire.ParseAuthority and wire.ValidOriginTarget by the server (Refuse set
// otherwise); its fields are lower-case; its body times out by the
// server's BodyTimeout (mapped to ErrBodyTimeout) and sends 100 Continue
// on its first Read when the client asked.
func (h *Handler) ServeH2(w H2ResponseWriter, r *H2Request) {
	x := h2exchanges.Get().(*h2exchange)
	defer func() {
		x.reset()
		h2exchanges.Put(x)
	}()
	s := &x.sink
	s.w, s.ctx, s.head = w, r.Context(), r.Method == "HEAD"
	ci := h2ConnInfo(h, r)
	start := time.Now()
	req := &x.req
	switch {
	case r.Refuse == http.StatusMethodNotAllowed && r.Method == http.MethodConnect:
		// The path refuses CONNECT itself (405 with Allow, logged with its
		// method), on the site the TLS server name routes to: CONNECT's
		// authority names the tunnel's far end, not a site.
		*req = Request{Method: r.Method, Proto: "HTTP/2.0", Conn: ci, Start: start}
		h.Serve(s, req)
		return
	case r.Refuse != 0:
		h.ServeError(s, ci, "HTTP/2.0", start, r.Refuse, r.Reason)
		return
	}
	*req = Request{Method: r.Method, Authority: r.Authority, Target: r.Path, Proto: "HTTP/2.0",
		ContentLength: r.ContentLength, Conn: ci, Start: start}
	fields := x.fields[:0]
	for _, f := range r.Fields {
		switch f.Name {
		case "content-length": // the framing is ContentLength
			continue
		case "expect":
			// One "100-continue" is met (the body's first Read sends 100);
			// any other expectation, or several, are refused with 417.
			if req.Expect == wire.ExpectNone && wire.EqualFold(f.Value, "100-continue") {
				req.Expect = wire.ExpectContinue
			} else {
				req.Expect = wire.ExpectOther
			}
		}
		fields = append(fields, wire.Field{Name: f.Name, Value: f.Value})
	}
	if r.TETrailers { // kept as "Te: trailers" for the backend (outbound.go)
		fields = append(fields, wire.Field{Name: "te", Value: "trailers"})
	}
	x.fields = fields
	req.Fields = fields
	if r.Body != nil {
		x.body.b = r.Body
		req.Body = &x.body
	} else {
		req.ContentLength = 0
	}
	h.Serve(s, req)
}

// h2ConnInfo returns the request path's view of r's connection, made once
// per connection and shared by its streams (read-only but for the
// forwarding cache, which is safe for concurrent use).
func h2ConnInfo(h *Handler, r *H2Request) *ConnInfo {
	c := r.st.c
	c.pathOnce.Do(func() {
		ci := &ConnInfo{TLS: r.Conn.TLS, Since: time.Now(), Fwd: new(ForwardCache)}
		if ap, ok := addrPortOf(c.nc.RemoteAddr()); ok {
			ci.Remote = ap
			ci.Trusted = h.trustedPeer(ap.Addr().Unmap(), c.nc)
		}
		c.pathInfo = ci
	})
	return c.pathInfo
}

func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort(), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// h2exchange is ServeH2's per-request state, pooled.
type h2exchange struct {
	req    Request
	fields []wire.Field
	sink   h2pathSink
	body   h2pathBody
}

var h2exchanges = sync.Pool{New: func() any { return new(h2exchange) }}

func (x *h2exchange) reset() {
	fields, out := x.fields[:0], x.sink.out[:0]
	*x = h2exchange{fields: fields}
	x.sink.out = out
}

// h2pathBody is an H2Body as the request path reads it.
type h2pathBody struct{ b *H2Body }

var errH2BodyInterrupted = errors.New("request body read interrupted")

func (b *h2pathBody) Read(p []byte) (int, error) {
	n, err := b.b.Read(p)
	if errors.Is(err, ErrH2BodyTimeout) {
		return n, errBodyTimedOut
	}
	return n, err
}

// Interrupt ends a pending Read: the path stopped copying the body.
func (b *h2pathBody) Interrupt() {
	c := b.b.st.c
	c.mu.Lock()
	if b.b.err == nil {
		b.b.err = errH2BodyInterrupted
	}
	wakeup(b.b.rwake)
	c.mu.Unlock()
}

// h2pathSink is an H2ResponseWriter as a ResponseSink.
type h2pathSink struct {
	w    H2ResponseWriter
	ctx  context.Context
	out  []H2Field
	head bool // a HEAD request: the response ends with its head
	done bool // the head ended the stream (HEAD, 204, 304)
	stop func() bool
	ran  chan struct{}
}

// SetTimeouts: the HTTP/2 server applies its own SendTimeout and
// BodyTimeout (proxy.send_timeout, proxy.client_body_timeout).
func (s *h2pathSink) SetTimeouts(send, body time.Duration) {}

func (s *h2pathSink) fields(in []wire.Field) []H2Field {
	out := s.out[:0]
	for _, f := range in {
		out = append(out, H2Field{Name: f.Name, Value: f.Value})
	}
	s.out = out
	return out
}

func (s *h2pathSink) Inform(status int, fields []wire.Field) error {
	return s.w.WriteHead(status, s.fields(fields), false)
}

func (s *h2pathSink) WriteHead(status int, reason string, fields []wire.Field, length int64) error {
	out := s.fields(fields)
	if length >= 0 && status != 204 && status >= 200 {
		out = append(out, H2Field{Name: "content-length", Value: strconv.FormatInt(length, 10)})
		s.out = out
	}
	s.done = s.head || status == 204 || status == 304 // the stream ends with the head
	return s.w.WriteHead(status, out, s.done)
}

func (s *h2pathSink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *h2pathSink) Flush() error                { return s.w.Flush() }

func (s *h2pathSink) Finish(trailers []wire.Field) error {
	switch {
	case s.done:
		return nil
	case len(trailers) == 0:
		return s.w.End(nil)
	}
	return s.w.End(s.fields(trailers))
}

func (s *h2pathSink) Abort()      { s.w.Abort() }
func (s *h2pathSink) CloseAfter() {}

func (s *h2pathSink) Watch(gone func()) {
	ran := make(chan struct{})
	s.ran = ran
	s.stop = context.AfterFunc(s.ctx, func() {
		defer close(ran)
		gone()
	})
}

func (s *h2pathSink) Unwatch() bool {
	if s.stop == nil {
		return false
	}
	stopped := s.stop()
	s.stop = nil
	if !stopped {
		<-s.ran
		return true
	}
	return false
}
