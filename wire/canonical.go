package wire

// CanonicalName returns the canonical form of a field name, as net/http
// writes it: the first letter and every letter after '-' upper case, the
// others lower case ("content-type" -> "Content-Type"). A name already in
// that form is returned as it is and common names come from a table, so
// only an uncommon name in another case allocates.
func CanonicalName(name string) string {
	if isCanonical(name) {
		return name
	}
	var buf [64]byte
	if len(name) <= len(buf) {
		b := appendCanonical(buf[:0], name)
		if c, ok := commonNames[string(b)]; ok {
			return c
		}
		return string(b)
	}
	return string(appendCanonical(nil, name))
}

// AppendCanonical appends the canonical form of name to dst.
func AppendCanonical(dst []byte, name string) []byte { return appendCanonical(dst, name) }

func appendCanonical(dst []byte, name string) []byte {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

func isCanonical(name string) bool {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// commonNames interns the canonical names of common fields, keyed by
// themselves: HTTP/2 clients send every name in lower case.
var commonNames = map[string]string{}

func init() {
	for _, n := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Access-Control-Request-Headers", "Access-Control-Request-Method", "Age", "Allow",
		"Authorization", "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Location", "Content-Range", "Content-Type",
		"Cookie", "Date", "Dnt", "Etag", "Expect", "Expires", "Forwarded", "From", "Host",
		"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Keep-Alive", "Last-Modified", "Link", "Location", "Max-Forwards", "Origin", "Pragma",
		"Priority", "Proxy-Authorization", "Proxy-Connection", "Purpose", "Range", "Referer",
		"Refresh", "Retry-After", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Sec-Gpc",
		"Sec-Purpose", "Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
		"Sec-Websocket-Version", "Server", "Set-Cookie", "Te", "Trailer", "Transfer-Encoding",
		"Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Vary", "Via", "Www-Authenticate",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Powered-By",
		"X-Real-Ip", "X-Requested-With",
	} {
		commonNames[n] = n
	}
}
