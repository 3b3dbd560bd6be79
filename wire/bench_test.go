package wire

import "testing"

// browserRequest is what a desktop browser sends for a page of a legacy
// PHP site over HTTP/1.1 (Firefox 128's fields and order).
const browserRequest = "GET /index.php?id=1&page=2 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: PHPSESSID=0123456789abcdef0123456789; lang=en\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Priority: u=0, i\r\n" +
	"\r\n"

// BenchmarkParseRequest is the head of a typical browser request: finding
// its end and parsing it. It must not allocate.
func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserRequest)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		end, _, err := HeadEnd(buf, 0)
		if err != nil || end != len(buf) {
			b.Fatal(end, err)
		}
		if _, err := r.Parse(browserRequest[:end]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseResponse is Apache's answer to it.
func BenchmarkParseResponse(b *testing.B) {
	const head = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache/2.2.22 (Debian)\r\n" +
		"X-Powered-By: PHP/5.4.45\r\nSet-Cookie: PHPSESSID=0123; path=/\r\nExpires: Thu, 19 Nov 1981 08:52:00 GMT\r\n" +
		"Cache-Control: no-store, no-cache, must-revalidate\r\nPragma: no-cache\r\nVary: Accept-Encoding\r\n" +
		"Content-Length: 3\r\nKeep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\nContent-Type: text/html\r\n\r\n"
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(head); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendRequestHead is the head sent to Apache for it.
func BenchmarkAppendRequestHead(b *testing.B) {
	var r Request
	if _, err := r.Parse(browserRequest); err != nil {
		b.Fatal(err)
	}
	fields := append([]Field(nil), r.Fields...)
	SortFields(fields)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequestHead(buf[:0], r.Method, r.Path, r.Authority, fields, 0)
	}
}
