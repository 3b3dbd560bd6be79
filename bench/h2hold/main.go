// Command h2hold holds N idle HTTP/2 connections to a TLS front, each after
// one GET, prints "holding N fail F" and waits: the HTTP/2 counterpart of
// peers.sh's idle hold, for the idle-memory figure in BENCHMARKS.md.
//
//	h2hold -addr 127.0.0.1:8447 -n 3000 -d 4s
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8447", "host:port")
	n := flag.Int("n", 2000, "connections")
	d := flag.Duration("d", 4*time.Second, "hold them this long")
	flag.Parse()
	tr := &http.Transport{
		// X25519 and P-256, like peers.sh's hsload (no post-quantum group).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost",
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}},
		Protocols: new(http.Protocols),
	}
	tr.Protocols.SetHTTP2(true) // HTTP/2 only: a front that does not offer h2 fails
	var (
		mu    sync.Mutex
		held  []*http.ClientConn
		fails int
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, 16)
	for range *n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cc, err := tr.NewClientConn(ctx, "https", *addr)
			if err == nil {
				req, _ := http.NewRequest("GET", "https://localhost/", nil)
				var res *http.Response
				if res, err = cc.RoundTrip(req); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.ProtoMajor != 2 {
						err = fmt.Errorf("%s, not HTTP/2", res.Proto)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if fails++; fails == 1 {
					fmt.Fprintln(os.Stderr, err)
				}
				return
			}
			held = append(held, cc)
		}()
	}
	wg.Wait()
	fmt.Printf("holding %d fail %d\n", len(held), fails)
	time.Sleep(*d)
}
