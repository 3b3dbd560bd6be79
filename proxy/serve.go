package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/wire"
)

// exchange is one request's trip through the path, from Serve to the
// access-log entry. Exchanges are pooled: the slices keep their capacity,
// so a request allocates little once the pool is warm.
type exchange struct {
	h  *Handler
	w  ResponseSink
	r  *Request
	st *site
	e  Entry

	out    []wire.Field // the request's fields to the backend
	tokens []string     // names a Connection field lists
	cookie []byte       // Cookie fields joined
	head   []byte       // the request head to the backend
	res    wire.Response
	resOut []wire.Field // the response's fields to the client
	trail  []wire.Field // its trailers

	bc         *backendConn
	reused     bool
	sent       time.Time // when the request went to the backend
	body       limitedBody
	copier     *bodyCopier  // copying the request body to the backend; nil when none runs
	bodyUnsent bool         // the backend answered an Expect: 100-continue request finally: its body was never sent
	watching   bool         // between the sink's Watch and Unwatch
	started    bool         // the response head went to the sink
	armed      time.Time    // when the backend read deadline was last set (read_timeout)
	headMu     sync.Mutex   // orders the copier's and the reader's deadlines on bc
	headRead   bool         // the final response head was read (under headMu)
	gone       *atomic.Bool // set when the client left while watched
	chunks     wire.ChunkedDecoder
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// Serve handles one request from an engine: see path.go.
func (h *Handler) Serve(w ResponseSink, r *Request) {
	x := exchanges.Get().(*exchange)
	x.h, x.w, x.r = h, w, r
	x.e = Entry{Start: r.Start, Method: r.Method, Host: r.Authority, Target: r.Target, Proto: r.Proto, Backend: -1}
	x.e.setConn(r.Conn)
	for _, f := range r.Fields {
		switch {
		case len(f.Name) == 7 && wire.EqualFold(f.Name, "referer"):
			x.e.Referer = f.Value
		case len(f.Name) == 10 && wire.EqualFold(f.Name, "user-agent"):
			x.e.UserAgent = f.Value
		}
	}
	x.serve()
	if h.opts.Observe != nil {
		x.e.Duration = time.Since(x.e.Start)
		h.opts.Observe(&x.e)
	}
	x.reset()
	exchanges.Put(x)
}

func (x *exchange) reset() {
	*x = exchange{
		out: x.out[:0], tokens: x.tokens[:0], cookie: x.cookie[:0], head: x.head[:0],
		res: wire.Response{Fields: x.res.Fields[:0]}, resOut: x.resOut[:0], trail: x.trail[:0],
	}
}

func (x *exchange) serve() {
	h, r := x.h, x.r
	x.w.SetTimeouts(h.limits.SendTimeout, h.limits.ClientBodyTimeout)
	i, ok := h.route(r.Authority, r.Conn)
	x.st = &h.sites[i]
	x.e.Site = x.st.name
	max := h.limits.MaxBodyBytes
	switch {
	case !ok:
		x.refuse(http.StatusMisdirectedRequest, "This server does not serve that host on this connection.")
		return
	case h.shield.Active(i) && !x.shieldCheck(i):
		return
	case r.Method == http.MethodConnect:
		x.w.CloseAfter() // what follows a CONNECT is a tunnel's bytes, not a request
		x.logRefusal(http.StatusMethodNotAllowed, "CONNECT is not forwarded")
		x.errorPage(http.StatusMethodNotAllowed, "CONNECT is not forwarded.", wire.Field{Name: "Allow", Value: allowed})
		return
	case r.Expect == wire.ExpectOther:
		x.logRefusal(http.StatusExpectationFailed, "Expect other than 100-continue")
		x.errorPage(http.StatusExpectationFailed, "Only the 100-continue expectation is supported.")
		return
	case max > 0 && r.ContentLength > max:
		x.tooLarge()
		return
	}
	x.buildRequest()
	if len(x.out)+2 > maxBackendFields { // + Host and the framing line
		x.refuse(http.StatusRequestHeaderFieldsTooLarge, "The request has more header fields than the backend accepts, with the forwarding fields added.")
		return
	}
	if r.Body != nil {
		x.body = limitedBody{r: r.Body, left: max, limit: max}
	}
	if err := x.roundTrip(); err != nil {
		x.fail(err)
		return
	}
	x.respond()
}

// maxBackendFields is the most field lines a request to the backend may
// have: Apache's LimitRequestFields default (2.2 and 2.4), which answers
// more with 400. A client request under wire.MaxFields can exceed it once
// tlsfront's forwarding (and SSL_*) fields are added: it is refused here
// with 431, not passed on to take an Apache worker for a 400.
const maxBackendFields = 100

// allowed is the Allow value of a 405: what Apache serves.
const allowed = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

// refuse answers status with text and logs it at info level.
func (x *exchange) refuse(status int, text string) {
	x.logRefusal(status, text)
	x.errorPage(status, text)
}

func (x *exchange) logRefusal(status int, why string) {
	x.h.opts.Logger.Info().Str("host", x.r.Authority).Str("method", x.r.Method).Str("path", pathOf(x.r.Target)).
		Int("status", status).Str("reason", why).Msg("request refused")
}

func (x *exchange) tooLarge() {
	x.h.opts.Logger.Info().Str("host", x.r.Authority).Str("path", pathOf(x.r.Target)).Int64("max_body_bytes", x.h.limits.MaxBodyBytes).
		Msg("request body over proxy.max_body_bytes refused")
	x.errorPage(http.StatusRequestEntityTooLarge,
		"The request body is larger than this server accepts ("+strconv.FormatInt(x.h.limits.MaxBodyBytes, 10)+" bytes).")
}

// errorPage answers with a short HTML page carrying the site's headers
// (HSTS on every HTTPS response, errors included). A request body not read
// to its end closes the connection after it.
func (x *exchange) errorPage(status int, text string, extra ...wire.Field) {
	if x.started {
		x.w.Abort()
		return
	}
	if x.r.Body != nil && !x.body.eof {
		x.w.CloseAfter()
	}
	writeErrorPage(x.w, x.st, status, text, &x.e, extra...)
	x.started = true
}

// writeErrorPage writes the error page of status on w: the one helper every
// refusal uses, in the path and in the engines.
func writeErrorPage(w ResponseSink, st *site, status int, text string, e *Entry, extra ...wire.Field) {
	var fields [16]wire.Field
	f := fields[:0]
	if st != nil {
		f = append(f, st.set...)
	}
	f = append(f, wire.Field{Name: "Content-Type", Value: "text/html; charset=utf-8"},
		wire.Field{Name: "Cache-Control", Value: "no-store"})
	f = append(f, extra...)
	body := errorBody(status, text)
	e.Status = status
	if w.WriteHead(status, http.StatusText(status), f, int64(len(body))) != nil {
		w.Abort()
		return
	}
	n, err := w.Write(body)
	e.Bytes += int64(n)
	if err != nil {
		w.Abort()
		return
	}
	if w.Finish(nil) != nil {
		w.Abort()
	}
}

func errorBody(status int, text string) []byte {
	st := strconv.Itoa(status) + " " + http.StatusText(status)
	return []byte("<!DOCTYPE html>\n<html><head><title>" + st + "</title></head><body><h1>" + st + "</h1><p>" + text +
		"</p><hr><address>tlsfront</address></body></html>\n")
}

// ServeError answers a request an engine refused before building it: see
// Server.
func (h *Handler) ServeError(w ResponseSink, c *ConnInfo, proto string, start time.Time, status int, reason string) {
	i, _ := h.route("", c)
	st := &h.sites[i]
	e := Entry{Start: start, Site: st.name, Proto: proto, Backend: -1}
	e.setConn(c)
	w.SetTimeouts(h.limits.SendTimeout, 0)
	w.CloseAfter()
	h.opts.Logger.Info().Str("client", e.Client.String()).Int("status", status).Str("reason", reason).Msg("malformed request refused")
	text := "The request is malformed."
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		text = "The request head is larger than this server accepts."
	case http.StatusNotImplemented:
		text = "The request's Transfer-Encoding is not supported."
	case http.StatusHTTPVersionNotSupported:
		text = "Only HTTP/1.0 and HTTP/1.1 are served on this connection."
	case http.StatusRequestTimeout:
		text = "The request did not arrive in time."
	}
	writeErrorPage(w, st, status, text, &e)
	if h.opts.Observe != nil {
		e.Duration = time.Since(start)
		h.opts.Observe(&e)
	}
}

// fail answers a failed round trip: the client's fault (408, 400, 413,
// 499), the queue's (503) or the backend's (502, 504), each logged once.
func (x *exchange) fail(err error) {
	var werr *wire.Error
	var berr errBackendResponse
	log := x.h.opts.Logger
	switch {
	case errors.As(err, &berr):
		x.backendWarn(log.Warn(), err, http.StatusBadGateway).Msg("backend request failed")
		x.errorPage(http.StatusBadGateway, "The backend server is not reachable or sent an invalid response.")
	case errors.Is(err, errClientGone):
		x.e.Status = 499 // nobody reads an answer
		x.w.Abort()
	case errors.Is(err, ErrBodyTimeout):
		log.Info().Str("host", x.r.Authority).Str("method", x.r.Method).Str("path", pathOf(x.r.Target)).
			Dur("client_body_timeout", x.h.limits.ClientBodyTimeout).Msg("request body too slow: 408")
		x.errorPage(http.StatusRequestTimeout, "The request body did not arrive in time.")
	case errors.Is(err, errBodyTooLarge):
		x.tooLarge()
	case errors.As(err, &werr):
		x.refuse(werr.Status, "The request body is malformed.")
	case errors.Is(err, errQueueTimeout):
		x.backendWarn(log.Warn(), err, http.StatusServiceUnavailable).Dur("queue_timeout", x.h.opts.QueueTimeout).Msg("backend request failed")
		x.errorPage(http.StatusServiceUnavailable, "The backend server is busy: no connection to it became free in time.",
			wire.Field{Name: "Retry-After", Value: "5"})
	default:
		status, text := http.StatusBadGateway, "The backend server is not reachable or sent an invalid response."
		var ne net.Error
		if errors.Is(err, errHeaderTimeout) || errors.As(err, &ne) && ne.Timeout() && !isDialError(err) {
			status, text = http.StatusGatewayTimeout, "The backend server did not answer in time."
		}
		x.backendWarn(log.Warn(), err, status).Msg("backend request failed")
		x.errorPage(status, text)
	}
}

func (x *exchange) backendWarn(ev *zerolog.Event, err error, status int) *zerolog.Event {
	return ev.Err(err).Str("host", x.r.Authority).Str("method", x.r.Method).Str("path", pathOf(x.r.Target)).
		Str("backend", x.st.backend).Int("status", status)
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// pathOf is a target without its query, for logs.
func pathOf(target string) string {
	for i := 0; i < len(target); i++ {
		if target[i] == '?' {
			return target[:i]
		}
	}
	return target
}

// limitedBody is a request body under max_body_bytes: reading past limit
// (0: none) fails with errBodyTooLarge.
type limitedBody struct {
	r           interface{ Read([]byte) (int, error) }
	left, limit int64
	eof         bool
}

var errBodyTooLarge = errors.New("request body over proxy.max_body_bytes")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.limit > 0 && int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit is enough to know
	}
	n, err := b.r.Read(p)
	if b.limit > 0 {
		b.left -= int64(n)
		if b.left < 0 {
			return n + int(b.left), errBodyTooLarge
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}
