package policies_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// countingStore counts the reads of a store, can hold them until gate is
// closed, and can fail them.
type countingStore struct {
	twin.PolicyStore
	gets atomic.Int64
	gate chan struct{}
	fail atomic.Bool
}

func (s *countingStore) GetPolicy(ctx context.Context, id string) (twin.Record, error) {
	s.gets.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	if s.fail.Load() {
		return twin.Record{}, errors.New("the disk is on fire")
	}
	return s.PolicyStore.GetPolicy(ctx, id)
}

// TestEnforcerCache: one compilation per revision, a write through the
// handler is visible at once, a write by another process after the TTL.
func TestEnforcerCache(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	c1, c2 := &clock{now: t0}, &clock{now: t0}
	h1, h2 := newHandler(t, store, c1), newHandler(t, store, c2)
	create(t, h1, policyID, ownerPolicy)

	e1, err := h1.Enforcer(ctx, policyID)
	if err != nil {
		t.Fatal(err)
	}
	if e1.Revision() != 1 || e1.PolicyID() != policyID {
		t.Fatalf("enforcer %s rev %d", e1.PolicyID(), e1.Revision())
	}
	if again, _ := h1.Enforcer(ctx, policyID); again != e1 {
		t.Error("the same revision was compiled twice")
	}

	// A write through h1 replaces its cached entry at once.
	wantStatus(t, send(t, h1, caller, policyID, "modify", "/entries/owner/subjects/google:x", `{"type":"user"}`, nil), 201, "")
	e2, _ := h1.Enforcer(ctx, policyID)
	if e2.Revision() != 2 || !e2.Has([]string{"google:x"}, "thing:/", "org.example", policy.Read) {
		t.Fatalf("after the write: revision %d", e2.Revision())
	}

	// A write through h2 (another process) is seen by h1 after the TTL.
	wantStatus(t, send(t, h2, caller, policyID, "delete", "/entries/owner/subjects/google:x", "", nil), 204, "")
	if e, _ := h1.Enforcer(ctx, policyID); e.Revision() != 2 {
		t.Errorf("within the TTL: revision %d", e.Revision())
	}
	c1.advance(policies.DefaultCacheTTL)
	e3, _ := h1.Enforcer(ctx, policyID)
	if e3.Revision() != 3 || e3.Has([]string{"google:x"}, "thing:/", "org.example", policy.Read) {
		t.Errorf("after the TTL: revision %d", e3.Revision())
	}
	// A revision the store confirms again is not compiled again.
	c1.advance(policies.DefaultCacheTTL)
	if e, _ := h1.Enforcer(ctx, policyID); e != e3 {
		t.Error("an unchanged revision was compiled again")
	}

	// A write reads the store, not the cache: h2's write is not lost.
	wantStatus(t, send(t, h2, caller, policyID, "modify", "/entries/owner/subjects/google:y", `{"type":"user"}`, nil), 201, "")
	wantStatus(t, send(t, h1, caller, policyID, "modify", "/entries/owner/subjects/google:z", `{"type":"user"}`, nil), 201, "")
	p, err := h1.Policy(ctx, policyID)
	if err != nil {
		t.Fatal(err)
	}
	entry := p.Entries["owner"]
	if _, ok := entry.Subjects["google:y"]; !ok || p.Revision != 5 {
		t.Errorf("revision %d, subjects %v", p.Revision, entry.SubjectIDs())
	}
}

// TestEnforcerErrors: a missing or deleted policy wraps twin.ErrNotFound,
// a store failure twin.ErrUnavailable (and is policy.unavailable to Handle).
func TestEnforcerErrors(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{PolicyStore: openStore(t)}
	h := newHandler(t, store, nil)
	if _, err := h.Enforcer(ctx, "org.example:missing"); !errors.Is(err, twin.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := h.Policy(ctx, "org.example:missing"); !errors.Is(err, twin.ErrNotFound) {
		t.Errorf("missing policy: %v", err)
	}
	create(t, h, policyID, ownerPolicy)
	wantStatus(t, send(t, h, caller, policyID, "delete", "/", "", nil), 204, "")
	if _, err := h.Enforcer(ctx, policyID); !errors.Is(err, twin.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}

	store.fail.Store(true)
	if _, err := h.Enforcer(ctx, "org.example:other"); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("failing store: %v", err)
	}
	if _, err := h.Policy(ctx, "org.example:other"); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("failing store: %v", err)
	}
	wantStatus(t, send(t, h, caller, "org.example:other", "retrieve", "/", "", nil), 503, protocol.CodePolicyUnavailable)
	wantStatus(t, send(t, h, caller, "org.example:other", "create", "/", ownerPolicy, nil), 503, protocol.CodePolicyUnavailable)
	if err := h.Create(ctx, policy.DefaultPolicy("org.example:other", owner)); protocol.AsError(err).Status != 503 {
		t.Errorf("Create on a failing store: %v", err)
	}
}

// TestSingleLoad: concurrent callers for one uncached policy share one read.
func TestSingleLoad(t *testing.T) {
	ctx := context.Background()
	base := openStore(t)
	create(t, newHandler(t, base, nil), policyID, ownerPolicy)

	store := &countingStore{PolicyStore: base, gate: make(chan struct{})}
	h := newHandler(t, store, nil)
	const callers = 16
	var wg sync.WaitGroup
	enforcers := make([]*policy.Enforcer, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := h.Enforcer(ctx, policyID)
			if err != nil {
				t.Error(err)
			}
			enforcers[i] = e
		}()
	}
	for store.gets.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others reach the pending load
	close(store.gate)
	wg.Wait()
	if n := store.gets.Load(); n != 1 {
		t.Errorf("%d store reads for %d concurrent callers", n, callers)
	}
	for _, e := range enforcers {
		if e != enforcers[0] {
			t.Fatal("callers got different enforcers")
		}
	}
}

// TestExpiringSubject: a cached policy is compiled again when a subject
// expires, without a store read.
func TestExpiringSubject(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{PolicyStore: openStore(t)}
	c := &clock{now: t0}
	h, err := policies.New(policies.Config{Store: store, Now: c.Now, CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	create(t, h, policyID, ownerPolicy)
	expiry := t0.Add(time.Minute).Format(time.RFC3339)
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner/subjects/google:temp",
		`{"type":"user","expiry":"`+expiry+`"}`, nil), 201, "")
	e, _ := h.Enforcer(ctx, policyID)
	if !e.Has([]string{"google:temp"}, "thing:/", "org.example", policy.Read) {
		t.Fatal("the subject does not count before its expiry")
	}
	reads := store.gets.Load()
	c.advance(2 * time.Minute)
	e, _ = h.Enforcer(ctx, policyID)
	if e.Has([]string{"google:temp"}, "thing:/", "org.example", policy.Read) {
		t.Error("the subject still counts after its expiry")
	}
	if store.gets.Load() != reads {
		t.Error("the recompilation read the store")
	}
}

// TestCreateDelete: the methods without permission checks.
func TestCreateDelete(t *testing.T) {
	ctx := context.Background()
	h := newHandler(t, nil, nil)
	const id = "org.example:thing-1"
	if err := h.Create(ctx, policy.DefaultPolicy(id, owner)); err != nil {
		t.Fatal(err)
	}
	e, err := h.Enforcer(ctx, id)
	if err != nil || !e.Has([]string{owner}, "thing:/", "org.example", policy.Write) {
		t.Fatalf("enforcer %v, err %v", e, err)
	}
	err = h.Create(ctx, policy.DefaultPolicy(id, owner))
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodePolicyConflict || perr.Status != 409 {
		t.Errorf("second Create: %v", err)
	}
	noWriter := policy.DefaultPolicy("org.example:thing-2", owner)
	noWriter.Entries[policy.DefaultLabel].Resources["policy:/"] = policy.Permissions{Grant: []string{"READ"}, Revoke: []string{}}
	if err := h.Create(ctx, noWriter); protocol.AsError(err).Code != protocol.CodePolicyModificationInvalid {
		t.Errorf("Create without a writer: %v", err)
	}
	if err := h.Create(ctx, policy.DefaultPolicy("not an id", owner)); protocol.AsError(err).Code != protocol.CodePolicyIDInvalid {
		t.Errorf("Create with a bad id: %v", err)
	}

	// Policy returns a copy.
	p, _ := h.Policy(ctx, id)
	p.RemoveEntry(policy.DefaultLabel)
	if p2, _ := h.Policy(ctx, id); len(p2.Entries) != 1 {
		t.Error("changing the returned policy changed the handler's")
	}

	if err := h.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Enforcer(ctx, id); !errors.Is(err, twin.ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if err := h.Delete(ctx, id); !errors.Is(err, twin.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if err := h.Create(ctx, policy.DefaultPolicy(id, owner)); err != nil {
		t.Fatal(err)
	}
	if e, _ := h.Enforcer(ctx, id); e.Revision() != 3 {
		t.Errorf("revision after re-creation %d, want 3", e.Revision())
	}
	resp := send(t, h, caller, id, "retrieve", "/entries/DEFAULT/subjects", "", nil)
	wantStatus(t, resp, 200, "")
	jsonEqual(t, resp.Value, `{"nginx:ditto":{"type":"generated"}}`)
}

// TestConcurrentWriters: writes of one policy from many goroutines are
// applied one at a time; none is lost and revisions count one by one.
func TestConcurrentWriters(t *testing.T) {
	h := newHandler(t, nil, nil)
	create(t, h, policyID, ownerPolicy)
	const writers = 24
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/entries/owner/subjects/google:user-%d", i)
			if resp := send(t, h, caller, policyID, "modify", path, `{"type":"user"}`, nil); resp.Status != 201 {
				t.Errorf("%s: status %d %s", path, resp.Status, resp.Value)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp := send(t, h, caller, policyID, "retrieve", "/", "", nil); resp.Status != 200 {
				t.Errorf("retrieve: status %d %s", resp.Status, resp.Value)
			}
		}()
	}
	wg.Wait()
	p, err := h.Policy(context.Background(), policyID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Entries["owner"].Subjects); n != writers+1 || p.Revision != writers+1 {
		t.Errorf("%d subjects at revision %d, want %d at %d", n, p.Revision, writers+1, writers+1)
	}
	resp := send(t, h, caller, policyID, "retrieve", "/entries/owner/subjects", "", nil)
	if strings.Count(string(resp.Value), `"type":"user"`) != writers {
		t.Errorf("subjects %s", resp.Value)
	}
}
