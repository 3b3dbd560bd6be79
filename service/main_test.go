package service

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// watchdog loop that does not stop, a notify or serve goroutine).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
