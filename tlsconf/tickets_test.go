package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tlsfront/internal/testca"
)

// ticketKey returns a fresh random key and its base64 line.
func ticketKey(t *testing.T) ([32]byte, string) {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(k[:])
}

func TestLoadTicketKeys(t *testing.T) {
	k1, b1 := ticketKey(t)
	k2, b2 := ticketKey(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for _, tc := range []struct {
		name    string
		file    string
		want    [][32]byte
		wantErr string
	}{
		{"one key", b1 + "\n", [][32]byte{k1}, ""},
		{"no final newline", b1, [][32]byte{k1}, ""},
		{"two keys, comments, blanks, CRLF", "# rotated 2026-01-01\r\n\r\n" + b2 + "\r\n  " + b1 + "  \r\n# old\r\n", [][32]byte{k2, k1}, ""},
		{"31-byte key", b1 + "\n\n" + short + "\n", nil, "line 3: key is 31 bytes, want 32"},
		{"64-byte key", b1 + b1 + "\n", nil, "line 1: not standard base64"}, // padding in the middle
		{"hex, not base64", strings.Repeat("ab", 32) + "\n", nil, "line 1: key is 48 bytes, want 32"},
		{"garbage", b1 + "\nnot a key!\n", nil, "line 2: not standard base64"},
		{"empty file", "", nil, "no keys"},
		{"only comments", "# nothing yet\n\n", nil, "no keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ticket.keys")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadTicketKeys(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("LoadTicketKeys() error = %v, want one naming the file and %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), b1) {
					t.Errorf("error %q reveals key material", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
	if _, err := LoadTicketKeys(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "reading session ticket keys") {
		t.Errorf("missing file: error = %v", err)
	}
}

// serveTLS accepts on a 127.0.0.1 listener with cfg (a Holder's listener
// config, as tlsfront serves it): each connection completes the handshake,
// gets one byte and is read until the client closes it.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tln := tls.NewListener(ln, cfg)
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte("x")); err != nil { // handshakes first
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// connect dials addr, reads the server's byte (which also takes in TLS 1.3
// session tickets, sent after the handshake) and reports whether the
// session was resumed.
func connect(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	return c.ConnectionState().DidResume
}

// TestTicketKeysAcrossInstances runs two independent Holders, as two
// tlsfront instances behind a load balancer, and checks that a session from
// the first resumes on the second exactly when the second can decrypt the
// first's tickets.
func TestTicketKeysAcrossInstances(t *testing.T) {
	ca := testca.New(t)
	policy, err := NewPolicy("tutorial", "", "")
	if err != nil {
		t.Fatal(err)
	}
	site := testSite(t, ca, "a.example")
	newHolder := func() *Holder {
		st, err := New(Options{Policy: policy, Sites: []Site{site}})
		if err != nil {
			t.Fatal(err)
		}
		return NewHolder(st)
	}
	k1, _ := ticketKey(t)
	k2, _ := ticketKey(t)
	for _, tc := range []struct {
		name       string
		a, b       [][32]byte // nil: crypto/tls's own random keys
		wantResume bool
	}{
		{"same key", [][32]byte{k1}, [][32]byte{k1}, true},
		{"b rotated: encrypts with k2, still decrypts k1", [][32]byte{k1}, [][32]byte{k2, k1}, true},
		{"a encrypts with its first key only", [][32]byte{k2, k1}, [][32]byte{k1}, false},
		{"different keys", [][32]byte{k1}, [][32]byte{k2}, false},
		{"no shared keys", nil, nil, false},
	} {
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.name+"/"+tls.VersionName(vers), func(t *testing.T) {
				a, b := newHolder(), newHolder()
				if tc.a != nil {
					a.Config().SetSessionTicketKeys(tc.a)
				}
				if tc.b != nil {
					b.Config().SetSessionTicketKeys(tc.b)
				}
				addrA, addrB := serveTLS(t, a.Config()), serveTLS(t, b.Config())
				client := &tls.Config{
					RootCAs:            ca.Pool(),
					ServerName:         "a.example",
					MinVersion:         vers,
					MaxVersion:         vers,
					ClientSessionCache: tls.NewLRUClientSessionCache(4),
				}
				if connect(t, addrA, client) {
					t.Fatal("first connection to a resumed: the client cache was not empty")
				}
				if !connect(t, addrA, client) {
					t.Fatal("a did not resume its own session: the test cannot tell anything")
				}
				if got := connect(t, addrB, client); got != tc.wantResume {
					t.Errorf("session from a resumed on b: %v, want %v", got, tc.wantResume)
				}
			})
		}
	}
}

// TestTicketKeysRotateOnReload is the reload path: the same Holder gets a
// new State and a rotated key list while serving; sessions from before the
// reload still resume, and a list without the old key ends them.
func TestTicketKeysRotateOnReload(t *testing.T) {
	ca := testca.New(t)
	policy, err := NewPolicy("tutorial", "", "")
	if err != nil {
		t.Fatal(err)
	}
	newState := func() *State {
		st, err := New(Options{Policy: policy, Sites: []Site{testSite(t, ca, "a.example")}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	k1, _ := ticketKey(t)
	k2, _ := ticketKey(t)
	h := NewHolder(newState())
	h.Config().SetSessionTicketKeys([][32]byte{k1})
	addr := serveTLS(t, h.Config())
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(vers), func(t *testing.T) {
			h.Config().SetSessionTicketKeys([][32]byte{k1})
			client := &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example", MinVersion: vers, MaxVersion: vers,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			connect(t, addr, client)

			h.Swap(newState())
			h.Config().SetSessionTicketKeys([][32]byte{k2, k1})
			if !connect(t, addr, client) {
				t.Error("after a reload with [new, old] keys, a session from before it did not resume")
			}

			stale := &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example", MinVersion: vers, MaxVersion: vers,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			h.Config().SetSessionTicketKeys([][32]byte{k1})
			connect(t, addr, stale) // a ticket under k1
			h.Config().SetSessionTicketKeys([][32]byte{k2})
			if connect(t, addr, stale) {
				t.Error("a session under a key dropped from the list still resumed")
			}
		})
	}
}

// TestTicketKeysPerState is the reload path with the keys in the State
// (Options.TicketKeys): a State with [new, old] keys resumes sessions of a
// State with [old]; a State without keys falls back to the listener's own
// (Go's automatic) keys, so removing tls.ticket_keys takes effect; and the
// listener's keys come back for sessions it issued itself.
func TestTicketKeysPerState(t *testing.T) {
	ca := testca.New(t)
	policy, err := NewPolicy("tutorial", "", "")
	if err != nil {
		t.Fatal(err)
	}
	site := testSite(t, ca, "a.example")
	newState := func(keys ...[32]byte) *State {
		st, err := New(Options{Policy: policy, Sites: []Site{site}, TicketKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	k1, _ := ticketKey(t)
	k2, _ := ticketKey(t)
	var cur atomic.Pointer[State]
	addr := serveTLS(t, ListenerConfig(func(*tls.ClientHelloInfo) *State { return cur.Load() }))
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(vers), func(t *testing.T) {
			client := func() *tls.Config {
				return &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example", MinVersion: vers, MaxVersion: vers,
					ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			}
			old, old2, auto := client(), client(), client()
			cur.Store(newState(k1))
			connect(t, addr, old) // tickets under k1
			connect(t, addr, old2)
			cur.Store(newState())
			if connect(t, addr, old2) {
				t.Error("a State without keys resumed a session under the previous State's key")
			}
			connect(t, addr, auto) // a ticket under the listener's automatic key
			if !connect(t, addr, auto) {
				t.Error("a State without keys does not resume its own sessions")
			}
			cur.Store(newState(k2, k1))
			if !connect(t, addr, old) {
				t.Error("a State with [new, old] keys did not resume a session under old")
			}
			if connect(t, addr, auto) {
				t.Error("a State with keys of its own resumed a session under the listener's automatic key")
			}
		})
	}
}
