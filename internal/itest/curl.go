package itest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CurlResult is one curl transfer.
type CurlResult struct {
	// Status is the HTTP status code of the last response.
	Status int
	// HTTPVersion is curl's %{http_version}: "1.1", "2", ...
	HTTPVersion string
	// Headers are the last response's headers.
	Headers http.Header
	// Body is the response body.
	Body string
	// Stderr is curl's diagnostics (with -v, the exchange).
	Stderr string
	// ExitCode is curl's exit status (0 on any HTTP status).
	ExitCode int
}

// Curl runs `curl -sk` with args (URL included) for at most 30 s and returns
// the last response. The test fails if curl exits non-zero (no response).
// Args later on the command line override earlier ones, so --max-time
// may be given.
func Curl(t testing.TB, args ...string) CurlResult {
	t.Helper()
	r, err := TryCurl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TryCurl is Curl that returns curl's failure (refused, reset, timed out)
// as an error with ExitCode set, instead of failing the test.
func TryCurl(t testing.TB, args ...string) (CurlResult, error) {
	t.Helper()
	bin := RequireTool(t, "curl")
	dir := t.TempDir()
	hdr := filepath.Join(dir, "headers")
	body := filepath.Join(dir, "body")
	full := append([]string{"-sSk", "--max-time", "20", "-D", hdr, "-o", body,
		"-w", "%{http_code} %{http_version}"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	var stdout, stderr SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := CurlResult{Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("curl %s did not finish within 30s", strings.Join(args, " "))
	case err == nil:
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
		return r, fmt.Errorf("curl %s: exit %d: %s", strings.Join(args, " "), r.ExitCode, r.Stderr)
	default:
		return r, fmt.Errorf("running curl: %w", err)
	}
	if _, err := fmt.Sscan(stdout.String(), &r.Status, &r.HTTPVersion); err != nil {
		return r, fmt.Errorf("curl -w output %q: %w", stdout.String(), err)
	}
	raw, err := os.ReadFile(hdr)
	if err != nil {
		return r, fmt.Errorf("reading curl's header dump: %w", err)
	}
	if r.Headers, err = lastHeaderBlock(string(raw)); err != nil {
		return r, err
	}
	b, err := os.ReadFile(body)
	if err != nil && !os.IsNotExist(err) {
		return r, fmt.Errorf("reading curl's body: %w", err)
	}
	r.Body = string(b)
	return r, nil
}

// lastHeaderBlock parses the last status line + header block of a curl -D
// dump (earlier blocks are 1xx responses or redirects followed with -L).
func lastHeaderBlock(raw string) (http.Header, error) {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	blocks := strings.Split(strings.TrimRight(raw, "\n"), "\n\n")
	last := blocks[len(blocks)-1]
	i := strings.IndexByte(last, '\n')
	if !strings.HasPrefix(last, "HTTP/") {
		return nil, fmt.Errorf("curl header dump does not start with a status line: %q", raw)
	}
	if i < 0 {
		return http.Header{}, nil
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(last[i+1:] + "\n\n")))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("parsing curl header dump: %w", err)
	}
	return http.Header(h), nil
}
