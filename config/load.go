package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	Line int    // 1-based; 0 when unknown
	Key  string // key path, e.g. "site[0].cert[1].key"
	Msg  string // what is wrong and what is allowed
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	sort.SliceStable(e.Problems, func(i, j int) bool { return e.Problems[i].Line < e.Problems[j].Line })
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "configuration"
	}
	fmt.Fprintf(&b, "%s: %d problem", name, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// raw mirrors Config with each section left undecoded, so that a wrong type
// in one section does not hide the problems of the others.
type raw struct {
	Server  toml.Primitive   `toml:"server"`
	TLS     toml.Primitive   `toml:"tls"`
	Headers toml.Primitive   `toml:"headers"`
	Proxy   toml.Primitive   `toml:"proxy"`
	OCSP    toml.Primitive   `toml:"ocsp"`
	ACME    toml.Primitive   `toml:"acme"`
	Sites   []toml.Primitive `toml:"site"`
	Log     toml.Primitive   `toml:"log"`
}

// Load reads and validates the file at path, with the environment's
// overrides (see EnvPrefix). Relative paths inside it are resolved against
// its folder.
//
// err is set, and cfg nil, when there is no configuration to look at: the
// file cannot be read, or is not TOML (then err is an *Error with the
// line). Otherwise problems lists every bad value, each with its line and
// key: callers go on checking what the file names (certificates, keys) and
// report everything at once, in an *Error; a cfg with problems must not be
// served.
func Load(path string) (cfg *Config, problems []Problem, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading configuration: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading configuration: %w", err)
	}
	var names []string
	for _, kv := range os.Environ() {
		names = append(names, strings.SplitN(kv, "=", 2)[0])
	}
	return ParseEnv(string(src), abs, names, os.LookupEnv)
}

// Parse decodes src as if read from path (which may be "" for in-memory
// files, in which case relative paths stay relative), applies defaults,
// resolves relative paths and validates. Its results are Load's.
func Parse(src, path string) (*Config, []Problem, error) { return ParseEnv(src, path, nil, nil) }

// ParseEnv is Parse with environment overrides (see EnvPrefix): environ
// names the variables present and lookup reads them.
func ParseEnv(src, path string, environ []string, lookup func(string) (string, bool)) (*Config, []Problem, error) {
	c := Defaults()
	c.Path = path
	if path != "" {
		c.Dir = filepath.Dir(path)
	}
	c.lines = indexLines(src)
	var problems []Problem

	var r raw
	md, err := toml.Decode(src, &r)
	if err != nil {
		return nil, nil, &Error{File: path, Problems: []Problem{decodeProblem(err, "")}}
	}
	decode := func(p toml.Primitive, v any, prefix string) {
		if err := md.PrimitiveDecode(p, v); err != nil {
			problems = append(problems, decodeProblem(err, prefix))
		}
	}
	decode(r.Server, &c.Server, "")
	decode(r.TLS, &c.TLS, "")
	decode(r.Headers, &c.Headers, "")
	decode(r.Proxy, &c.Proxy, "")
	decode(r.OCSP, &c.OCSP, "")
	decode(r.ACME, &c.ACME, "")
	decode(r.Log, &c.Log, "")
	c.Sites = make([]Site, len(r.Sites))
	for i := range c.Sites {
		c.Sites[i] = siteDefaults()
	}
	for i, p := range r.Sites {
		decode(p, &c.Sites[i], fmt.Sprintf("site[%d]", i))
	}
	for _, k := range md.Undecoded() {
		problems = append(problems, c.unknownKey(k.String()))
	}
	if lookup != nil {
		problems = append(problems, c.applyEnv(environ, lookup)...)
	}
	c.resolvePaths()
	problems = append(problems, c.validate()...)
	problems = append(problems, c.validateClientAuth()...)
	return &c, problems, nil
}

var decodeErrRE = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)

// decodeProblem turns a BurntSushi/toml error into a Problem. prefix replaces
// the first key element for array tables ("site" becomes "site[2]").
func decodeProblem(err error, prefix string) Problem {
	msg := err.Error()
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg = "toml: line " + strconv.Itoa(pe.Position.Line) + ` (last key "` + pe.LastKey + `"): ` + pe.Message
	}
	m := decodeErrRE.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Msg: strings.TrimPrefix(msg, "toml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	key := m[2]
	if prefix != "" {
		if _, rest, ok := strings.Cut(key, "."); ok {
			key = prefix + "." + rest
		}
	}
	text := m[3]
	if strings.HasPrefix(text, "incompatible types: ") {
		text = strings.TrimPrefix(text, "incompatible types: ")
		text = strings.Replace(text, "destination has type", "want", 1)
	}
	return Problem{Line: line, Key: key, Msg: text}
}

func (c *Config) unknownKey(key string) Problem {
	return Problem{Line: c.lines.find(key), Key: key, Msg: "unknown key (see config.example.toml for the keys tlsfront knows)"}
}

// resolvePaths makes file paths absolute against the config's folder.
func (c *Config) resolvePaths() {
	if c.Dir == "" {
		return
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.Dir, *p)
		}
	}
	abs(&c.Server.StateDir)
	abs(&c.ACME.CARoot)
	abs(&c.TLS.TicketKeys)
	abs(&c.Log.AccessFile)
	for i := range c.Sites {
		for j := range c.Sites[i].Certs {
			abs(&c.Sites[i].Certs[j].Cert)
			abs(&c.Sites[i].Certs[j].Key)
			abs(&c.Sites[i].Certs[j].Issuer)
		}
	}
	c.resolveClientAuthPaths(abs)
}

// Line returns the line on which key (e.g. "site[1].cert[0].key") is set, or 0.
func (c *Config) Line(key string) int { return c.lines.find(key) }

// Problemf builds a Problem for key with its line filled in. Callers outside
// this package use it to report problems found while loading what the file
// names (certificates, keys), in the same form as validation problems.
func (c *Config) Problemf(key, format string, args ...any) Problem {
	return Problem{Line: c.lines.find(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// lineIndex maps key paths to the line that sets them. Both the indexed form
// ("site[1].names") and the plain form ("site.names", its first occurrence) are
// kept, because BurntSushi/toml reports undecoded keys without indices.
type lineIndex map[string]int

var (
	tableRE = regexp.MustCompile(`^\s*(\[\[?)\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$`)
	keyRE   = regexp.MustCompile(`^\s*("[^"]*"|[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=`)
)

func indexLines(src string) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{}    // indexed parent + name -> number of [[ ]] seen
	latest := map[string]string{} // plain table path -> indexed path of its latest instance
	cur, curPlain := "", ""
	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if m := tableRE.FindStringSubmatch(line); m != nil {
			plain := strings.ReplaceAll(strings.ReplaceAll(m[2], " ", ""), `"`, "")
			parentPlain, name := "", plain
			if i := strings.LastIndex(plain, "."); i >= 0 {
				parentPlain, name = plain[:i], plain[i+1:]
			}
			parent := latest[parentPlain]
			if parent == "" {
				parent = parentPlain
			}
			full := name
			if parent != "" {
				full = parent + "." + name
			}
			if m[1] == "[[" {
				n := counts[full]
				counts[full] = n + 1
				full += "[" + strconv.Itoa(n) + "]"
			}
			latest[plain] = full
			cur, curPlain = full, plain
			idx.set(full, plain, lineNo)
			continue
		}
		if m := keyRE.FindStringSubmatch(line); m != nil {
			k := strings.ReplaceAll(strings.ReplaceAll(m[1], " ", ""), `"`, "")
			full, plain := k, k
			if cur != "" {
				full, plain = cur+"."+k, curPlain+"."+k
			}
			idx.set(full, plain, lineNo)
		}
	}
	return idx
}

func (idx lineIndex) set(full, plain string, line int) {
	if _, ok := idx[full]; !ok {
		idx[full] = line
	}
	if _, ok := idx[plain]; !ok {
		idx[plain] = line
	}
}

// find returns the line for key, trying shorter prefixes (a key inside an
// array element reports the element's line) before giving up.
func (idx lineIndex) find(key string) int {
	for k := key; k != ""; {
		if l, ok := idx[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}
