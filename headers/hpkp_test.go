package headers

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// fakePin returns a well-formed pin derived from s.
func fakePin(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestPinSHA256(t *testing.T) {
	// sha256("") is e3b0c442...b855; its base64 is well known.
	if got, want := PinSHA256(nil), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; got != want {
		t.Errorf("PinSHA256(nil) = %q, want %q", got, want)
	}
}

func TestHPKPValidate(t *testing.T) {
	served, served2, backup := fakePin("served"), fakePin("served2"), fakePin("backup")
	short := base64.StdEncoding.EncodeToString(make([]byte, 20))
	ok := HPKP{Pins: []string{served}, BackupPins: []string{backup}, MaxAge: 5184000}
	mod := func(f func(*HPKP)) HPKP { p := ok; f(&p); return p }

	tests := []struct {
		name    string
		p       HPKP
		wantErr string // "" means valid
	}{
		{"valid", ok, ""},
		{"valid with report-uri", mod(func(p *HPKP) { p.ReportURI = "https://report.example/hpkp" }), ""},
		{"backup among several, one distinct", mod(func(p *HPKP) { p.Pins = []string{served, served2}; p.BackupPins = []string{served2, backup} }), ""},
		{"no served pin", mod(func(p *HPKP) { p.Pins = nil }), "pins: no pin for the served keys"},
		{"no backup", mod(func(p *HPKP) { p.BackupPins = nil }), "a backup pin for a key not in the served chains is required, else losing the key locks users out for max_age"},
		{"backup equals served", mod(func(p *HPKP) { p.BackupPins = []string{served} }), "a backup pin for a key not in the served chains is required"},
		{"served pin not base64", mod(func(p *HPKP) { p.Pins = []string{"not base64!"} }), `pins: pin "not base64!" is not standard base64`},
		{"backup pin wrong length", mod(func(p *HPKP) { p.BackupPins = []string{short} }), `backup_pins: pin "` + short + `" decodes to 20 bytes, want 32`},
		{"URL-safe base64 refused", mod(func(p *HPKP) {
			p.BackupPins = []string{base64.URLEncoding.EncodeToString([]byte("\xfb\xff" + strings.Repeat("a", 30)))}
		}), "is not standard base64"},
		{"unpadded refused", mod(func(p *HPKP) { p.BackupPins = []string{strings.TrimRight(backup, "=")} }), "is not standard base64"},
		{"max-age zero", mod(func(p *HPKP) { p.MaxAge = 0 }), "max_age: 0 is not a positive number of seconds"},
		{"max-age negative", mod(func(p *HPKP) { p.MaxAge = -5 }), "max_age: -5"},
		{"relative report-uri", mod(func(p *HPKP) { p.ReportURI = "/report" }), "not an absolute URI"},
		{"report-uri with quote", mod(func(p *HPKP) { p.ReportURI = `https://r.example/"x` }), "contains quotes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestHPKPWarnings(t *testing.T) {
	tests := []struct {
		name string
		p    HPKP
		want []string // substrings, one per warning
	}{
		{"60 days exactly", HPKP{MaxAge: 5184000}, nil},
		{"over 60 days", HPKP{MaxAge: 5184001}, []string{"max_age 5184001 s (60 days) is over 60 days"}},
		{"a year", HPKP{MaxAge: 31536000}, []string{"(365 days)"}},
		{"report-only without uri", HPKP{MaxAge: 60, ReportOnly: true}, []string{"report_only without report_uri"}},
		{"report-only with uri", HPKP{MaxAge: 60, ReportOnly: true, ReportURI: "https://r.example/"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("Warnings() = %q, want %d warnings", got, len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("warning %q does not contain %q", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestHPKPHeader(t *testing.T) {
	a, b, c := fakePin("a"), fakePin("b"), fakePin("c")
	tests := []struct {
		name      string
		p         HPKP
		wantName  string
		wantValue string
	}{
		{"minimal", HPKP{Pins: []string{a}, BackupPins: []string{b}, MaxAge: 5184000}, "Public-Key-Pins",
			`pin-sha256="` + a + `"; pin-sha256="` + b + `"; max-age=5184000`},
		{"all directives", HPKP{Pins: []string{a}, BackupPins: []string{b}, MaxAge: 10, IncludeSubdomains: true, ReportURI: "https://r.example/p"},
			"Public-Key-Pins",
			`pin-sha256="` + a + `"; pin-sha256="` + b + `"; max-age=10; includeSubDomains; report-uri="https://r.example/p"`},
		{"report-only", HPKP{Pins: []string{a}, BackupPins: []string{b}, MaxAge: 10, ReportOnly: true}, "Public-Key-Pins-Report-Only",
			`pin-sha256="` + a + `"; pin-sha256="` + b + `"; max-age=10`},
		{"served first, duplicates dropped", HPKP{Pins: []string{b, a, b}, BackupPins: []string{a, c, c}, MaxAge: 1}, "Public-Key-Pins",
			`pin-sha256="` + b + `"; pin-sha256="` + a + `"; pin-sha256="` + c + `"; max-age=1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.HeaderName(); got != tc.wantName {
				t.Errorf("HeaderName() = %q, want %q", got, tc.wantName)
			}
			got := tc.p.HeaderValue()
			if got != tc.wantValue {
				t.Errorf("HeaderValue() =\n  %s\nwant\n  %s", got, tc.wantValue)
			}
			if !validFieldValue(got) {
				t.Errorf("HeaderValue() %q is not a valid field value", got)
			}
			if tc.p.Validate() == nil && strings.Count(got, "pin-sha256=") < 2 {
				t.Errorf("a valid policy must carry at least two pins: %q", got)
			}
		})
	}
}
