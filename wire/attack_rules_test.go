package wire

import "testing"

// Targeted tests for what the attack vectors found: requests wire accepts
// that another reader (Apache, or wire itself on an equivalent input)
// reads another way.

// TestAttackConnectTarget: RFC 9110 §9.3.6 has CONNECT use the
// authority-form only, and Apache reads any CONNECT target as host:port
// (it answers "CONNECT /x" with 400 and closes), so a CONNECT request with
// an origin-form or absolute-form target is one two readers read two
// ways. net/http accepts both forms.
func TestAttackConnectTarget(t *testing.T) {
	for _, head := range []string{
		"CONNECT /x HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"CONNECT http://a.test:443/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	} {
		var r Request
		if _, err := r.Parse(head); err != ErrConnectTarget {
			t.Errorf("%q: Parse says %v (form %d, path %q), want ErrConnectTarget", head, err, r.Form, r.Path)
		}
	}
}

// TestAttackRequestHeadHost: what AppendRequestHead builds must be a head
// wire itself accepts. An HTTP/1.0 request without Host parses with
// Authority "", and AppendRequestHead used to send that as "Host: ", which
// wire (and Apache 2.4, even with HttpProtocolOptions Unsafe) refuses with
// 400. It now panics on an empty host: the engine supplies the backend's
// host:port (proxy/outbound.go outboundHost), and that head reads back.
func TestAttackRequestHeadHost(t *testing.T) {
	var r Request
	if _, err := r.Parse("GET /x HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("AppendRequestHead with an empty host did not panic")
			}
		}()
		AppendRequestHead(nil, r.Method, r.Path, r.Authority, nil, 0)
	}()
	head := AppendRequestHead(nil, r.Method, r.Path, backendHost, nil, 0)
	var back Request
	if _, err := back.Parse(string(head)); err != nil || back.Authority != backendHost {
		t.Errorf("AppendRequestHead for %q built %q, which wire reads as %q, %v", "GET /x HTTP/1.0", head, back.Authority, err)
	}
}

// TestAttackExpectLines: two Expect field lines are one list (RFC 9110
// §5.3), so they must mean what the joined line means. wire reads
// "Expect: 100-continue, 100-continue" as an unknown expectation (417) but
// two lines of "Expect: 100-continue" as 100-continue, which it forwards;
// Apache joins the lines and answers 417, then closes.
func TestAttackExpectLines(t *testing.T) {
	var joined, split Request
	if _, err := joined.Parse(post + "Expect: 100-continue, 100-continue\r\nContent-Length: 1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := split.Parse(post + "Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if joined.Expect != split.Expect {
		t.Errorf("one Expect line \"100-continue, 100-continue\" reads as %d, two lines of \"100-continue\" as %d", joined.Expect, split.Expect)
	}
}

// TestAttackUpgradeLines: the same for Upgrade. With two lines, wire
// keeps the last ("websocket") while the lines it would forward say
// "h2c, websocket" to a backend that joins them; one line keeps the whole
// list. An engine that allows "websocket" upgrades only, deciding on
// Request.Upgrade, lets h2c through (issue 13: strip Upgrade: h2c).
func TestAttackUpgradeLines(t *testing.T) {
	const h = "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\n"
	var joined, split Request
	if _, err := joined.Parse(h + "Upgrade: h2c, websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := split.Parse(h + "Upgrade: h2c\r\nUpgrade: websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if joined.Upgrade != split.Upgrade {
		t.Errorf("one Upgrade line \"h2c, websocket\" reads as %q, two lines as %q", joined.Upgrade, split.Upgrade)
	}
}
