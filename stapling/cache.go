package stapling

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// cacheFileName names the cache file of leaf: the SHA-256 of its DER bytes,
// so that a renewed certificate never picks up its predecessor's response.
func cacheFileName(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	return hex.EncodeToString(sum[:]) + ".ocsp"
}

// readCache returns the bytes of the cache file at path, or an error that
// satisfies errors.Is(err, fs.ErrNotExist) when there is none.
func readCache(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading OCSP cache %q: %w", path, err)
	}
	if len(b) > maxResponseSize {
		return nil, fmt.Errorf("reading OCSP cache %q: larger than %d bytes", path, maxResponseSize)
	}
	return b, nil
}

// writeCache replaces the file at path with data atomically: a temporary
// file in the same folder, mode 0600, synced, then renamed over path. A
// reader (another Stapler after a reload, or a restart) sees the old or the
// new response, never half of one.
func writeCache(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*.ocsp")
	if err != nil {
		return fmt.Errorf("writing OCSP cache in %q: %w", dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; say so explicitly in case that changes.
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing OCSP cache %q: %w", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing OCSP cache %q: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing OCSP cache %q: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing OCSP cache %q: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing OCSP cache %q: %w", path, err)
	}
	// Make the rename itself durable; failing that is not worth an error.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// removeCache deletes the cache file at path; a missing file is fine.
func removeCache(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing OCSP cache %q: %w", path, err)
	}
	return nil
}
