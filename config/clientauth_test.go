package config

import (
	"strings"
	"testing"
)

const authSite = "[[site]]\nnames = [\"a.example\"]\nbackend = \"http://127.0.0.1:1\"\n[site.client_auth]\n"

func TestClientAuthDefaults(t *testing.T) {
	c, err := parseErr(site+"[[site]]\nnames = [\"b.example\"]\nbackend = \"http://127.0.0.1:2\"\n[site.client_auth]\nverify = \"require\"\nca = [\"ca.pem\"]\n", "/etc/tlsfront/tlsfront.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sites[0].ClientAuth; got.Verify != "none" || got.VerifyDepth != 1 || got.CRLMissing != "fail" || got.DNFormat != "rfc2253" || got.Export {
		t.Errorf("site without [site.client_auth]: %+v, want the defaults", got)
	}
	if got := c.Sites[1].ClientAuth; got.Verify != "require" || got.VerifyDepth != 1 || len(got.CA) != 1 || got.CA[0] != "/etc/tlsfront/ca.pem" {
		t.Errorf("site with verify = require: %+v, want the defaults, ca resolved against the config's folder", got)
	}
}

func TestClientAuthProblems(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"bad verify", "verify = \"yes\"\n", []string{`line 5: site[0].client_auth.verify: "yes" is not a verify level (want none, optional, require or optional_no_ca)`}},
		{"require without ca", "verify = \"require\"\n", []string{`site[0].client_auth.ca: is empty but verify = "require"`}},
		{"crl without verify", "crl = [\"c.crl\"]\n", []string{`line 5: site[0].client_auth.crl: is set but verify = "none"`}},
		{"ocsp without verify", "ocsp = true\n", []string{`site[0].client_auth.ocsp: is set but verify = "none"`}},
		{"depth", "verify = \"optional_no_ca\"\nverify_depth = -1\n", []string{`site[0].client_auth.verify_depth: -1 is out of range`}},
		{"crl_missing", "verify = \"optional\"\nca = [\"a\"]\ncrl_missing = \"ignore\"\n", []string{`site[0].client_auth.crl_missing: "ignore" is not allowed (want "fail"`}},
		{"dn_format", "dn_format = \"ldap\"\n", []string{`site[0].client_auth.dn_format: "ldap" is not a DN format`}},
		{"unknown key", "verify_client = \"require\"\n", []string{`site.client_auth.verify_client: unknown key`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseErr(authSite+tc.body, "")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	for _, ok := range []string{"export = true\n", "verify = \"optional_no_ca\"\n", "verify = \"optional\"\nca = [\"ca.pem\"]\ncrl_fetch = true\ncrl_missing = \"allow\"\nocsp = true\ndn_format = \"legacy\"\nverify_depth = 0\n"} {
		if _, err := parseErr(authSite+ok, ""); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

func TestClientAuthEnv(t *testing.T) {
	env := map[string]string{"TLSFRONT_SITE_CLIENT_AUTH_VERIFY": "optional", "TLSFRONT_SITE_CLIENT_AUTH_CA": "a.pem,b.pem", "TLSFRONT_SITE_CLIENT_AUTH_EXPORT": "true"}
	var names []string
	for k := range env {
		names = append(names, k)
	}
	c, err := parseEnvErr(site, "", names, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sites[0].ClientAuth; got.Verify != "optional" || len(got.CA) != 2 || !got.Export || got.VerifyDepth != 1 {
		t.Errorf("from the environment: %+v", got)
	}
}
