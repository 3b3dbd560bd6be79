package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "TLSFRONT_"

// Environment overrides, for containers: every scalar key (and every list
// of strings, comma-separated) can be set by a variable named after its path
// in upper case with "_" for ".": server.https is TLSFRONT_SERVER_HTTPS,
// headers.hpkp.max_age is TLSFRONT_HEADERS_HPKP_MAX_AGE. Site keys go to the
// first site as TLSFRONT_SITE_BACKEND, or to site N as TLSFRONT_SITE_N_BACKEND;
// naming the site after the last one adds it, so a whole single-site
// configuration can come from the environment (TLSFRONT_SITE_NAMES,
// TLSFRONT_SITE_BACKEND). Variables win over the file. A TLSFRONT_ variable
// that names no key is a problem like a bad value (a typo such as
// TLSFRONT_HEADER_HSTS would otherwise be silently ignored), except the
// service links Kubernetes injects for a Service named tlsfront[-...]
// (TLSFRONT_SERVICE_HOST, TLSFRONT_PORT_443_TCP, ...), which are not ours.

// applyEnv applies the overrides found through lookup and returns the
// problems with their values. environ lists the variable names present.
func (c *Config) applyEnv(environ []string, lookup func(string) (string, bool)) []Problem {
	var ps []Problem
	sections := map[string]reflect.Value{}
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name := tomlName(f)
		if name == "" || name == "site" {
			continue
		}
		sections[strings.ToUpper(name)] = v.Field(i)
	}
	names := append([]string{}, environ...)
	sort.Strings(names)
	for _, env := range names {
		rest, ok := strings.CutPrefix(env, EnvPrefix)
		if !ok {
			continue
		}
		val, _ := lookup(env)
		if k8sServiceLink(rest, val) {
			continue
		}
		section, key, _ := strings.Cut(rest, "_")
		if section == "SITE" {
			if p := c.applySiteEnv(env, key, val); p != nil {
				ps = append(ps, *p)
			}
			continue
		}
		sv, ok := sections[section]
		if !ok {
			ps = append(ps, Problem{Key: env, Msg: noKeyMsg})
			continue
		}
		if p := setField(sv, strings.ToLower(section), key, env, val); p != nil {
			ps = append(ps, *p)
		}
	}
	return ps
}

func (c *Config) applySiteEnv(env, key, val string) *Problem {
	idx := 0
	if n, rest, ok := strings.Cut(key, "_"); ok {
		if i, err := strconv.Atoi(n); err == nil {
			idx, key = i, rest
		}
	}
	if idx > len(c.Sites) {
		return &Problem{Key: env, Msg: fmt.Sprintf("names site %d, but there are only %d sites (set site %d first)", idx, len(c.Sites), len(c.Sites))}
	}
	if idx == len(c.Sites) {
		c.Sites = append(c.Sites, siteDefaults())
	}
	return setField(reflect.ValueOf(&c.Sites[idx]).Elem(), fmt.Sprintf("site[%d]", idx), key, env, val)
}

var durationType = reflect.TypeOf(Duration{})

// setField finds the scalar field of struct sv whose upper-cased path
// (nested tables joined with "_") is key, and sets it from val.
func setField(sv reflect.Value, prefix, key, env, val string) *Problem {
	for i := 0; i < sv.NumField(); i++ {
		f := sv.Type().Field(i)
		name := tomlName(f)
		if name == "" {
			continue
		}
		up := strings.ToUpper(name)
		fv := sv.Field(i)
		path := prefix + "." + name
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			if rest, ok := strings.CutPrefix(key, up+"_"); ok {
				return setField(fv, path, rest, env, val)
			}
			continue
		}
		if up != key {
			continue
		}
		bad := func(want string) *Problem {
			return &Problem{Key: env + " (" + path + ")", Msg: fmt.Sprintf("%s is not %s", quote(val), want)}
		}
		switch {
		case fv.Type() == durationType:
			d, err := time.ParseDuration(val)
			if err != nil {
				return bad(`a duration such as "10s"`)
			}
			fv.Set(reflect.ValueOf(Duration{d}))
		case fv.Kind() == reflect.String:
			fv.SetString(val)
		case fv.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("true or false")
			}
			fv.SetBool(b)
		case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return bad("an integer")
			}
			fv.SetInt(n)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			var list []string
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			fv.Set(reflect.ValueOf(list))
		default:
			return &Problem{Key: env, Msg: path + " cannot be set from the environment (only scalars and lists of strings); use the file"}
		}
		return nil
	}
	return &Problem{Key: env, Msg: noKeyMsg}
}

const noKeyMsg = "names no key (want TLSFRONT_<SECTION>_<KEY> for a key of config.example.toml, e.g. TLSFRONT_SERVER_HTTPS or TLSFRONT_SITE_BACKEND)"

// k8sServiceLink reports whether TLSFRONT_<rest>=val is one of the
// variables Kubernetes sets for a Service whose name starts with
// "tlsfront" (https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables):
// SVC_SERVICE_HOST, SVC_SERVICE_PORT[_NAME], SVC_PORT=tcp://..., and
// SVC_PORT_443_TCP[_PROTO|_PORT|_ADDR]. No key of tlsfront ends that way.
func k8sServiceLink(rest, val string) bool {
	if k8sLinkRE.MatchString(rest) {
		return true
	}
	if rest == "PORT" || strings.HasSuffix(rest, "_PORT") { // SVC_PORT=tcp://10.0.0.7:443
		for _, scheme := range []string{"tcp://", "udp://", "sctp://"} {
			if strings.HasPrefix(val, scheme) {
				return true
			}
		}
	}
	return false
}

var k8sLinkRE = regexp.MustCompile(`^([A-Z0-9_]+_)?(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)$`)

func tomlName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("toml"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}
