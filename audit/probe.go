package audit

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxSuitesPerHello bounds the suites of one hand-built hello: some
// servers refuse hellos with more than 128 suites.
const maxSuitesPerHello = 128

// prober sends hand-built hellos to the one target.
type prober struct {
	addr    string // "ip:port", the only place probes go
	sni     string
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	sem     chan struct{} // bounds concurrent connections
	conns   atomic.Int64  // connections opened, for the report
}

// probeError says why a probe got no usable answer.
type probeError struct {
	// kind is "refused", "timeout", "reset", "closed" or "garbage".
	kind   string
	detail string
}

func (e *probeError) Error() string { return e.detail }

// exchange connects, sends hello and reads the answer until w is met. The
// whole exchange, connection included, is bounded by p.timeout. then, when
// not nil, runs on the open connection after a complete flight (the
// deadline still applies).
func (p *prober) exchange(ctx context.Context, hello []byte, w want, then func(net.Conn, *flight) error) (*flight, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	dctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	p.conns.Add(1)
	conn, err := p.dial(dctx, "tcp", p.addr)
	if err != nil {
		return nil, classify(err, nil, p.timeout)
	}
	defer conn.Close()
	deadline, _ := dctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("setting deadline: %w", err)
	}
	// Closing the connection when ctx ends unblocks reads at once.
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(hello); err != nil {
		return nil, classify(err, nil, p.timeout)
	}
	var buf []byte
	tmp := make([]byte, 16<<10)
	for {
		n, rerr := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		f, complete, perr := parseFlight(buf, w)
		if perr != nil {
			return f, &probeError{kind: "garbage", detail: fmt.Sprintf("answered bytes that are not SSL/TLS (%v): %s", perr, evidence(buf))}
		}
		if complete {
			if then != nil {
				if err := then(conn, f); err != nil {
					return f, err
				}
			}
			return f, nil
		}
		if len(buf) > maxFlight {
			return f, &probeError{kind: "garbage", detail: fmt.Sprintf("sent more than %d bytes without completing its handshake flight", maxFlight)}
		}
		if rerr != nil {
			return f, classify(rerr, buf, p.timeout)
		}
	}
}

// classify turns a network error into a probeError with a readable detail.
func classify(err error, got []byte, timeout time.Duration) error {
	after := ""
	if len(got) > 0 {
		after = fmt.Sprintf(" after %d bytes (%s)", len(got), evidence(got))
	}
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return &probeError{kind: "refused", detail: "connection refused"}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &probeError{kind: "timeout", detail: fmt.Sprintf("no complete answer within %v%s (server stalled)", timeout, after)}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &probeError{kind: "reset", detail: "connection reset by the server" + after}
	case errors.Is(err, io.EOF):
		return &probeError{kind: "closed", detail: "server closed the connection without an answer" + after}
	}
	return &probeError{kind: "closed", detail: err.Error() + after}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// evidence shows the first bytes of an answer in hex and, when printable,
// as text.
func evidence(b []byte) string {
	n := min(len(b), 16)
	s := hex.EncodeToString(b[:n])
	printable := true
	for _, c := range b[:n] {
		if c < 0x20 && c != '\r' && c != '\n' || c > 0x7e {
			printable = false
		}
	}
	if printable {
		s += fmt.Sprintf(" %q", string(b[:n]))
	}
	return s
}

// hello returns a hello for version v offering suites.
func (p *prober) hello(v uint16, suites []uint16) helloSpec {
	s := helloSpec{version: v, suites: suites, sni: p.sni}
	if v == VersionSSL3 {
		s.noExtensions = true
	}
	if v == VersionTLS13 {
		s.keyShares = []keyShareEntry{x25519Share()}
	}
	return s
}

// x25519Share returns a fresh X25519 key share.
func x25519Share() keyShareEntry {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("audit: generating an X25519 key: %v", err))
	}
	return keyShareEntry{group: 0x001d, data: k.PublicKey().Bytes()}
}

// ProtocolResult says whether one protocol version is offered.
type ProtocolResult struct {
	// Name is "SSLv2", "SSLv3", "TLS 1.0" ... "TLS 1.3".
	Name string `json:"name"`
	// Offered reports that the server completed a hello at this version.
	Offered bool `json:"offered"`
	// Answer is what the server did: "ServerHello TLS 1.2",
	// "alert protocol_version (70)", "connection reset", ...
	Answer string `json:"answer"`

	version    uint16
	hello      *serverHello
	sslv2Kinds []uint32 // the cipher kinds of an SSLv2 SERVER-HELLO
	err        *probeError
}

// probeProtocol sends one hello at version v.
func (p *prober) probeProtocol(ctx context.Context, v uint16) ProtocolResult {
	res := ProtocolResult{Name: versionName(v), version: v}
	var f *flight
	var err error
	if v == VersionSSL2 {
		kinds := make([]uint32, len(sslv2Table))
		for i, r := range sslv2Table {
			kinds[i] = r.id
		}
		f, err = p.exchange(ctx, buildSSLv2Hello(kinds), wantHello, nil)
	} else {
		// Every suite known for v, at most maxSuitesPerHello per hello; the
		// next ones when a hello is refused by an alert other than
		// protocol_version, a close or a reset (no suite in common, or a
		// server that refuses long hellos).
		candidates := suitesFor(v)
		for start := 0; start < len(candidates); start += maxSuitesPerHello {
			chunk := candidates[start:min(start+maxSuitesPerHello, len(candidates))]
			f, err = p.exchange(ctx, buildClientHello(p.hello(v, chunk)), wantHello, nil)
			refused := err == nil && f.hello == nil && f.sslv2 == nil && f.alert != nil && f.alert.desc != alertProtocolVersion ||
				hungUp(err)
			if !refused {
				break
			}
		}
	}
	var pe *probeError
	switch {
	case errors.As(err, &pe):
		res.err = pe
		res.Answer = pe.detail
	case err != nil:
		res.Answer = err.Error()
	case f.sslv2 != nil:
		res.sslv2Kinds = f.sslv2.kinds
		res.Offered = v == VersionSSL2 && len(f.sslv2.kinds) > 0
		res.Answer = fmt.Sprintf("SSLv2 SERVER-HELLO with %d ciphers", len(f.sslv2.kinds))
	case f.alert != nil:
		res.Answer = "alert " + f.alert.String()
	case f.hello != nil:
		res.hello = f.hello
		res.Offered = f.hello.version == v
		res.Answer = "ServerHello " + versionName(f.hello.version)
		if f.hello.version > v {
			res.Offered = false
			res.Answer += " (higher than offered: a server bug)"
		}
	default:
		res.Answer = "SSLv2 ERROR"
	}
	return res
}

// ProtocolSuites lists the suites accepted at one protocol version.
type ProtocolSuites struct {
	// Protocol is "TLS 1.2" etc.
	Protocol string `json:"protocol"`
	// Order is "server" when the server imposes its order (Suites are in
	// that order), "client" when it follows the client's (Suites are in
	// table order), "" with fewer than two suites.
	Order string `json:"order"`
	// Suites are the accepted suites.
	Suites []Suite `json:"suites"`

	version uint16
}

// enumerate finds every suite accepted at version v by offering the
// remaining ones until the server refuses, then determines whether the
// server imposes an order and, if so, which.
func (p *prober) enumerate(ctx context.Context, v uint16) (ProtocolSuites, error) {
	out := ProtocolSuites{Protocol: versionName(v), version: v}
	candidates := suitesFor(v)
	var found []uint16
	chunks := 0
	for start := 0; start < len(candidates); start += maxSuitesPerHello {
		chunk := slices.Clone(candidates[start:min(start+maxSuitesPerHello, len(candidates))])
		hit := false
		for len(chunk) > 0 {
			id, ok, err := p.pick(ctx, v, chunk)
			if err != nil {
				out.Suites = suitesOf(found)
				return out, err
			}
			if !ok {
				break
			}
			i := slices.Index(chunk, id)
			if i < 0 {
				return out, fmt.Errorf("%s: server chose suite 0x%04x, which was not offered", versionName(v), id)
			}
			chunk = slices.Delete(chunk, i, i+1)
			found = append(found, id)
			hit = true
		}
		if hit {
			chunks++
		}
	}
	if len(found) >= 2 {
		first, _, err := p.pick(ctx, v, found)
		if err != nil {
			out.Suites = suitesOf(found)
			return out, err
		}
		last, _, err := p.pick(ctx, v, reversed(found))
		if err != nil {
			out.Suites = suitesOf(found)
			return out, err
		}
		out.Order = "client"
		if first == last {
			out.Order = "server"
			if chunks > 1 {
				ordered, err := p.serverOrder(ctx, v, found)
				if err != nil {
					out.Suites = suitesOf(found)
					return out, err
				}
				found = ordered
			}
		} else {
			// Table order: the client's, as the server follows it.
			slices.SortStableFunc(found, func(a, b uint16) int {
				return slices.Index(candidates, a) - slices.Index(candidates, b)
			})
		}
	}
	out.Suites = suitesOf(found)
	return out, nil
}

func suitesOf(ids []uint16) []Suite {
	var out []Suite
	for _, id := range ids {
		out = append(out, lookupSuite(id).suite())
	}
	return out
}

// serverOrder sorts accepted suites into the server's order by offering
// them all and removing each pick.
func (p *prober) serverOrder(ctx context.Context, v uint16, suites []uint16) ([]uint16, error) {
	left := slices.Clone(suites)
	var order []uint16
	for len(left) > 1 {
		id, ok, err := p.pick(ctx, v, left)
		if err != nil {
			return nil, err
		}
		i := slices.Index(left, id)
		if !ok || i < 0 {
			return nil, fmt.Errorf("%s: server stopped accepting suites it accepted before", versionName(v))
		}
		order = append(order, id)
		left = slices.Delete(left, i, i+1)
	}
	return append(order, left...), nil
}

// pick offers suites at version v and returns the server's choice; ok is
// false when the server refused them all.
func (p *prober) pick(ctx context.Context, v uint16, suites []uint16) (id uint16, ok bool, err error) {
	f, err := p.exchange(ctx, buildClientHello(p.hello(v, suites)), wantHello, nil)
	if hungUp(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%s suite probe: %w", versionName(v), err)
	}
	if f.hello == nil || f.hello.version != v {
		return 0, false, nil
	}
	return f.hello.suite, true, nil
}

func reversed(s []uint16) []uint16 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// parallel runs fs concurrently and waits for all of them.
func parallel(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// describeErr shortens errors for findings.
func describeErr(err error) string {
	return strings.TrimPrefix(err.Error(), "audit: ")
}
