package headers

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// PinSHA256 returns the RFC 7469 pin of a public key: the standard base64 of
// the SHA-256 of its DER SubjectPublicKeyInfo (x509.Certificate's
// RawSubjectPublicKeyInfo, or x509.MarshalPKIXPublicKey's output).
func PinSHA256(spkiDER []byte) string {
	sum := sha256.Sum256(spkiDER)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// hpkpMaxAgeWarn is the max-age above which Warnings warns: 60 days, the
// value RFC 7469 §4.1 gives as a reasonable upper bound.
const hpkpMaxAgeWarn = 60 * 24 * 3600

// HPKP is an HTTP Public Key Pinning policy (RFC 7469). Browsers have dropped
// HPKP (Chrome 72, Firefox 72), but the tutorial sets it and scanners still
// grade it; a wrong pin set can lock users out, hence Validate.
type HPKP struct {
	// Pins are the pins of the keys tlsfront serves (PinSHA256 of each
	// served certificate's key, or of its issuers'). At least one is
	// required.
	Pins []string
	// BackupPins are pins of keys kept offline for the next certificate. At
	// least one must match none of Pins (RFC 7469 §4.3).
	BackupPins []string
	// MaxAge is how long browsers remember the pins, in seconds. Must be
	// greater than 0; more than 60 days (5184000) is warned about.
	MaxAge int64
	// IncludeSubdomains extends the pins to every subdomain. false: this
	// host only.
	IncludeSubdomains bool
	// ReportURI is the absolute URI browsers report pin failures to. "" sends
	// no report-uri directive.
	ReportURI string
	// ReportOnly sends Public-Key-Pins-Report-Only: failures are reported,
	// not enforced. false: Public-Key-Pins, enforced.
	ReportOnly bool
}

// Validate reports the first problem that would make the policy ignored or
// dangerous: no served pin, a pin that is not the base64 of 32 bytes, no
// backup pin distinct from the served pins, a non-positive MaxAge, or a
// ReportURI that is not an absolute URI.
func (p HPKP) Validate() error {
	if len(p.Pins) == 0 {
		return errors.New("hpkp: pins: no pin for the served keys (compute them with \"tlsfront pins CERT.pem\")")
	}
	for _, list := range []struct {
		name string
		pins []string
	}{{"pins", p.Pins}, {"backup_pins", p.BackupPins}} {
		for _, pin := range list.pins {
			if err := checkPin(pin); err != nil {
				return fmt.Errorf("hpkp: %s: %w", list.name, err)
			}
		}
	}
	if !p.hasBackup() {
		return errors.New("hpkp: backup_pins: a backup pin for a key not in the served chains is required, " +
			"else losing the key locks users out for max_age (RFC 7469 §4.3)")
	}
	if p.MaxAge <= 0 {
		return fmt.Errorf("hpkp: max_age: %d is not a positive number of seconds", p.MaxAge)
	}
	if p.ReportURI != "" {
		u, err := url.Parse(p.ReportURI)
		switch {
		case err != nil:
			return fmt.Errorf("hpkp: report_uri %q: %w", p.ReportURI, err)
		case !u.IsAbs() || u.Host == "":
			return fmt.Errorf("hpkp: report_uri %q: not an absolute URI (want e.g. \"https://report.example.com/hpkp\")", p.ReportURI)
		case strings.ContainsAny(p.ReportURI, "\"\\") || !validFieldValue(p.ReportURI):
			return fmt.Errorf("hpkp: report_uri %q: contains quotes, backslashes or control characters", p.ReportURI)
		}
	}
	return nil
}

// checkPin reports whether pin is the standard base64 of exactly 32 bytes.
func checkPin(pin string) error {
	raw, err := base64.StdEncoding.Strict().DecodeString(pin)
	if err != nil || strings.ContainsAny(pin, "\r\n") {
		return fmt.Errorf("pin %q is not standard base64", pin)
	}
	if len(raw) != sha256.Size {
		return fmt.Errorf("pin %q decodes to %d bytes, want %d (a SHA-256)", pin, len(raw), sha256.Size)
	}
	return nil
}

// hasBackup reports whether some backup pin matches no served pin.
func (p HPKP) hasBackup() bool {
	for _, b := range p.BackupPins {
		served := false
		for _, s := range p.Pins {
			if b == s {
				served = true
				break
			}
		}
		if !served {
			return true
		}
	}
	return false
}

// Warnings lists problems that do not make the policy invalid but deserve the
// operator's attention.
func (p HPKP) Warnings() []string {
	var w []string
	if p.MaxAge > hpkpMaxAgeWarn {
		w = append(w, fmt.Sprintf("hpkp: max_age %d s (%d days) is over 60 days (RFC 7469 §4.1): a lost or compromised key locks users out that long",
			p.MaxAge, p.MaxAge/86400))
	}
	if p.ReportOnly && p.ReportURI == "" {
		w = append(w, "hpkp: report_only without report_uri: browsers neither enforce nor report anything")
	}
	return w
}

// HeaderName returns Public-Key-Pins, or Public-Key-Pins-Report-Only when
// p.ReportOnly.
func (p HPKP) HeaderName() string {
	if p.ReportOnly {
		return "Public-Key-Pins-Report-Only"
	}
	return "Public-Key-Pins"
}

// HeaderValue returns the header value (RFC 7469 §2.1): served pins, then
// backup pins, each once, then max-age, includeSubDomains and report-uri:
//
//	pin-sha256="A..="; pin-sha256="B..="; max-age=5184000; includeSubDomains; report-uri="https://r.example/"
func (p HPKP) HeaderValue() string {
	var b strings.Builder
	seen := make(map[string]bool, len(p.Pins)+len(p.BackupPins))
	for _, list := range [][]string{p.Pins, p.BackupPins} {
		for _, pin := range list {
			if seen[pin] {
				continue
			}
			seen[pin] = true
			b.WriteString(`pin-sha256="`)
			b.WriteString(pin)
			b.WriteString(`"; `)
		}
	}
	b.WriteString("max-age=")
	b.WriteString(strconv.FormatInt(p.MaxAge, 10))
	if p.IncludeSubdomains {
		b.WriteString("; includeSubDomains")
	}
	if p.ReportURI != "" {
		b.WriteString(`; report-uri="`)
		b.WriteString(p.ReportURI)
		b.WriteString(`"`)
	}
	return b.String()
}
