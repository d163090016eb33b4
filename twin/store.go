package twin

import (
	"context"
	"errors"
	"time"
)

// Record is a thing as a Store keeps it. Doc is the thing's JSON (thingId,
// policyId, definition, attributes, features); the other fields are the
// metadata the store indexes. A deleted thing stays as a tombstone
// (Deleted=true, Doc empty) so that its revision keeps counting when it is
// created again.
type Record struct {
	ID        string
	Namespace string
	PolicyID  string
	Revision  int64
	Created   time.Time
	Modified  time.Time
	Deleted   bool
	Doc       []byte
}

// Store persists things. Implementations must be safe for concurrent use.
// The handler guarantees one writer per thing inside one process; Put's
// revision condition protects against other processes sharing the store.
type Store interface {
	// Get returns the record of id, a tombstone included, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// GetMany returns the records of the ids that exist and are not deleted,
	// in the order of ids; missing ids are skipped.
	GetMany(ctx context.Context, ids []string) ([]Record, error)
	// Put stores rec if the stored revision is still prevRevision (0: no
	// record yet), else it returns ErrRevisionConflict. When Put returns nil
	// the write is durable: it survives a crash of the process.
	Put(ctx context.Context, rec Record, prevRevision int64) error
	// Close releases the store; pending Puts finish first.
	Close() error
}

// PolicyStore keeps policies in the same store as things, with the same
// guarantees: a Record whose PolicyID is empty and whose Doc is the policy's
// JSON (policy.Policy.StoredJSON). Policies and things are separate
// collections: a policy and a thing may have the same id (a thing's implicit
// policy does). A deleted policy stays as a tombstone, so that its revision
// keeps counting when it is created again.
type PolicyStore interface {
	// GetPolicy returns the record of policy id, a tombstone included, or
	// ErrNotFound.
	GetPolicy(ctx context.Context, id string) (Record, error)
	// PutPolicy stores rec if the stored revision of the policy is still
	// prevRevision (0: no record yet), else it returns ErrRevisionConflict.
	// When PutPolicy returns nil the write is durable.
	PutPolicy(ctx context.Context, rec Record, prevRevision int64) error
}

var (
	// ErrNotFound is returned by Store.Get for an id that was never stored.
	ErrNotFound = errors.New("twin: thing not found in store")
	// ErrRevisionConflict is returned by Store.Put when another writer got there first.
	ErrRevisionConflict = errors.New("twin: revision conflict")
	// ErrUnavailable wraps store failures that are worth retrying later.
	ErrUnavailable = errors.New("twin: store unavailable")
)
