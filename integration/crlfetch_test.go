package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// CRL fetching through the tlsfront binary (crl_fetch = true): CRLs come
// from a distribution point on 127.0.0.1 that the test controls. A CRL that
// is expired or wrongly signed is never used, an unreachable one leaves no
// CRL (crl_missing decides), and the last good one survives an outage and
// a reload from state_dir/crl.

// crlPoint serves /<level>.crl as the test sets them, or a status.
type crlPoint struct {
	srv    *httptest.Server
	mu     sync.Mutex
	crls   map[string][]byte
	status int
}

func newCRLPoint(t *testing.T) *crlPoint {
	t.Helper()
	p := &crlPoint{crls: map[string][]byte{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		body, ok := p.crls[r.URL.Path]
		status := p.status
		p.mu.Unlock()
		switch {
		case status != 0:
			w.WriteHeader(status)
		case !ok:
			http.NotFound(w, r)
		default:
			_, _ = w.Write(body)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *crlPoint) set(path string, der []byte, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.crls[path], p.status = der, status
}

// verifyEcho is a backend answering with the SSL_CLIENT_VERIFY tlsfront sent.
func verifyEcho(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-SSL-Client-Verify"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startCRLFront runs tlsfront requiring client certificates of ca with
// crl_fetch, proxying to backend; dir is its folder (state_dir inside).
func startCRLFront(t *testing.T, dir string, ca *testca.CA, missing, backend string) *itest.Tlsfront {
	t.Helper()
	server := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, CRLDistributionPoints: []string{}})
	chain, key := server.WriteFilesAs(dir, "server")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[server]\nhttps = \"127.0.0.1:%d\"\nhttp = \"\"\nstate_dir = \"state\"\n[ocsp]\nstapling = false\ntimeout = \"3s\"\n"+
		"[[site]]\nnames = [\"localhost\"]\nbackend = %q\n[[site.cert]]\ncert = %q\nkey = %q\n"+
		"[site.client_auth]\nverify = \"require\"\nca = [%q]\nverify_depth = 2\ncrl_fetch = true\ncrl_missing = %q\nexport = true\n",
		itest.FreePort(t), backend, chain, key, caFile, missing)
	return itest.StartTlsfront(t, dir, cfg)
}

// verifyThrough connects as leaf and returns the SSL_CLIENT_VERIFY the
// backend got, or the client's error.
func verifyThrough(t *testing.T, addr string, leaf *testca.Leaf) (string, error) {
	t.Helper()
	cert := leaf.TLS()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestCRLFetchThroughTlsfront(t *testing.T) {
	t.Parallel()
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	type step struct {
		crl     func(ca *testca.CA, revoked *big.Int) []byte // the issuing CA's CRL (1.crl); nil: unreachable
		missing string
		want    string // SSL_CLIENT_VERIFY of the valid client, or "refused"
		log     string // in the log line saying why no CRL is used
	}
	tests := []struct {
		name string
		step step
	}{
		{"good CRL", step{crl: func(ca *testca.CA, r *big.Int) []byte {
			return ca.CRL(t, testca.CRLOptions{Level: 1, Revoked: []*big.Int{r}})
		}, missing: "fail", want: "SUCCESS"}},
		{"expired CRL", step{crl: func(ca *testca.CA, r *big.Int) []byte {
			return ca.CRL(t, testca.CRLOptions{Level: 1, ThisUpdate: time.Now().Add(-72 * time.Hour), NextUpdate: time.Now().Add(-time.Hour)})
		}, missing: "fail", want: "refused", log: "expired"}},
		{"wrongly signed CRL", step{crl: func(ca *testca.CA, r *big.Int) []byte {
			return ca.CRL(t, testca.CRLOptions{Level: 1, Signer: otherKey})
		}, missing: "fail", want: "refused", log: "signature"}},
		{"unreachable, crl_missing fail", step{missing: "fail", want: "refused", log: "downloading CRL"}},
		{"unreachable, crl_missing allow", step{missing: "allow", want: "SUCCESS", log: "downloading CRL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			point := newCRLPoint(t)
			url := point.srv.URL
			if tc.step.crl == nil {
				point.srv.Close() // nothing listens there any more
			}
			ca := testca.New(t, testca.Options{CRLURL: url})
			valid := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
			revoked := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
			point.set("/0.crl", ca.CRL(t, testca.CRLOptions{Level: 0}), 0)
			if tc.step.crl != nil {
				point.set("/1.crl", tc.step.crl(ca, revoked.Cert().SerialNumber), 0)
			}
			front := startCRLFront(t, t.TempDir(), ca, tc.step.missing, verifyEcho(t))
			got, err := verifyThrough(t, front.HTTPSAddr, valid)
			if tc.step.want == "refused" {
				if err == nil || !strings.Contains(err.Error(), "bad certificate") {
					t.Errorf("valid client: %q, %v; want refused with bad_certificate", got, err)
				}
			} else if err != nil || got != tc.step.want {
				t.Errorf("valid client: %q, %v; want %s", got, err, tc.step.want)
			}
			if _, err := verifyThrough(t, front.HTTPSAddr, revoked); tc.step.crl != nil && err == nil {
				t.Error("revoked client accepted")
			}
			if tc.step.log != "" {
				front.WaitLog(t, func(l map[string]any) bool {
					return strings.Contains(fmt.Sprint(l["message"]), "no current CRL") && strings.Contains(fmt.Sprint(l["why"]), tc.step.log)
				})
			}
		})
	}
}

// TestCRLLastGoodSurvivesOutageAndReload: after a good download, the
// distribution point fails; a reload builds everything anew, and the CRL
// comes back from state_dir/crl, still revoking what it revoked.
func TestCRLLastGoodSurvivesOutageAndReload(t *testing.T) {
	t.Parallel()
	point := newCRLPoint(t)
	ca := testca.New(t, testca.Options{CRLURL: point.srv.URL})
	valid := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	revoked := ca.Leaf(t, testca.LeafOptions{ClientAuth: true})
	point.set("/0.crl", ca.CRL(t, testca.CRLOptions{Level: 0}), 0)
	point.set("/1.crl", ca.CRL(t, testca.CRLOptions{Level: 1, Revoked: []*big.Int{revoked.Cert().SerialNumber}}), 0)
	dir := t.TempDir()
	front := startCRLFront(t, dir, ca, "fail", verifyEcho(t))
	check := func(when string) {
		t.Helper()
		if got, err := verifyThrough(t, front.HTTPSAddr, valid); err != nil || got != "SUCCESS" {
			t.Errorf("%s: valid client %q, %v; want SUCCESS", when, got, err)
		}
		if _, err := verifyThrough(t, front.HTTPSAddr, revoked); err == nil {
			t.Errorf("%s: revoked client accepted", when)
		}
	}
	check("with the distribution point up")
	if files, _ := filepath.Glob(filepath.Join(dir, "state", "crl", "*.crl")); len(files) != 2 {
		t.Errorf("state_dir/crl holds %v, want the root's and the intermediate's CRL", files)
	}
	point.set("/1.crl", nil, http.StatusServiceUnavailable)
	front.Signal(syscall.SIGHUP)
	front.WaitLog(t, func(l map[string]any) bool { return l["message"] == "reloaded" })
	check("after a reload with the distribution point failing")
	front.WaitLog(t, func(l map[string]any) bool { return l["message"] == "CRL loaded from cache" })
}
