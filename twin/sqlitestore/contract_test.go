package sqlitestore_test

import (
	"context"
	"testing"

	"github.com/twinway/twinway/twin/sqlitestore"
	"github.com/twinway/twinway/twin/storetest"
)

// TestContract runs the store contract suite against the embedded store,
// each test on a database of its own in a temporary directory.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return st
	})
}
