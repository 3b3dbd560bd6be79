package tlsconf

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Session ticket keys shared by a fleet.
//
// A TLS session ticket is the server's encrypted session state, kept by the
// client and sent back to resume without a full handshake. Instances that
// share ticket keys resume each other's sessions, so clients behind a load
// balancer resume whichever instance they reach. The key file holds one or
// more keys, one per line, each 32 random bytes in standard base64:
//
//	# tlsfront session ticket keys: the first encrypts, all decrypt
//	openssl rand -base64 32 >> ticket.keys   # generate one key per line
//
// Rotation, with the same file on every instance: prepend a new key, keep
// the previous one(s) below it so outstanding tickets still resume, reload
// every instance, and later drop the oldest line. Keep the file mode 0600:
// whoever holds a key can decrypt the sessions it protected (forward
// secrecy of resumed sessions ends with the key).
//
// Give the keys to the State (Options.TicketKeys): each per-hello config
// then carries them, and crypto/tls prefers those to the listener config's,
// so a reload changes or removes them with the State. A State without keys
// uses the listener config's: Go's automatic keys, rotated daily and kept
// for the process's life, or keys set there with SetSessionTicketKeys.

// ticketKeySize is the size of one session ticket key, as
// tls.Config.SetSessionTicketKeys takes it.
const ticketKeySize = 32

// LoadTicketKeys reads a session ticket key file: one base64 key of exactly
// 32 bytes per line; blank lines and lines starting with "#" are ignored.
// The first key encrypts new tickets, all of them decrypt. Errors name the
// file and line; a file without keys is an error.
func LoadTicketKeys(path string) ([][32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading session ticket keys: %w", err)
	}
	keys, err := parseTicketKeys(data)
	if err != nil {
		return nil, fmt.Errorf("session ticket keys %q: %w", path, err)
	}
	return keys, nil
}

// parseTicketKeys is LoadTicketKeys on the file's contents.
func parseTicketKeys(data []byte) ([][32]byte, error) {
	var keys [][32]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), 64<<10)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: not standard base64 (generate a key with: openssl rand -base64 32): %w", line, err)
		}
		if len(raw) != ticketKeySize {
			return nil, fmt.Errorf("line %d: key is %d bytes, want %d (generate one with: openssl rand -base64 32)", line, len(raw), ticketKeySize)
		}
		keys = append(keys, [32]byte(raw))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading lines: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys (want one or more lines from: openssl rand -base64 32)")
	}
	return keys, nil
}
