package proxy

import (
	"crypto/tls"
	"io"

	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tlsfront/internal/testca"
)

// TestGoServerMaxConcurrentStreams: while server.http2 = "go" stays
// selectable, server.max_concurrent_streams reaches net/http's HTTP/2
// server too (it advertised 250 before).
func TestGoServerMaxConcurrentStreams(t *testing.T) {
	for _, tc := range []struct{ set, want int }{{0, 128}, {7, 7}} {
		srv := NewServer(http.NotFoundHandler(), ServerOptions{MaxConcurrentStreams: tc.set})
		leaf := testca.New(t).Leaf(t, testca.LeafOptions{})
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		_ = fr.WriteSettings()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok {
			t.Fatalf("first frame %v", f)
		}
		if v, _ := sf.Value(http2.SettingMaxConcurrentStreams); int(v) != tc.want {
			t.Errorf("MaxConcurrentStreams %d: SETTINGS_MAX_CONCURRENT_STREAMS = %d, want %d", tc.set, v, tc.want)
		}
		c.Close()
		srv.Close()
	}
}
