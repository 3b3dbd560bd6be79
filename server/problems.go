package server

import "tlsfront/config"

// problemList gathers the problems of one build, so that -t and a failed
// reload list every one at once: config's own first, then those found
// while loading what the file names (certificates, keys, ticket keys) and
// while checking what needs them (HPKP pins).
type problemList struct {
	cfg  *config.Config
	list []config.Problem
	// fromConfig holds the keys config reported. A step using such a
	// value (tlsconf.NewPolicy on a bad min_version) reports it again
	// under the same key, because each package names the key its errors
	// belong to: that second report is dropped, never guessed at.
	fromConfig map[string]bool
}

func newProblemList(cfg *config.Config, fromConfig []config.Problem) *problemList {
	p := &problemList{cfg: cfg, fromConfig: map[string]bool{}}
	for _, pr := range fromConfig {
		p.list = append(p.list, pr)
		p.fromConfig[pr.Key] = true
	}
	return p
}

// add reports a problem with key, with the line the file sets it on.
func (p *problemList) add(key, format string, args ...any) {
	if p.fromConfig[key] {
		return
	}
	p.list = append(p.list, p.cfg.Problemf(key, format, args...))
}

func (p *problemList) any() bool { return len(p.list) > 0 }

// err returns every problem as one *config.Error, nil when there is none.
func (p *problemList) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &config.Error{File: p.cfg.Path, Problems: p.list}
}
