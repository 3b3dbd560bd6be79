package stapling

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Checker asks OCSP responders about client certificates during the
// handshake (mod_ssl's SSLOCSPEnable leaf). It reuses the stapler's
// verification: a response counts only if it is about exactly that
// certificate and issuer, signed by the issuer or a responder it delegated
// OCSP signing to, and current. Definite answers (good, revoked) are
// cached in memory until their NextUpdate, so a client reconnecting does
// not cost a query; failures are remembered for a few seconds, so a dead
// responder is not asked once per handshake.
type Checker struct {
	opts   CheckerOptions
	client *http.Client

	mu       sync.Mutex
	cache    map[[32]byte]checked
	inflight map[[32]byte]chan struct{}
}

// CheckerOptions configure a Checker. The zero value is usable.
type CheckerOptions struct {
	// Timeout bounds one query. Zero means 10 s.
	Timeout time.Duration
	// Overrides maps a responder URL as written in a certificate to the
	// URL to ask instead. Nil means none.
	Overrides map[string]string
	// Client performs the queries. Nil means a private client cloned from
	// http.DefaultTransport.
	Client *http.Client
	// MaxEntries bounds the cache. Zero means 10000.
	MaxEntries int
	// FailureTTL is how long a failed query is remembered. Zero means 10 s.
	FailureTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Answers of Checker.Check.
const (
	ClientGood    = "good"
	ClientRevoked = "revoked"
	ClientUnknown = "unknown" // no definite answer: see the error
)

type checked struct {
	status string
	err    error
	until  time.Time
}

// NewChecker returns a Checker.
func NewChecker(o CheckerOptions) *Checker {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.FailureTTL <= 0 {
		o.FailureTTL = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Checker{opts: o, client: o.Client, cache: map[[32]byte]checked{}, inflight: map[[32]byte]chan struct{}{}}
	if c.client == nil {
		c.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c
}

// Check asks leaf's responder (its AIA OCSP URL, or its override) about
// leaf, issued by issuer, and returns ClientGood, ClientRevoked, or
// ClientUnknown with the reason: no responder, responder unreachable or
// failing, a response that does not verify or is not current, or status
// unknown. Concurrent checks of one certificate make one query.
func (c *Checker) Check(leaf, issuer *x509.Certificate) (string, error) {
	key := checkKey(leaf, issuer)
	for {
		c.mu.Lock()
		if e, ok := c.cache[key]; ok && c.opts.Now().Before(e.until) {
			c.mu.Unlock()
			return e.status, e.err
		}
		wait, busy := c.inflight[key]
		if !busy {
			wait = make(chan struct{})
			c.inflight[key] = wait
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		<-wait
	}
	e := c.query(leaf, issuer)
	c.mu.Lock()
	if len(c.cache) >= c.opts.MaxEntries {
		c.evict()
	}
	c.cache[key] = e
	close(c.inflight[key])
	delete(c.inflight, key)
	c.mu.Unlock()
	return e.status, e.err
}

// evict drops expired entries, or every entry when none has expired.
func (c *Checker) evict() {
	now := c.opts.Now()
	for k, e := range c.cache {
		if !now.Before(e.until) {
			delete(c.cache, k)
		}
	}
	if len(c.cache) >= c.opts.MaxEntries {
		clear(c.cache)
	}
}

func (c *Checker) query(leaf, issuer *x509.Certificate) checked {
	fail := func(err error) checked {
		return checked{status: ClientUnknown, err: err, until: c.opts.Now().Add(c.opts.FailureTTL)}
	}
	url := responderURL(leaf)
	if o := c.opts.Overrides[url]; o != "" && url != "" {
		url = o
	}
	if url == "" {
		return fail(errors.New("the certificate names no OCSP responder"))
	}
	der, err := fetchOCSP(context.Background(), c.client, c.opts.Timeout, url, leaf, issuer)
	if err != nil {
		return fail(err)
	}
	now := c.opts.Now()
	resp, err := verifyResponse(der, leaf, issuer, now)
	if err != nil {
		return fail(err)
	}
	if resp.ThisUpdate.After(now.Add(maxSkew)) {
		return fail(fmt.Errorf("%w: %s", errNotYetValid, resp.ThisUpdate.Format(time.RFC3339)))
	}
	until := resp.NextUpdate
	if until.IsZero() {
		until = now.Add(time.Hour) // RFC 6960 allows no NextUpdate: "newer information is always available"; ask hourly
	} else if !now.Before(until) {
		return fail(fmt.Errorf("%w: %s", errExpired, until.Format(time.RFC3339)))
	}
	switch resp.Status {
	case ocsp.Good:
		return checked{status: ClientGood, until: until}
	case ocsp.Revoked:
		return checked{status: ClientRevoked, err: fmt.Errorf("revoked at %s (reason %d)", resp.RevokedAt.UTC().Format(time.RFC3339), resp.RevocationReason), until: until}
	}
	return fail(errStatusUnknown)
}

func checkKey(leaf, issuer *x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(issuer.RawSubjectPublicKeyInfo)
	h.Write(leaf.Raw)
	var k [32]byte
	h.Sum(k[:0])
	return k
}
