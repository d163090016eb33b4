package mongostore

import (
	"fmt"
	"os"
	"testing"
)

// TestMain says, even without -v, when the MongoDB contract suite is
// skipped.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(EnvURI) == "" {
		fmt.Fprintf(os.Stderr, "mongostore: MongoDB contract suite SKIPPED: %s is not set\n", EnvURI)
	}
	os.Exit(code)
}
