package wire

// Error is a message tlsfront refuses, with the status to answer: 400 for
// what RFC 9112 does not allow or two readers could read two ways, 413 for
// a body too large, 431 for a head too large, 501 for a transfer coding
// tlsfront does not implement, 505 for an HTTP version it does not speak.
// (For a backend's response, every Error means 502.) After any Error the
// connection it came on is closed: its framing is no longer known.
//
// The parsers return the package's own *Error values, never allocating
// one, so a refusal costs nothing but the answer.
type Error struct {
	Status int    // the status to answer the client with
	Reason string // what was wrong, for the log; never echoes the input
}

func (e *Error) Error() string { return e.Reason }

func newError(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// Refusals of a request head.
var (
	ErrBareLF           = newError(400, "line ends in a bare LF (want CRLF)")
	ErrBareCR           = newError(400, "bare CR in the head")
	ErrRequestLine      = newError(400, "malformed request line")
	ErrMethod           = newError(400, "method is not a token")
	ErrVersion          = newError(400, "malformed HTTP version")
	ErrVersionNotHTTP1  = newError(505, "HTTP version not supported (want HTTP/1.0 or HTTP/1.1)")
	ErrTarget           = newError(400, "request target is not origin-form or absolute-form")
	ErrAbsoluteScheme   = newError(400, "absolute-form target with a scheme other than http or https")
	ErrAuthority        = newError(400, "malformed authority in the request target")
	ErrConnectTarget    = newError(400, "CONNECT target is not host:port")
	ErrObsFold          = newError(400, "obsolete line folding (a field line starting with whitespace)")
	ErrFieldName        = newError(400, "field name is not a token, or whitespace before the colon")
	ErrFieldValue       = newError(400, "control byte in a field value")
	ErrTooManyFields    = newError(431, "too many header fields")
	ErrNoHost           = newError(400, "HTTP/1.1 request without Host")
	ErrManyHosts        = newError(400, "more than one Host")
	ErrHost             = newError(400, "malformed Host")
	ErrContentLength    = newError(400, "Content-Length is not one decimal number")
	ErrManyLengths      = newError(400, "more than one Content-Length")
	ErrLengthAndTE      = newError(400, "both Content-Length and Transfer-Encoding")
	ErrTEOnHTTP10       = newError(400, "Transfer-Encoding on an HTTP/1.0 request")
	ErrTransferCoding   = newError(501, "Transfer-Encoding with a coding other than chunked")
	ErrTransferEncoding = newError(400, "Transfer-Encoding whose final coding is not chunked, chunked twice, or with an empty element")
	ErrTrailerField     = newError(400, "Trailer names a field that may not be a trailer")
)

// Refusals of a chunked body.
var (
	ErrChunkSize      = newError(400, "malformed chunk size")
	ErrChunkTooLarge  = newError(400, "chunk size of 2^60 bytes or more, or over 16 digits")
	ErrChunkExtension = newError(400, "malformed chunk extension")
	ErrChunkLine      = newError(400, "chunk line too long")
	ErrChunkOverhead  = newError(400, "chunked body with too much non-data (extensions, tiny chunks)")
	ErrChunkEnd       = newError(400, "chunk data not followed by CRLF")
	ErrTrailerTooLong = newError(431, "trailer section too long")
)

// Refusals of a backend's response head (each answered with 502).
var (
	ErrStatusLine     = newError(502, "malformed status line")
	ErrStatusCode     = newError(502, "status code outside 100..599")
	ErrResponseTE     = newError(502, "response Transfer-Encoding other than one chunked on HTTP/1.1")
	ErrResponseFields = newError(502, "more than MaxResponseFields response header fields")
	ErrResponseLength = newError(502, "response with several or malformed Content-Length, or with Content-Length and Transfer-Encoding")
)
