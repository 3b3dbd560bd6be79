package shield

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		fold      bool
		want      string // "" means ambiguous
	}{
		{"plain", "/server-status", false, "/server-status"},
		{"root", "/", false, "/"},
		{"not a path", "*", false, "/"},
		{"empty", "", false, "/"},
		{"encoded letter", "/%73erver-status", false, "/server-status"},
		{"encoded lower hex", "/%7e%7E", false, "/~~"},
		{"every byte decoded once", "/%2573erver-status", false, "/%2573erver-status"}, // Apache decodes once: "%73erver-status" stays literal
		{"double slash", "//server-status", false, "/server-status"},
		{"many slashes", "/a///b////", false, "/a/b/"},
		{"dot segment", "/./server-status", false, "/server-status"},
		{"dot dot", "/x/../server-status", false, "/server-status"},
		{"dot dot above root", "/../../server-status", false, "/server-status"},
		{"encoded dots", "/x/%2e%2E/server-status", false, "/server-status"},
		{"trailing dot", "/a/.", false, "/a/"},
		{"trailing dot dot", "/a/b/..", false, "/a/"},
		{"only dot dot", "/..", false, "/"},
		{"dots before collapsing", "/a//../b", false, "/a/b"}, // the ".." takes the empty segment, as in Apache
		{"dots are segments only", "/a.../..b/.c/", false, "/a.../..b/.c/"},
		{"case kept", "/SERVER-STATUS", false, "/SERVER-STATUS"},
		{"case folded", "/SERVER-Status", true, "/server-status"},
		{"long s folded", "/%C5%BFerver-status", true, "/server-status"},
		{"dotless i folded", "/adm\xc4\xb1n", true, "/admin"},
		{"kelvin folded", "/%E2%84%AAey", true, "/key"},
		{"long s kept without fold", "/%C5%BFerver", false, "/%C5%BFerver"},
		{"percent canonical", "/100%25", false, "/100%25"},
		{"space and controls encoded", "/a%20b%09c%7F", false, "/a%20b%09c%7F"},
		{"semicolon kept", "/manager;x/html", false, "/manager;x/html"},
		{"query and plus untouched", "/a+b%3Fc", false, "/a+b?c"},
		{"encoded slash", "/server-status%2Fx", false, ""},
		{"encoded slash lower", "/a%2f..%2fserver-status", false, ""},
		{"backslash", "/x\\..\\server-status", false, ""},
		{"encoded backslash", "/x%5C..%5Cserver-status", false, ""},
		{"encoded NUL", "/server-status%00.html", false, ""},
		{"bad escape", "/%zzx", false, ""},
		{"short escape", "/%4", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Normalize(tt.raw, tt.fold)
			if tt.want == "" {
				if ok {
					t.Fatalf("Normalize(%q) = %q, want it refused as ambiguous", tt.raw, got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("Normalize(%q, %v) = %q, %v; want %q", tt.raw, tt.fold, got, ok, tt.want)
			}
			if again, _ := Normalize(got, tt.fold); again != got {
				t.Errorf("Normalize(%q) = %q: not idempotent", got, again)
			}
		})
	}
}

func TestPathOf(t *testing.T) {
	for _, tt := range []struct{ target, want string }{
		{"/a/b?q=1", "/a/b"},
		{"/a?q=/x", "/a"},
		{"/", "/"},
		{"*", ""},
		{"http://localhost/server-status?x", "/server-status"},
		{"https://localhost", "/"},
		{"https://localhost?x", "/"},
		{"localhost:443", ""},
	} {
		if got := pathOf(tt.target); got != tt.want {
			t.Errorf("pathOf(%q) = %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestUnderPrefix(t *testing.T) {
	for _, tt := range []struct {
		path, prefix string
		want         bool
	}{
		{"/admin", "/admin", true},
		{"/admin/", "/admin", true},
		{"/admin/x", "/admin", true},
		{"/administrator", "/admin", false},
		{"/adm", "/admin", false},
		{"/anything", "/", true},
		{"/", "/", true},
		{"/", "/admin", false},
	} {
		if got := underPrefix([]byte(tt.path), []byte(tt.prefix)); got != tt.want {
			t.Errorf("underPrefix(%q, %q) = %v, want %v", tt.path, tt.prefix, got, tt.want)
		}
	}
}

// removeDotSegments is RFC 3986 §5.2.4's algorithm as the RFC writes it,
// on strings: the reference cleanPath is compared with.
func removeDotSegments(in string) string {
	var out []string // output buffer as segments, each "/seg" or "seg"
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := strings.IndexByte(in[start:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end += start
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}
