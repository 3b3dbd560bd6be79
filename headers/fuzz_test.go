package headers

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func FuzzRewriteLocation(f *testing.F) {
	f.Add("http://example.com/dir/", "example.com", "127.0.0.1:8081", uint16(0))
	f.Add("http://127.0.0.1:8081/x?y#z", "example.com", "127.0.0.1:8081", uint16(8443))
	f.Add("5; url='http://[::1]:8080/a'", "2001:db8::1", "[::1]:8080", uint16(443))
	f.Fuzz(func(t *testing.T, value, host, backend string, port uint16) {
		r := Redirect{Host: host, HTTPSPort: int(port), BackendHosts: []string{backend}}
		got := r.Rewrite(value)
		if got != value {
			in := trimOWS(value)
			if !strings.HasPrefix(strings.ToLower(in), "http://") || !strings.HasPrefix(got, "https://") {
				t.Fatalf("Rewrite(%q) = %q: only http:// URLs may change, and only to https://", value, got)
			}
			// Path, query and fragment are kept byte for byte.
			rest := in[len("http://"):]
			if i := strings.IndexAny(rest, `/?#\`); i >= 0 && !strings.HasSuffix(got, rest[i:]) {
				t.Fatalf("Rewrite(%q) = %q lost the tail %q", value, got, rest[i:])
			}
			// The result names the configured host, as net/url reads it.
			self, _ := splitRequestHost(host)
			if u, err := url.Parse(got); err == nil && !sameHost(u.Hostname(), self) {
				t.Fatalf("Rewrite(%q) = %q: net/url reads host %q, want %q", value, got, u.Hostname(), self)
			}
			// And the original named that host or the backend, as net/url reads it.
			if u, err := url.Parse(in); err == nil && u.Host != "" {
				bh, bp, _ := splitAuthority(trimOWS(backend))
				p, _ := portNumber(u.Port())
				q, _ := portNumber(bp)
				if !sameHost(u.Hostname(), self) && !(sameHost(u.Hostname(), bh) && p == q) {
					t.Fatalf("Rewrite(%q) = %q but net/url reads host %q port %q", value, got, u.Hostname(), u.Port())
				}
			}
		}
		if again := r.Rewrite(got); again != got {
			t.Fatalf("Rewrite not idempotent: %q -> %q -> %q", value, got, again)
		}
		if validFieldValue(value) && !validFieldValue(got) {
			t.Fatalf("Rewrite(%q) = %q is not a valid field value", value, got)
		}

		// Refresh: only the URL changes, as Rewrite changes it; the delay
		// and "url=" before it are kept byte for byte. (The result may be
		// shorter than the input: a backend address rewritten to a short
		// site name, "0 http://127.0.0.1:8081" to "0 https://0".)
		rg := r.RewriteRefresh(value)
		if rg != value {
			i := strings.Index(strings.ToLower(value), "http://")
			if i < 0 || rg[:min(i, len(rg))] != value[:i] || !strings.HasPrefix(rg[i:], "https://") {
				t.Fatalf("RewriteRefresh(%q) = %q: only the http:// URL may change, to https://", value, rg)
			}
			nu := strings.TrimRight(rg[i:], " \t")
			if i > 0 && (value[i-1] == '"' || value[i-1] == '\'') && strings.Contains(value[i:], value[i-1:i]) {
				nu, _, _ = strings.Cut(nu, value[i-1:i]) // a quoted URL ends at its quote
			}
			self, _ := splitRequestHost(host)
			// (Only a client's own Host can hold a quote: the URL then has no
			// one reading, and only that client's response is affected.)
			if u, err := url.Parse(nu); err == nil && !strings.ContainsAny(host, `"'`) && !sameHost(u.Hostname(), self) {
				t.Fatalf("RewriteRefresh(%q) = %q: net/url reads host %q, want %q", value, rg, u.Hostname(), self)
			}
		}
		if again := r.RewriteRefresh(rg); again != rg {
			t.Fatalf("RewriteRefresh not idempotent: %q -> %q -> %q", value, rg, again)
		}
	})
}

func FuzzSecureCookies(f *testing.F) {
	f.Add("sid=abc; Path=/", "secure=1; Secure")
	f.Add("a=Secure;", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		in := []string{a, b}
		h := http.Header{"Set-Cookie": append([]string(nil), in...)}
		SecureCookies(h)
		out := h["Set-Cookie"]
		if len(out) != len(in) {
			t.Fatalf("got %d values, want %d", len(out), len(in))
		}
		for i := range in {
			switch {
			case trimOWS(in[i]) == "" || hasSecure(in[i]):
				if out[i] != in[i] {
					t.Fatalf("%q changed to %q", in[i], out[i])
				}
			default:
				if want := strings.TrimRight(in[i], " \t;") + "; Secure"; out[i] != want {
					t.Fatalf("%q became %q, want %q", in[i], out[i], want)
				}
				if !hasSecure(out[i]) {
					t.Fatalf("%q still lacks Secure", out[i])
				}
			}
		}
		again := append([]string(nil), out...)
		SecureCookies(http.Header{"Set-Cookie": again})
		for i := range out {
			if again[i] != out[i] {
				t.Fatalf("not idempotent: %q -> %q", out[i], again[i])
			}
		}
	})
}

func FuzzSetForwarded(f *testing.F) {
	f.Add("192.0.2.7", "example.com", "https", "", "", "", "", false)
	f.Add("2001:db8::1", "example.com:8443", "https", "_tlsfront", "203.0.113.9, 10.0.0.1", `for=203.0.113.9;proto=https`, "203.0.113.9", true)
	f.Fuzz(func(t *testing.T, ip, host, proto, by, xff, fwd, realIP string, trusted bool) {
		for _, s := range []string{host, proto, by, xff, fwd, realIP} {
			if !validFieldValue(s) {
				t.Skip("net/http does not deliver such header values")
			}
		}
		client, _ := netip.ParseAddr(ip)
		h := http.Header{}
		for name, v := range map[string]string{hdrXFF: xff, hdrForwarded: fwd, hdrXRealIP: realIP, "X-Forwarded-Port": "1"} {
			if v != "" {
				h[name] = []string{v}
			}
		}
		SetForwarded(h, Forward{ClientIP: client, Host: host, Proto: proto, TrustedPeer: trusted, By: by})

		for name, vs := range h {
			for _, v := range vs {
				if !validFieldValue(v) {
					t.Fatalf("%s: %q is not a valid field value", name, v)
				}
			}
		}
		fw := h[hdrForwarded]
		if len(fw) != 1 {
			t.Fatalf("Forwarded = %q, want one value", fw)
		}
		elems, err := parseForwarded(fw[0])
		if err != nil {
			t.Fatalf("Forwarded %q does not parse: %v", fw[0], err)
		}
		last := map[string]string{}
		for _, p := range elems[len(elems)-1] {
			last[p.Name] = p.Value
		}
		wantFor, wantIP := "unknown", ""
		if client.IsValid() {
			wantIP = client.Unmap().WithZone("").String()
			wantFor = wantIP
			if strings.Contains(wantIP, ":") {
				wantFor = "[" + wantIP + "]"
			}
		}
		if last["for"] != wantFor {
			t.Fatalf("Forwarded %q: for=%q, want %q", fw[0], last["for"], wantFor)
		}
		if validHostValue(host) && (last["host"] != host || h.Get(hdrXFHost) != host) {
			t.Fatalf("host %q: Forwarded %q, X-Forwarded-Host %q", host, fw[0], h.Get(hdrXFHost))
		}
		gotXFF := h.Get(hdrXFF)
		if wantIP != "" && !strings.HasSuffix(gotXFF, wantIP) {
			t.Fatalf("X-Forwarded-For %q does not end with %q", gotXFF, wantIP)
		}
		if !trusted {
			if gotXFF != wantIP || h.Get(hdrXRealIP) != wantIP || h.Get("X-Forwarded-Port") != "" || len(elems) != 1 {
				t.Fatalf("untrusted peer's claims survived: %v", h)
			}
		} else if prior := joinList([]string{xff}); !strings.HasPrefix(gotXFF, prior) {
			t.Fatalf("trusted X-Forwarded-For %q lost the prior chain %q", gotXFF, prior)
		}
	})
}

func FuzzParseForwarded(f *testing.F) {
	f.Add(`for=192.0.2.43, for="[2001:db8:cafe::17]";proto=http;by=203.0.113.43`)
	f.Add(`host="a\"b";for=_x`)
	f.Fuzz(func(t *testing.T, s string) {
		elems, err := parseForwarded(s)
		if err != nil {
			return
		}
		// Serializing what was parsed and parsing again gives the same pairs.
		var parts []string
		for _, e := range elems {
			var pairs []string
			for _, p := range e {
				if !validFieldValue(p.Value) {
					t.Fatalf("parsed value %q has control characters", p.Value)
				}
				pairs = append(pairs, p.Name+"="+quoteIfNeeded(p.Value))
			}
			parts = append(parts, strings.Join(pairs, ";"))
		}
		s2 := strings.Join(parts, ", ")
		again, err := parseForwarded(s2)
		if err != nil {
			t.Fatalf("re-serialized %q (from %q) does not parse: %v", s2, s, err)
		}
		if len(again) != len(elems) {
			t.Fatalf("%q: %d elements, then %d", s, len(elems), len(again))
		}
		for i := range elems {
			for j := range elems[i] {
				if again[i][j] != elems[i][j] {
					t.Fatalf("%q: pair %v became %v", s, elems[i][j], again[i][j])
				}
			}
		}
	})
}

func FuzzPinsFromFile(f *testing.F) {
	// Real objects, minted here: key material is never committed.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	f.Add(sec1)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add(mintCert(f, ec, "fuzz.test"))
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(ed.Public())
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	f.Fuzz(func(t *testing.T, data []byte) {
		pins, err := PinsFromFile(data)
		if err != nil {
			if pins != nil {
				t.Fatalf("error %v with pins %v", err, pins)
			}
			if !strings.HasPrefix(err.Error(), "pins: ") {
				t.Fatalf("error %q lacks context", err)
			}
			return
		}
		if len(pins) == 0 {
			t.Fatal("no error and no pins")
		}
		for _, p := range pins {
			switch p.Kind {
			case KindCertificate, KindRequest, KindPublicKey, KindPrivateKey:
			default:
				t.Fatalf("unknown kind %q", p.Kind)
			}
			if err := checkPin(p.SHA256); err != nil {
				t.Fatal(err)
			}
		}
	})
}
