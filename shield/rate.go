package shield

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxRate bounds a rate, in requests per second: beyond it a limit limits
// nothing a single client can send.
const maxRate = 1_000_000

// ParseRate parses a rate as nginx's limit_req_zone writes it: a whole
// number of requests per second ("10r/s") or per minute ("60r/m"). It
// returns the rate in thousandths of a request per second, nginx's unit
// (60r/m is 1000, 1r/m is 16: nginx's integer arithmetic, kept).
func ParseRate(s string) (int64, error) {
	const want = `(want requests per second or minute, e.g. "10r/s" or "60r/m")`
	num, unit, ok := strings.Cut(s, "r/")
	if !ok || (unit != "s" && unit != "m") || num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a rate %s", s, want)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > maxRate {
		return 0, fmt.Errorf("%q is out of range (want 1r/m..%dr/s)", s, maxRate)
	}
	if unit == "m" {
		if n*1000/60 == 0 {
			return 0, fmt.Errorf("%q is out of range (want 1r/m..%dr/s)", s, maxRate)
		}
		return n * 1000 / 60, nil
	}
	return n * 1000, nil
}

// limit is one rule's rate limit.
type limit struct {
	id    uint64 // the rule's identity in the Table: survives reloads
	rate  int64  // thousandths of a request per second
	burst int64  // thousandths of a request
	delay bool   // delay excess requests (nginx's default) instead of serving them at once (nodelay)
	text  string // as configured, for -t
	rule  string // the rule's path as configured
}

// next returns the excess of an entry holding excess at last (ms), seen
// again at now (ms) with one more request: nginx's
// "lr->excess - ctx->rate * ms / 1000 + 1000", never below 0.
func (l *limit) next(excess, last, now int64) int64 {
	ms := max(now-last, 0)
	e := excess - l.rate*ms/1000 + 1000
	return max(e, 0)
}

// delayFor is how long a request with excess e waits with delay = true:
// nginx's "(excess - delay) * 1000 / rate" ms with delay 0; nodelay: 0.
func (l *limit) delayFor(e int64) time.Duration {
	if !l.delay || e <= 0 {
		return 0
	}
	return time.Duration(e*1000/l.rate) * time.Millisecond
}

// retryAfter is how long after now a client whose entry holds excess at
// last must wait before a request is accepted: the least ms with
// excess - rate*ms/1000 + 1000 <= burst, counted from last.
func (l *limit) retryAfter(excess, last, now int64) time.Duration {
	need := excess + 1000 - l.burst // to drain, in thousandths
	ms := (need*1000 + l.rate - 1) / l.rate
	return time.Duration(max(last+ms-now, 1)) * time.Millisecond
}

func (l *limit) String() string {
	mode := "excess served at once (nodelay)"
	if l.delay {
		mode = "excess delayed"
	}
	return fmt.Sprintf("rate %s, burst %d, %s", l.text, l.burst/1000, mode)
}
