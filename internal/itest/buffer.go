package itest

import (
	"bytes"
	"strings"
	"sync"
)

// SyncBuffer is the one locked buffer of the tests: a bytes.Buffer safe
// for writers that run beside the reading test (a process's output, a
// logger used by goroutines that may outlive the test).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the non-empty lines written so far.
func (b *SyncBuffer) Lines() []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Count returns how many times s occurs in what was written so far.
func (b *SyncBuffer) Count(s string) int { return strings.Count(b.String(), s) }
