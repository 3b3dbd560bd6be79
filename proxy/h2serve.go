package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"tlsfront/wire"
)

// ServeHTTP serves a request from net/http's HTTP/2 server through the
// request path, until tlsfront's own HTTP/2 server replaces it. The
// :authority (or Host) and :path are held to the same validators as
// HTTP/1.1's (400 otherwise: issue 13's ":path /q?a HTTP/1.0 x" and
// ":authority b.test/x"); net/http's HTTP/1.1 requests are served the same
// way, but tlsfront's HTTP/1.1 traffic goes to H1.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &h2sink{w: w, rc: http.NewResponseController(w), ctx: r.Context(), h1: r.ProtoMajor == 1}
	req := &Request{Method: r.Method, Authority: r.Host, Proto: r.Proto, ContentLength: r.ContentLength, Start: time.Now()}
	ci := &ConnInfo{TLS: r.TLS}
	if ap, err := netipAddrPort(r.RemoteAddr); err == nil {
		ci.Remote = ap
		ci.Trusted = h.trustedPeer(ap.Addr().Unmap(), connFrom(r.Context()))
	}
	req.Conn = ci
	target := r.RequestURI
	if r.ProtoMajor == 1 && r.URL.Scheme != "" { // absolute-form
		target = r.URL.RequestURI()
	}
	switch {
	case req.Authority != "" && !validAuthority(req.Authority), req.Authority == "" && r.ProtoMajor == 2:
		h.ServeError(s, ci, r.Proto, req.Start, http.StatusBadRequest, "malformed :authority or Host")
		s.finish()
		return
	case r.Method == http.MethodConnect:
		target = ""
	case !wire.ValidOriginTarget(target):
		h.ServeError(s, ci, r.Proto, req.Start, http.StatusBadRequest, "request target is not a valid origin-form path")
		s.finish()
		return
	}
	req.Target = target
	fields := make([]wire.Field, 0, len(r.Header))
	for k, vs := range r.Header {
		switch k {
		case "Host", "Transfer-Encoding":
			continue
		case "Content-Length":
			for _, v := range vs {
				if v == "" || !allDigits(v) {
					// Go's HTTP/2 server reads a content-length that is
					// not a number as 0 and runs the handler: refuse it
					// before the backend is asked.
					h.ServeError(s, ci, r.Proto, req.Start, http.StatusBadRequest, "content-length is not a number")
					s.finish()
					return
				}
			}
			continue
		case "Expect":
			req.Expect = wire.ExpectOther
			if len(vs) == 1 && wire.EqualFold(vs[0], "100-continue") && r.ProtoAtLeast(1, 1) {
				req.Expect = wire.ExpectContinue
			}
		}
		for _, v := range vs {
			fields = append(fields, wire.Field{Name: k, Value: v})
		}
	}
	req.Fields = fields
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		s.body = &h2body{rc: r.Body, s: s}
		req.Body = s.body
	} else {
		req.ContentLength = 0
	}
	h.Serve(s, req)
	s.finish()
}

func validAuthority(a string) bool {
	_, _, ok := wire.ParseAuthority(a)
	return ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// h2sink is a net/http ResponseWriter as a ResponseSink.
type h2sink struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	ctx        context.Context
	h1         bool // net/http's HTTP/1.x (tests): CloseAfter means Connection: close
	send       time.Duration
	bodyTO     time.Duration
	body       *h2body
	aborted    bool
	closeAfter bool
	stop       func() bool
	ran        chan struct{}
}

// finish ends the handler: an aborted response resets the stream (or
// closes an HTTP/1.1 connection), which net/http does for a handler that
// panics with http.ErrAbortHandler.
func (s *h2sink) finish() {
	if s.aborted {
		panic(http.ErrAbortHandler)
	}
}

func (s *h2sink) SetTimeouts(send, body time.Duration) { s.send, s.bodyTO = send, body }

func (s *h2sink) setHeader(fields []wire.Field) http.Header {
	h := s.w.Header()
	clear(h)
	for _, f := range fields {
		h[f.Name] = append(h[f.Name], f.Value)
	}
	return h
}

func (s *h2sink) Inform(status int, fields []wire.Field) error {
	h := s.setHeader(fields)
	s.w.WriteHeader(status)
	clear(h)
	return nil
}

func (s *h2sink) WriteHead(status int, reason string, fields []wire.Field, length int64) error {
	h := s.setHeader(fields)
	if length >= 0 && status != 204 && status >= 200 {
		h["Content-Length"] = []string{strconv.FormatInt(length, 10)}
	}
	if s.closeAfter && s.h1 {
		h["Connection"] = []string{"close"}
	}
	s.w.WriteHeader(status)
	return nil
}

// Write bounds each write by the send timeout: a stream deadline, armed
// for the write and cleared after (an expired one would reset the stream
// even between writes).
func (s *h2sink) Write(p []byte) (int, error) {
	s.arm()
	n, err := s.w.Write(p)
	s.disarm()
	return n, err
}

func (s *h2sink) Flush() error {
	s.arm()
	err := s.rc.Flush()
	s.disarm()
	return err
}

func (s *h2sink) arm() {
	if s.send > 0 && s.ctx.Err() == nil {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.send))
	}
}

func (s *h2sink) disarm() {
	if s.send > 0 && s.ctx.Err() == nil {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

func (s *h2sink) Finish(trailers []wire.Field) error {
	h := s.w.Header()
	for _, f := range trailers {
		k := http.TrailerPrefix + f.Name
		h[k] = append(h[k], f.Value)
	}
	return nil
}

func (s *h2sink) Abort()      { s.aborted = true }
func (s *h2sink) CloseAfter() { s.closeAfter = true }

func (s *h2sink) Watch(gone func()) {
	ran := make(chan struct{})
	s.ran = ran
	s.stop = context.AfterFunc(s.ctx, func() {
		defer close(ran)
		gone()
	})
}

func (s *h2sink) Unwatch() bool {
	if s.stop == nil {
		return false
	}
	stopped := s.stop()
	s.stop = nil
	if !stopped {
		<-s.ran // gone ran, or is running: let it finish
		return true
	}
	return false
}

// h2body is a request body read under the body timeout: a read deadline on
// the stream, armed while a Read waits (an expired one closes the body
// even with no read pending).
type h2body struct {
	rc io.ReadCloser
	s  *h2sink
}

func (b *h2body) Read(p []byte) (int, error) {
	to := b.s.bodyTO
	if to > 0 {
		_ = b.s.rc.SetReadDeadline(time.Now().Add(to))
	}
	n, err := b.rc.Read(p)
	if to > 0 {
		_ = b.s.rc.SetReadDeadline(time.Time{})
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errBodyTimedOut
	}
	return n, err
}

// Interrupt ends a pending Read: the path stops copying the body.
func (b *h2body) Interrupt() { b.rc.Close() }

func netipAddrPort(s string) (netip.AddrPort, error) { return netip.ParseAddrPort(s) }
