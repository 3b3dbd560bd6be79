package shield

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// FuzzNormalize checks the canonical form on any input: it is idempotent,
// has no ".", ".." or empty segment, agrees with RFC 3986's own
// remove_dot_segments (then "//" collapsed), and folding only lowers it.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/server-status", "/%73erver-status", "//server-status", "/x/../server-status",
		"/a/./b/../../c/", "/a//../b", "/%2e%2e/x", "/%25%32%65", "/%C5%BFerver", "/..", "/a;b/c", "/%zz", "*"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, fold bool) {
		got, ok := Normalize(raw, fold)
		if !ok {
			return
		}
		if got == "" || got[0] != '/' {
			t.Fatalf("Normalize(%q) = %q: not a path", raw, got)
		}
		for _, bad := range []string{"/./", "/../", "//"} {
			if strings.Contains(got, bad) {
				t.Fatalf("Normalize(%q) = %q contains %q", raw, got, bad)
			}
		}
		if strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..") {
			t.Fatalf("Normalize(%q) = %q ends in a dot segment", raw, got)
		}
		again, ok := Normalize(got, fold)
		if !ok || again != got {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, got, got, again, ok)
		}
		if !fold && raw != "" && raw[0] == '/' {
			dec, _ := decodePath(nil, raw, false)
			ref := removeDotSegments(string(dec))
			for strings.Contains(ref, "//") {
				ref = strings.ReplaceAll(ref, "//", "/")
			}
			if ref == "" {
				ref = "/"
			}
			if enc := encodePath([]byte(ref)); enc != got {
				t.Fatalf("Normalize(%q) = %q, RFC 3986 §5.2.4 then collapsing gives %q", raw, got, enc)
			}
		}
	})
}

// hexRE finds escapes.
var hexRE = regexp.MustCompile(`%[0-9A-F]{2}`)

// FuzzDisguise disguises a path below a protected prefix the ways clients
// do (escapes, dot segments, extra slashes, case, path parameters), then
// checks the property the shield exists for: whatever the disguise, if a
// reading of it that Apache (or Tomcat behind it) could make lies below
// the prefix, a client the rule denies is refused. The readings are
// computed by a reference built from RFC 3986's algorithm, not by
// Normalize.
func FuzzDisguise(f *testing.F) {
	f.Add("", []byte{0})
	f.Add("x/y", []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add("index.html", []byte{9, 200, 17, 33, 65, 129})
	sh, err := New(Options{Sites: []Site{{Name: "a", Rules: []Rule{
		{Path: "/server-status", Allow: []string{"10.0.0.0/8"}, Deny: []string{"all"}},
		{Path: "/Admin", CaseInsensitive: true, Deny: []string{"all"}},
		{Path: "/public", Allow: []string{"all"}},
	}}}})
	if err != nil {
		f.Fatal(err)
	}
	outsider := netip.MustParseAddr("203.0.113.9")
	f.Fuzz(func(t *testing.T, rest string, ops []byte) {
		for _, base := range []string{"/server-status", "/admin"} {
			fold := base == "/admin"
			raw := disguise(base+"/"+rest, ops, fold)
			readings, ok := refReadings(raw, fold)
			if !ok {
				if d := sh.Check(0, raw, outsider); d.Verdict != Ambiguous {
					t.Fatalf("%q is ambiguous to the reference, Check says %+v", raw, d)
				}
				continue
			}
			for _, r := range readings {
				if strings.HasPrefix(r+"/", base+"/") {
					if d := sh.Check(0, raw, outsider); d.Verdict != Deny {
						t.Fatalf("%q reads as %q, below %s; Check says %+v, want Deny", raw, r, base, d)
					}
				}
			}
		}
	})
}

// refReadings returns the paths Apache and Tomcat could map raw to,
// computed the slow, obvious way, and false for a path with an encoded
// slash, backslash, NUL or a bad escape.
func refReadings(raw string, fold bool) ([]string, bool) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	tomcat := regexp.MustCompile(`;[^/]*`).ReplaceAllString(raw, "")
	var out []string
	for _, r := range []string{raw, tomcat} {
		var dec strings.Builder
		for i := 0; i < len(r); i++ {
			c := r[i]
			if c == '\\' || c <= ' ' || c == 0x7f {
				return nil, false
			}
			if c == '%' {
				if i+2 >= len(r) || !strings.ContainsRune("0123456789abcdefABCDEF", rune(r[i+1])) || !strings.ContainsRune("0123456789abcdefABCDEF", rune(r[i+2])) {
					return nil, false
				}
				v := strings.ToLower(r[i+1 : i+3])
				if v == "2f" || v == "5c" || v == "00" {
					return nil, false
				}
				var x byte
				for _, h := range v {
					x = x<<4 | byte(strings.IndexRune("0123456789abcdef", h))
				}
				c = x
				i += 2
			}
			dec.WriteByte(c)
		}
		p := removeDotSegments(dec.String())
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		if fold {
			p = strings.NewReplacer("ſ", "s", "ı", "i", "\u212a", "k").Replace(p)
			p = strings.Map(func(r rune) rune {
				if 'A' <= r && r <= 'Z' {
					return r + 'a' - 'A'
				}
				return r
			}, p)
		}
		out = append(out, p)
	}
	return out, true
}

// disguise rewrites path with the operations in ops: escapes, extra
// slashes, dot segments, case, path parameters.
func disguise(path string, ops []byte, fold bool) string {
	b := []byte(path)
	for i, op := range ops {
		if len(b) == 0 || len(b) > 4096 {
			break
		}
		at := int(op>>3) % len(b)
		switch op & 7 {
		case 0: // percent-encode one byte
			c := b[at]
			if c == '/' || c == '%' || (at > 0 && b[at-1] == '%') || (at > 1 && b[at-2] == '%') {
				continue
			}
			b = append(b[:at], append([]byte{'%', "0123456789ABCDEF"[c>>4], "0123456789abcdef"[c&15]}, b[at+1:]...)...)
		case 1: // double a slash
			if b[at] == '/' {
				b = append(b[:at], append([]byte{'/'}, b[at:]...)...)
			}
		case 2: // insert "/." after a slash
			if b[at] == '/' {
				b = append(b[:at], append([]byte("/."), b[at:]...)...)
			}
		case 3: // insert "/x/.." at a slash
			if b[at] == '/' {
				b = append(b[:at], append([]byte("/x"+string(rune('a'+i%26))+"/.."), b[at:]...)...)
			}
		case 4: // change case (the case-insensitive rule only)
			if fold && 'a' <= b[at] && b[at] <= 'z' {
				b[at] -= 'a' - 'A'
			}
		case 5: // a path parameter on a segment
			if b[at] == '/' && at > 0 {
				b = append(b[:at], append([]byte(";jsessionid=1"), b[at:]...)...)
			}
		case 6: // long s for s (the case-insensitive rule only)
			if fold && (b[at] == 's' || b[at] == 'S') {
				b = append(b[:at], append([]byte("%C5%BF"), b[at+1:]...)...)
			}
		case 7: // lower-case the hex of an escape
			if loc := hexRE.FindIndex(b); loc != nil {
				copy(b[loc[0]+1:], strings.ToLower(string(b[loc[0]+1:loc[1]])))
			}
		}
	}
	return string(b)
}
