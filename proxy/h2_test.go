package proxy

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// h2Backend is a plain HTTP/1.1 backend: /echo returns the request body,
// /big?n= returns n bytes, anything else a short text naming the request.
func h2Backend(t testing.TB) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Echo-Length", r.Header.Get("Content-Length"))
			_, _ = io.Copy(w, r.Body)
		case "/big":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			w.Header().Set("Content-Length", strconv.Itoa(n))
			_, _ = w.Write(bytes.Repeat([]byte("x"), n))
		default:
			w.Header().Set("X-Host", r.Host)
			w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
			_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+"\n")
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func TestH2Requests(t *testing.T) {
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	client := hs.client()
	defer client.CloseIdleConnections()

	res, err := client.Get(hs.url("/a?b=c"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 200 || string(body) != "GET /a?b=c\n" {
		t.Fatalf("GET: %s %d %q", res.Proto, res.StatusCode, body)
	}

	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: several windows
	res, err = client.Post(hs.url("/echo"), "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(body, payload) || res.Header.Get("X-Echo-Length") != "1048576" {
		t.Fatalf("echo: %d bytes back, X-Echo-Length %q", len(body), res.Header.Get("X-Echo-Length"))
	}

	res, err = client.Get(hs.url("/big?n=10000000"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, res.Body)
	res.Body.Close()
	if n != 10000000 {
		t.Fatalf("big: %d bytes", n)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := client.Get(hs.url("/p"))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != "GET /p\n" {
				errs <- io.ErrUnexpectedEOF
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
