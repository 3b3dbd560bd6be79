// Package shield decides, for each request, whether tlsfront lets it reach
// the legacy backend: per-site access rules on path prefixes, per-client
// rate limits and per-client connection counts. It sits in the request path
// after routing (the site is known) and before the backend is asked; a
// refusal is answered by the caller (403, 429 with Retry-After, 400) and
// never reaches Apache. It is pure logic: no network I/O, time injected.
//
// # Paths
//
// Rules match the path as Apache 2.2 maps it, not as the client spelled it
// (see Normalize): every %XX is decoded once (as ap_unescape_url does),
// dot segments are removed (RFC 3986 §5.2.4, as ap_getparents does), then
// runs of "/" are collapsed (as <Location> matching does, ap_no2slash). A
// rule's path is a prefix that matches on segment boundaries: "/admin"
// matches "/admin", "/admin/" and "/admin/x", not "/administrator" (Apache
// 2.2's <Location> rule, request.c location_walk). With case_insensitive
// the comparison folds ASCII letters, and the three non-ASCII letters whose
// case mapping lands on ASCII (ſ U+017F, ı U+0131, K U+212A), as a
// case-insensitive file system may.
//
// What Apache itself reads in more than one way is refused (400), never
// guessed: an encoded slash (%2F: Apache 2.2 answers 404 with the default
// AllowEncodedSlashes Off, decodes it to a separator with On, and keeps it
// inside the segment with NoDecode), a backslash raw or encoded (a separator
// for Apache on Windows, an ordinary byte on Unix), an encoded NUL, a
// malformed escape, and a raw space or control byte. Only sites with a rule
// for a path other than "/" refuse them: where every rule covers the whole
// site, the spelling cannot matter.
//
// A ";" in the raw path is read a second way too, as Tomcat behind mod_jk
// or mod_proxy_ajp reads it (";params" removed from every segment before
// decoding): "/manager;x/html" is "/manager/html" to Tomcat. Both readings
// are checked; access is refused if either reading is refused, and the rate
// limits of both apply.
//
// # Access (allow, deny)
//
// Of the rules whose path matches, the most specific one (the longest
// normalised path) that has an allow or deny list decides; rules without
// lists (rate limits only) do not take part. Within that rule the first
// list that contains the client wins, allow before deny; a client in
// neither list is allowed. This is the outcome of Apache 2.2's
// "Order Deny,Allow" (mod_authz_host: Deny is evaluated, then Allow, which
// overrides it; the default is to allow), and of nginx's
// "allow ...; deny ...;" in that order:
//
//	allow = ["127.0.0.1/32", "10.0.0.0/8"]
//	deny  = ["all"]
//
// lets 127.0.0.1 and 10/8 in and refuses everyone else. "all" matches every
// address. Lists hold CIDRs ("10.0.0.0/8", "2001:db8::/32") or single
// addresses; IPv4-mapped IPv6 clients are matched as IPv4. A rule that
// allows some addresses and denies none allows everyone, so Rule.Problems
// reports it (want deny = ["all"]).
//
// # Rate limits (rate, burst, delay)
//
// Every matching rule with a rate applies, each with its own state per
// client (an IPv4 address, or an IPv6 /64), with nginx's limit_req
// arithmetic (ngx_http_limit_req_module.c, checked against nginx 1.22 in
// TestNginxAgreement): a request raises the client's excess by one; the
// excess drains at the rate, in whole milliseconds; a request that would
// take the excess above burst is rejected (429 with Retry-After) and costs
// nothing. So a fresh client may send burst+1 requests at once. With
// delay = false (nginx's nodelay) the accepted requests are served at once;
// with delay = true a request with excess e waits e/rate before it is
// forwarded (nginx's default). When several limits apply, a request
// rejected by one is charged to none, as nginx does. Access is checked
// before rate limits, so refused requests cost no table entry.
//
// The state lives in a Table shared by every generation: it survives
// reloads, as nginx's shared zones do, for rules whose site (first name)
// and normalised path are unchanged; a new rate or burst applies to the
// excess already counted. The table holds at most its size in entries
// (client, rule); past that the least recently seen entry is forgotten, as
// nginx expires the oldest node of a full zone, so a forgotten client
// starts afresh.
package shield
