package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// The attack tests read a stream of pipelined requests the way an engine
// built on wire would (HeadEnd with its resume offset, Parse, then the
// body by its framing with ChunkedDecoder), fed in arbitrary pieces, and
// compare it with net/http reading the same stream.

// message is one request as a reader framed it.
type message struct {
	Method, Target string
	Minor          int
	Host           string // wire: Authority; net/http: Request.Host
	Body           []byte
	Chunked, Close bool
	Expect         Expectation // wire only
	Trailers       []Field     // wire only
	End            int         // stream offset just past the message
	req            *Request    // wire only: the parsed head
}

func (m message) String() string {
	return fmt.Sprintf("%s %s HTTP/1.%d host=%q body=%d end=%d", m.Method, m.Target, m.Minor, m.Host, len(m.Body), m.End)
}

// streamResult is what a reader made of a whole stream: the requests it
// read, then either a refusal (Err), the end of the input inside a request
// (Short), or neither (the stream ended between requests, or a request
// closed the connection).
type streamResult struct {
	Msgs  []message
	Err   error
	Short bool
}

func (s streamResult) String() string {
	out := fmt.Sprintf("%d request(s)", len(s.Msgs))
	switch {
	case s.Err != nil:
		out += ", then refused: " + s.Err.Error()
	case s.Short:
		out += ", then input ended inside a request"
	}
	return out
}

// wireStream reads the pipelined requests in the concatenation of pieces
// with wire, as a connection delivers them: each piece is one read (empty
// pieces are reads that returned nothing).
func wireStream(pieces [][]byte) streamResult {
	const (
		inHead = iota
		inFixed
		inChunked
	)
	var (
		res   streamResult
		buf   []byte // received, not consumed
		off   int    // stream offset of buf[0]
		next  int    // HeadEnd's resume offset
		phase = inHead
		left  int64
		dec   ChunkedDecoder
		cur   message
	)
	finish := func() (stop bool) {
		cur.End = off
		res.Msgs = append(res.Msgs, cur)
		phase = inHead
		return cur.Close // the engine closes the connection: the rest is never read
	}
	// step consumes what it can of buf; it reports whether the stream ended.
	step := func() bool {
		for {
			switch phase {
			case inHead:
				end, nx, err := HeadEnd(buf, next)
				if err != nil {
					res.Err = err
					return true
				}
				if end == 0 {
					next = nx
					return false
				}
				r := new(Request)
				n, perr := r.Parse(string(buf[:end]))
				if perr != nil {
					res.Err = perr
					return true
				}
				if n != end {
					res.Err = fmt.Errorf("Parse consumed %d bytes of a %d-byte head", n, end)
					return true
				}
				cur = message{Method: r.Method, Target: r.Target, Minor: r.Minor, Host: r.Authority,
					Chunked: r.Chunked, Close: r.Close, Expect: r.Expect, Body: []byte{}, req: r}
				buf, off, next = buf[end:], off+end, 0
				switch {
				case r.Chunked:
					phase = inChunked
					dec.Reset()
				case r.ContentLength > 0:
					phase, left = inFixed, r.ContentLength
				default:
					if finish() {
						return true
					}
				}
			case inFixed:
				k := int64(len(buf))
				if k > left {
					k = left
				}
				cur.Body = append(cur.Body, buf[:k]...)
				buf, off, left = buf[k:], off+int(k), left-k
				if left > 0 {
					return false
				}
				if finish() {
					return true
				}
			case inChunked:
				if dec.Done() {
					cur.Trailers = slices.Clone(dec.Trailers)
					if finish() {
						return true
					}
					continue
				}
				n, data, err := dec.Decode(buf)
				if err != nil {
					res.Err = err
					return true
				}
				if n < 0 || n > len(buf) || len(data) > n {
					res.Err = fmt.Errorf("Decode returned n=%d, %d data bytes, for %d bytes", n, len(data), len(buf))
					return true
				}
				if n == 0 {
					return false
				}
				cur.Body = append(cur.Body, data...)
				buf, off = buf[n:], off+n
			}
		}
	}
	for _, p := range pieces {
		buf = append(buf, p...)
		if step() {
			return res
		}
	}
	res.Short = phase != inHead || len(buf) > 0
	return res
}

// eofReader records whether a reader reached the end of its input.
type eofReader struct {
	r   *bytes.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// goStream reads the pipelined requests in data with net/http's
// ReadRequest and body readers, the way its server does. A refusal that
// came after net/http asked for bytes past the end of data (it takes a
// line cut by the end for a whole one) counts as waiting for more.
func goStream(data []byte) streamResult {
	var res streamResult
	src := &eofReader{r: bytes.NewReader(data)}
	br := bufio.NewReader(src)
	off := func() int { return len(data) - src.r.Len() - br.Buffered() }
	for off() < len(data) {
		// One empty line before a request is ignored, as wire does (RFC
		// 9112 §2.2; net/http's server discards CR and LF after a POST,
		// its reader does not).
		if p, _ := br.Peek(2); string(p) == "\r\n" {
			_, _ = br.Discard(2)
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			if src.eof || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				res.Short = true
			} else {
				res.Err = err
			}
			return res
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			if src.eof || errors.Is(err, io.ErrUnexpectedEOF) || err.Error() == "http: unexpected EOF reading trailer" {
				res.Short = true
			} else {
				res.Err = err
			}
			return res
		}
		if body == nil {
			body = []byte{}
		}
		res.Msgs = append(res.Msgs, message{Method: req.Method, Target: req.RequestURI, Minor: min(req.ProtoMinor, 1), // HTTP/1.2 and on read as 1.1 (RFC 9110 §2.5)
			Host: req.Host, Body: body, Chunked: len(req.TransferEncoding) > 0, Close: req.Close, End: off()})
		if req.Close {
			break
		}
	}
	return res
}

// sameStream reports how two results of wireStream differ ("" when they
// do not).
func sameStream(a, b streamResult) string {
	if len(a.Msgs) != len(b.Msgs) {
		return fmt.Sprintf("%v, then %v", a, b)
	}
	for i := range a.Msgs {
		x, y := a.Msgs[i], b.Msgs[i]
		if x.String() != y.String() || !bytes.Equal(x.Body, y.Body) || x.Close != y.Close ||
			x.Chunked != y.Chunked || !slices.Equal(x.Trailers, y.Trailers) {
			return fmt.Sprintf("request %d: %v, then %v", i, x, y)
		}
	}
	if a.Short != b.Short || (a.Err == nil) != (b.Err == nil) || a.Err != nil && a.Err.Error() != b.Err.Error() {
		return fmt.Sprintf("%v, then %v", a, b)
	}
	return ""
}

// hopByHop are the fields the engine never forwards (RFC 9110 §7.6.1, and
// the framing it rebuilds).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true, "Host": true,
}

// backendHost stands for the backend's host:port, the Host the engine
// sends for an HTTP/1.0 request that had none (as http.Transport did).
const backendHost = "backend.test:8080"

// reserialise is what the engine sends on for m, per issue 15: rebuilt
// from parsed values (request line with the origin-form Path and HTTP/1.1,
// Host from Authority, canonical names sorted as net/http writes them,
// hop-by-hop and Connection-listed fields removed, one framing: the
// Content-Length of the body read, or chunked re-encoded as one chunk
// without trailers).
func reserialise(m message) []byte {
	r := m.req
	listed := map[string]bool{}
	for _, f := range r.Fields {
		if EqualFold(f.Name, "connection") {
			Tokens(f.Value, func(t string) { listed[CanonicalName(t)] = true })
		}
	}
	var fields []Field
	for _, f := range r.Fields {
		name := CanonicalName(f.Name)
		if hopByHop[name] || listed[name] {
			continue
		}
		fields = append(fields, Field{name, f.Value})
	}
	SortFields(fields)
	target := r.Path
	if r.Form == FormAuthority {
		target = r.Target
	}
	length := int64(len(m.Body))
	if r.Chunked {
		length = -1
	}
	host := r.Authority
	if host == "" { // HTTP/1.0 without Host: the engine sends the backend's host:port (proxy/outbound.go)
		host = backendHost
	}
	out := AppendRequestHead(nil, r.Method, target, host, fields, length)
	if !r.Chunked {
		return append(out, m.Body...)
	}
	if len(m.Body) > 0 {
		out = AppendChunkHeader(out, len(m.Body))
		out = append(out, m.Body...)
		out = append(out, '\r', '\n')
	}
	return AppendLastChunk(out, nil)
}
