package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/storetest"
)

// EnvURI names the environment variable that points the contract suite at
// a MongoDB server (a replica set or a standalone server), e.g.
// mongodb://localhost:27017. Each test gets a database of its own, dropped
// at its end.
const EnvURI = "TWINWAY_MONGODB_URI"

func TestContract(t *testing.T) {
	uri := os.Getenv(EnvURI)
	if uri == "" {
		t.Skipf("SKIPPED: the MongoDB store contract suite did not run, because %s is not set (set it to a MongoDB URI, e.g. mongodb://localhost:27017, to run it)", EnvURI)
	}
	admin, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect for cleanup: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = admin.Disconnect(ctx)
	})
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db := testDatabase()
		st, err := Open(context.Background(), Config{URI: uri, Database: db})
		if err != nil {
			t.Fatalf("Open(%s): %v", db, err)
		}
		t.Cleanup(func() { // after the suite's Close
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := admin.Database(db).Drop(ctx); err != nil {
				t.Errorf("drop database %s: %v", db, err)
			}
		})
		return st
	})
}

// testDatabase is a fresh database name.
func testDatabase() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "twinway_test_" + hex.EncodeToString(b)
}

// With a server: Ping answers, indexes exist, a second Open of the same
// database works (index creation is idempotent).
func TestOpenWithServer(t *testing.T) {
	uri := os.Getenv(EnvURI)
	if uri == "" {
		t.Skipf("SKIPPED: needs a MongoDB server; %s is not set", EnvURI)
	}
	db := testDatabase()
	ctx := context.Background()
	st, err := Open(ctx, Config{URI: uri, Database: db, OperationTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = st.client.Database(db).Drop(ctx)
		_ = st.Close()
	}()
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	again, err := Open(ctx, Config{URI: uri, Database: db})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	_ = again.Close()
	if name := st.policies.Name(); name != DefaultPoliciesCollection {
		t.Errorf("policies collection %q, want %q", name, DefaultPoliciesCollection)
	}
	cur, err := st.things.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, i := range idx {
		names[i.Name] = true
	}
	for _, want := range []string{"_id_", "namespace_id", "policyId", "modified_id"} {
		if !names[want] {
			t.Errorf("index %s missing (have %v)", want, names)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := st.Get(ctx, "x:y"); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Get after Close: %v", err)
	}
}

// unreachable is an address where no server listens.
const unreachable = "127.0.0.1:1"

// Open fails fast, with a clear error wrapping twin.ErrUnavailable, when no
// server answers: within the server selection timeout of the URI, or
// within ConnectTimeout when the URI sets none. The bound asserted is
// loose (the driver's own default would wait 30 s); the time taken is
// logged.
func TestOpenUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"URI's serverSelectionTimeoutMS", Config{URI: "mongodb://" + unreachable + "/?serverSelectionTimeoutMS=300"}},
		{"ConnectTimeout", Config{URI: "mongodb://" + unreachable, ConnectTimeout: 300 * time.Millisecond}},
		{"credentials are not shown", Config{URI: "mongodb://alice:s3cr3t@" + unreachable + "/?serverSelectionTimeoutMS=300"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			st, err := Open(context.Background(), c.cfg)
			elapsed := time.Since(start)
			t.Logf("Open failed after %v: %v", elapsed.Round(time.Millisecond), err)
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded without a server")
			}
			if !errors.Is(err, twin.ErrUnavailable) {
				t.Errorf("err = %v, want one wrapping twin.ErrUnavailable", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "unreachable") || !strings.Contains(msg, unreachable) {
				t.Errorf("error %q does not say that %s is unreachable", msg, unreachable)
			}
			if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "alice") {
				t.Errorf("error %q shows the credentials", msg)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Open took %v to fail", elapsed)
			}
		})
	}
}

func TestOpenConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no URI":           {},
		"not a URI":        {URI: "http://bob:hunter2@example.invalid"},
		"negative timeout": {URI: "mongodb://" + unreachable, OperationTimeout: -1},
	} {
		st, err := Open(context.Background(), cfg)
		if err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("%s: a configuration error must not look retryable: %v", name, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
}

// outageStore is a Store whose server is gone: the real driver, pointed at
// an address where nothing listens, as after MongoDB went down while the
// gateway runs.
func outageStore(t *testing.T) *Store {
	t.Helper()
	cfg := Config{URI: "mongodb://" + unreachable, Database: "twinway", ThingsCollection: "things",
		PoliciesCollection: "policies", ConnectTimeout: 300 * time.Millisecond, OperationTimeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	opts, err := clientOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	st := &Store{cfg: cfg, log: cfg.Logger, client: client, hosts: unreachable,
		things:   client.Database(cfg.Database).Collection(cfg.ThingsCollection),
		policies: client.Database(cfg.Database).Collection(cfg.PoliciesCollection)}
	t.Cleanup(func() { st.Close() })
	return st
}

// During an outage every operation fails with an error wrapping
// twin.ErrUnavailable (the handler's 503 things:thing.unavailable) and none
// hangs: each is bounded by the timeouts.
func TestOutage(t *testing.T) {
	st := outageStore(t)
	ctx := context.Background()
	filter, _ := rql.ParseFilter(`eq(attributes/a,1)`)
	ops := map[string]func() error{
		"Get":           func() error { _, err := st.Get(ctx, "x:y"); return err },
		"GetMany":       func() error { _, err := st.GetMany(ctx, []string{"x:y"}); return err },
		"Put":           func() error { return st.Put(ctx, twin.Record{ID: "x:y", Revision: 1}, 0) },
		"Replace":       func() error { return st.Put(ctx, twin.Record{ID: "x:y", Revision: 2}, 1) },
		"GetPolicy":     func() error { _, err := st.GetPolicy(ctx, "x:y"); return err },
		"PutPolicy":     func() error { return st.PutPolicy(ctx, twin.Record{ID: "x:y", Revision: 1}, 0) },
		"ReplacePolicy": func() error { return st.PutPolicy(ctx, twin.Record{ID: "x:y", Revision: 2}, 1) },
		"Search":        func() error { _, err := st.Search(ctx, twin.SearchQuery{Filter: filter}); return err },
		"Count":         func() error { _, err := st.Count(ctx, twin.SearchQuery{Filter: filter}); return err },
		"Ping":          func() error { return st.Ping(ctx) },
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		elapsed := time.Since(start)
		if !errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("%s during an outage: err = %v, want one wrapping twin.ErrUnavailable", name, err)
		}
		if errors.Is(err, twin.ErrRevisionConflict) || errors.Is(err, twin.ErrNotFound) {
			t.Errorf("%s during an outage: %v must not look like an answer", name, err)
		}
		if elapsed > 10*time.Second {
			t.Errorf("%s took %v", name, elapsed)
		}
	}
	// The caller's own cancellation is not an outage.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Get(cancelled, "x:y"); err == nil || errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	if err := st.PutPolicy(cancelled, twin.Record{ID: "x:y", Revision: 1}, 0); err == nil || errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("PutPolicy with a cancelled context: %v", err)
	}
	// After Close, everything is unavailable at once.
	st.Close()
	for name, op := range ops {
		if err := op(); !errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

// Which driver errors are an outage (retry later) and which concern the
// request.
func TestErrorClasses(t *testing.T) {
	st := &Store{}
	ctx := context.Background()
	outage := []error{
		context.DeadlineExceeded,
		mongo.CommandError{Code: 11600, Name: "InterruptedAtShutdown"},
		mongo.CommandError{Code: 10107, Name: "NotWritablePrimary", Labels: []string{"RetryableWriteError"}},
		mongo.CommandError{Code: 89, Name: "NetworkTimeout", Labels: []string{"NetworkError"}},
		mongo.ErrClientDisconnected,
		errors.New("server selection error: server selection timeout"),
	}
	for _, e := range outage {
		if err := st.fail(ctx, "op", e); !errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("fail(%v) = %v, want an outage", e, err)
		}
	}
	request := []error{
		mongo.CommandError{Code: 2, Name: "BadValue"},
		mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 10334, Message: "BSONObjectTooLarge"}}},
		mongo.MarshalError{Value: 1, Err: errors.New("no encoder")},
		fmt.Errorf("wrapped: %w", mongo.CommandError{Code: 51091, Name: "Location51091"}),
	}
	for _, e := range request {
		if err := st.fail(ctx, "op", e); errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("fail(%v) = %v, want a request error", e, err)
		}
	}
}
