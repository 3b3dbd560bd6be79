package wire

// Field is one header or trailer field line: its name as received (a
// token, RFC 9110 §5.1) and its value without leading or trailing
// whitespace. Values may hold obs-text (bytes 0x80 and above) but never a
// control byte other than HTAB.
type Field struct {
	Name, Value string
}

// MaxFields is the most field lines a request head or trailer section may
// have: more is refused with 431. Apache refuses more than 100 (its
// LimitRequestFields default), HAProxy more than 101. A request under it
// may still exceed Apache's limit once a proxy adds its forwarding fields:
// tlsfront's request path counts the request it sends too.
const MaxFields = 100

// MaxResponseFields is the most field lines a response head may have
// (ErrResponseFields): far above what applications send (Set-Cookie lines
// included), it bounds what one response head makes a parser keep.
const MaxResponseFields = 1000

// tchar is RFC 9110's token alphabet.
var tchar = [256]bool{}

// fieldValueByte holds the bytes a field value may contain: HTAB, SP,
// VCHAR and obs-text.
var fieldValueByte = [256]bool{}

func init() {
	for c := '0'; c <= '9'; c++ {
		tchar[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		tchar[c] = true
		tchar[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tchar[c] = true
	}
	fieldValueByte['\t'] = true
	for c := 0x20; c <= 0xff; c++ {
		fieldValueByte[c] = c != 0x7f
	}
}

// ValidToken reports whether s is a non-empty RFC 9110 token.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether s may be sent as a field value: no
// control byte other than HTAB, and no leading or trailing whitespace.
func ValidFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !fieldValueByte[s[i]] {
			return false
		}
	}
	return s == "" || s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t'
}

// parseFields parses field lines from s up to and including the empty line
// that ends them, appending to fields. It returns the fields and the number
// of bytes of s consumed. Every line must end in CRLF; a line starting with
// whitespace (obs-fold), a name that is not a token or is followed by
// anything but ':' (RFC 9112 §5.1 forbids whitespace there), and a value
// with a control byte are refused. More than max fields: ErrTooManyFields.
// s must hold the whole section, its empty line included; a section cut
// short is refused (ErrFieldName).
func parseFields(s string, fields []Field, max int) ([]Field, int, *Error) {
	i := 0
	for {
		if i+1 < len(s) && s[i] == '\r' && s[i+1] == '\n' {
			return fields, i + 2, nil
		}
		if i >= len(s) {
			return fields, i, ErrFieldName
		}
		c := s[i]
		if c == ' ' || c == '\t' {
			return fields, i, ErrObsFold
		}
		start := i
		for i < len(s) && tchar[s[i]] {
			i++
		}
		if i == start || i >= len(s) || s[i] != ':' {
			return fields, i, fieldLineError(s, i)
		}
		name := s[start:i]
		i++ // the colon
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		vstart := i
		for i < len(s) && fieldValueByte[s[i]] {
			i++
		}
		vend := i
		if i+1 >= len(s) || s[i] != '\r' || s[i+1] != '\n' {
			return fields, i, valueEndError(s, i)
		}
		for vend > vstart && (s[vend-1] == ' ' || s[vend-1] == '\t') {
			vend--
		}
		if len(fields) >= max {
			return fields, i, ErrTooManyFields
		}
		fields = append(fields, Field{Name: name, Value: s[vstart:vend]})
		i += 2
	}
}

// fieldLineError classifies what stopped a field name at s[i].
func fieldLineError(s string, i int) *Error {
	if i < len(s) {
		switch s[i] {
		case '\n':
			return ErrBareLF
		case '\r':
			if i+1 >= len(s) || s[i+1] != '\n' {
				return ErrBareCR
			}
		}
	}
	return ErrFieldName
}

// valueEndError classifies what stopped a field value at s[i].
func valueEndError(s string, i int) *Error {
	if i < len(s) {
		switch s[i] {
		case '\n':
			return ErrBareLF
		case '\r':
			return ErrBareCR
		}
	}
	return ErrFieldValue
}

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// HasToken reports whether the comma-separated list v (a Connection,
// Upgrade or TE value) has an element equal to token, ignoring case and
// the whitespace around elements.
func HasToken(v, token string) bool {
	for v != "" {
		var elem string
		if i := indexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, ""
		}
		if EqualFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

// Tokens calls fn with each non-empty element of the comma-separated list
// v, whitespace trimmed, in order.
func Tokens(v string, fn func(string)) {
	for v != "" {
		var elem string
		if i := indexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, ""
		}
		if elem = trimOWS(elem); elem != "" {
			fn(elem)
		}
	}
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// notTrailers are the fields that may not be sent as trailers (RFC 9110
// §6.5.1: framing, routing, authentication, request modifiers, response
// control, content format): httpguts.ValidTrailerHeader's list.
var notTrailers = [...]string{
	"authorization", "cache-control", "connection", "content-encoding", "content-length", "content-range",
	"content-type", "expect", "host", "keep-alive", "max-forwards", "pragma", "proxy-authenticate",
	"proxy-authorization", "proxy-connection", "range", "realm", "te", "trailer", "transfer-encoding",
	"www-authenticate",
}

// ValidTrailerName reports whether a field named name may be passed on as
// a trailer: not one of those RFC 9110 §6.5.1 keeps in the header section
// (the list net/http's httpguts.ValidTrailerHeader holds), nor a
// conditional ("If-*"). A recipient acting on such a trailer would act on
// a field that came after the content it governs.
func ValidTrailerName(name string) bool {
	if len(name) >= 3 && EqualFold(name[:3], "if-") {
		return false
	}
	for _, n := range notTrailers {
		if len(n) == len(name) && EqualFold(name, n) {
			return false
		}
	}
	return true
}
