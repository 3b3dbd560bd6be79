// Package wire is tlsfront's HTTP/1.1 wire format: strict parsing of what
// clients and backends send, and the serialisation of what tlsfront sends,
// rebuilt from parsed values. It does no network I/O, so each piece can be
// fuzzed alone and compared with net/http's readers.
//
// It sits between the engines in package proxy (the HTTP/1.1 engine reads
// requests and backend responses with it; the HTTP/2 server validates
// :authority and :path with the same functions) and the bytes on the wire.
// Its rule is "reject, never repair": anything RFC 9112 does not allow, or
// that two readers could read two ways, is an error carrying the status to
// answer.
package wire
