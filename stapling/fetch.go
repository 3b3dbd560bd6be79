package stapling

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

const (
	// maxGETURL is the longest request URL sent with GET (RFC 5019 §5:
	// requests of at most 255 bytes, scheme and host included, use GET so
	// that caches can serve them); longer requests are POSTed.
	maxGETURL = 255
	// maxResponseSize bounds how much of a responder's answer is read.
	maxResponseSize = 1 << 20
)

// pathEscaper percent-encodes the three base64 characters that are not
// safe in a URL path segment (RFC 5019 §5: base64, then URL-encoded).
var pathEscaper = strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")

// getURL returns the RFC 5019 GET URL for the DER request req sent to the
// responder at base, and reports whether GET should be used for it: the
// URL fits in maxGETURL bytes and base has no query to append to.
func getURL(base string, req []byte) (string, bool) {
	if strings.ContainsAny(base, "?#") {
		return "", false
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	u := base + pathEscaper.Replace(base64.StdEncoding.EncodeToString(req))
	return u, len(u) <= maxGETURL
}

// newHTTPRequest builds the HTTP request asking responder about the DER
// OCSP request req: GET when getURL allows it, POST otherwise.
func newHTTPRequest(ctx context.Context, responder string, req []byte) (*http.Request, error) {
	var hreq *http.Request
	var err error
	if u, ok := getURL(responder, req); ok {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, responder, bytes.NewReader(req))
		if err == nil {
			hreq.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("building request for %q: %w", responder, err)
	}
	hreq.Header.Set("Accept", "application/ocsp-response")
	return hreq, nil
}

// fetch asks e's responder for a fresh response and returns its DER bytes
// unverified. The whole exchange is bounded by the Stapler's timeout.
func (s *Stapler) fetch(ctx context.Context, e *Entry) ([]byte, error) {
	return fetchOCSP(ctx, s.client, s.timeout, e.responder, e.leaf, e.issuer)
}

// fetchOCSP asks responder about leaf (issued by issuer) and returns the
// DER response unverified, the whole exchange bounded by timeout.
func fetchOCSP(ctx context.Context, client *http.Client, timeout time.Duration, responder string, leaf, issuer *x509.Certificate) ([]byte, error) {
	// SHA-1 CertIDs are what RFC 5019 responders are required to accept.
	req, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("creating OCSP request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := newHTTPRequest(ctx, responder, req)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("fetching OCSP response: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching OCSP response from %q: HTTP status %s", responder, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading OCSP response from %q: %w", responder, err)
	}
	if len(body) > maxResponseSize {
		return nil, fmt.Errorf("reading OCSP response from %q: larger than %d bytes", responder, maxResponseSize)
	}
	return body, nil
}
