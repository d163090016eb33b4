package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/twinway/twinway/twin"
)

// Defaults for the zero values of Config.
const (
	DefaultDatabase           = "twinway"
	DefaultThingsCollection   = "things"
	DefaultPoliciesCollection = "policies"
	DefaultConnectTimeout     = 10 * time.Second
	DefaultOperationTimeout   = 10 * time.Second
)

// getManyChunk bounds the ids of one GetMany query.
const getManyChunk = 1000

// Config configures a Store. The zero value of every field but URI is a
// documented default.
type Config struct {
	// URI is the MongoDB connection string (mongodb:// or mongodb+srv://),
	// credentials and driver options included. Required. Error messages
	// name its hosts only, never its credentials.
	URI string
	// Database holds the collections. "" means DefaultDatabase.
	Database string
	// ThingsCollection holds one document per thing. "" means
	// DefaultThingsCollection.
	ThingsCollection string
	// PoliciesCollection holds one document per policy, in the same
	// database. "" means DefaultPoliciesCollection.
	PoliciesCollection string
	// ConnectTimeout bounds Open: reaching a server and answering a ping.
	// It is also the driver's connect timeout and, unless the URI sets
	// serverSelectionTimeoutMS, its server selection timeout, so an
	// operation during an outage fails after it rather than hang. 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// OperationTimeout bounds every operation (Get, GetMany, Put,
	// GetPolicy, PutPolicy, Search, Count, Ping, Close); the driver passes
	// what is left of it to the server as maxTimeMS. 0 means
	// DefaultOperationTimeout.
	OperationTimeout time.Duration
	// MaxPoolSize is the most connections to each server. 0 means the
	// driver's default (100).
	MaxPoolSize uint64
	// Logger receives index creation (Info) and failures (Warn). Nil
	// discards.
	Logger *slog.Logger
}

// Store is the MongoDB twin.Store, twin.PolicyStore and twin.Searcher.
// Create it with Open; it is safe for concurrent use.
type Store struct {
	cfg      Config
	log      *slog.Logger
	client   *mongo.Client
	things   *mongo.Collection
	policies *mongo.Collection
	hosts    string

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var (
	_ twin.Store       = (*Store)(nil)
	_ twin.PolicyStore = (*Store)(nil)
)

// Open connects to MongoDB, checks that a primary answers within
// cfg.ConnectTimeout and creates the indexes. An unreachable server fails
// Open with an error wrapping twin.ErrUnavailable that names the hosts and
// the timeout. ctx bounds the opening only; Close releases the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URI == "" {
		return nil, errors.New("mongostore: Config.URI is empty")
	}
	if cfg.ConnectTimeout < 0 || cfg.OperationTimeout < 0 {
		return nil, errors.New("mongostore: Config.ConnectTimeout and OperationTimeout must not be negative")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.ThingsCollection == "" {
		cfg.ThingsCollection = DefaultThingsCollection
	}
	if cfg.PoliciesCollection == "" {
		cfg.PoliciesCollection = DefaultPoliciesCollection
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.OperationTimeout == 0 {
		cfg.OperationTimeout = DefaultOperationTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	hosts := strings.Join(opts.Hosts, ",")
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongostore: connect to %s: %w", hosts, err)
	}
	s := &Store{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "mongostore", "hosts", hosts, "database", cfg.Database),
		client: client,
		hosts:  hosts,
	}
	durable := writeconcern.Majority()
	journal := true
	durable.Journal = &journal
	s.things = client.Database(cfg.Database).Collection(cfg.ThingsCollection,
		options.Collection().SetWriteConcern(durable))
	// Policies are as durable as things. Their collection needs no index
	// but _id, and MongoDB creates it with the first policy.
	s.policies = client.Database(cfg.Database).Collection(cfg.PoliciesCollection,
		options.Collection().SetWriteConcern(durable))

	openCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := client.Ping(openCtx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.WithoutCancel(openCtx))
		wait := cfg.ConnectTimeout
		if opts.ServerSelectionTimeout != nil && *opts.ServerSelectionTimeout > 0 {
			wait = min(wait, *opts.ServerSelectionTimeout)
		}
		return nil, fmt.Errorf("mongostore: MongoDB at %s is unreachable (no primary answered a ping within %s): %w: %w",
			hosts, wait, twin.ErrUnavailable, err)
	}
	if err := s.createIndexes(openCtx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(openCtx))
		return nil, err
	}
	return s, nil
}

// clientOptions are the driver's options for cfg: the URI's, then the
// timeouts and pool size the URI leaves unset.
func clientOptions(cfg Config) (*options.ClientOptions, error) {
	opts := options.Client().ApplyURI(cfg.URI).SetAppName("twinway")
	if err := opts.Validate(); err != nil {
		// The driver's message may quote the URI: say only what is wrong.
		return nil, fmt.Errorf("mongostore: invalid MongoDB URI: %s", redact(err.Error(), cfg.URI))
	}
	if opts.ConnectTimeout == nil {
		opts.SetConnectTimeout(cfg.ConnectTimeout)
	}
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(cfg.ConnectTimeout)
	}
	if opts.Timeout == nil {
		opts.SetTimeout(cfg.OperationTimeout)
	}
	if cfg.MaxPoolSize > 0 {
		opts.SetMaxPoolSize(cfg.MaxPoolSize)
	}
	return opts, nil
}

// redact removes the URI from a message, which may carry credentials.
func redact(msg, uri string) string {
	return strings.ReplaceAll(msg, uri, "<uri>")
}

// indexes are the indexes Open creates (createIndexes does nothing for an
// index that exists with the same definition). _id is MongoDB's own.
var indexes = []mongo.IndexModel{
	// Searches within namespaces, in thingId order (the default sort).
	{Keys: bson.D{{Key: fieldNamespace, Value: 1}, {Key: fieldID, Value: 1}}, Options: options.Index().SetName("namespace_id")},
	// Things of a policy (policy changes, a later issue).
	{Keys: bson.D{{Key: fieldPolicyID, Value: 1}}, Options: options.Index().SetName("policyId")},
	// sort(+_modified) / sort(-_modified), keyset paging on it.
	{Keys: bson.D{{Key: fieldModified, Value: 1}, {Key: fieldID, Value: 1}}, Options: options.Index().SetName("modified_id")},
}

func (s *Store) createIndexes(ctx context.Context) error {
	names, err := s.things.Indexes().CreateMany(ctx, indexes)
	if err != nil {
		return s.fail(ctx, "create indexes", err)
	}
	s.log.Info("indexes ready", "collection", s.cfg.ThingsCollection, "indexes", names)
	return nil
}

// opContext bounds one operation by OperationTimeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.OperationTimeout)
}

// errClosed is the cause of the errors returned after Close.
var errClosed = errors.New("mongostore: store is closed")

func closedErr(op string) error {
	return fmt.Errorf("mongostore: %s: %w: %w", op, twin.ErrUnavailable, errClosed)
}

// fail wraps a driver error of op. The caller's own cancellation passes as
// it is; a failure of the request itself (a document MongoDB refuses)
// passes too; everything else -- no server selected in time, network
// errors, the operation timeout, a primary stepping down, a closed
// client -- wraps twin.ErrUnavailable, which the twin handler answers with
// 503 things:thing.unavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && !s.closed.Load() {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	if isRequestError(err) {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("mongostore: %s: %w: %w: %w", op, twin.ErrUnavailable, errClosed, err)
	}
	return fmt.Errorf("mongostore: %s: %w: %w", op, twin.ErrUnavailable, err)
}

// Server error codes that concern the request, not the server's state.
var requestErrorCodes = []int{
	2,     // BadValue
	9,     // FailedToParse
	14,    // TypeMismatch
	17,    // (cannot index parallel arrays / bad key)
	52,    // DollarPrefixedFieldName
	55,    // InvalidDBRef
	56,    // EmptyFieldName
	57,    // DottedFieldName
	10334, // BSONObjectTooLarge
	17419, // document too large after update
	17420, // document too large for a capped collection
	51091, // invalid regular expression
}

func isRequestError(err error) bool {
	var me mongo.MarshalError
	if errors.As(err, &me) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err) {
		for _, code := range requestErrorCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
	}
	return false
}

// Ping reports whether a primary answers within OperationTimeout: nil, or
// an error wrapping twin.ErrUnavailable (for /health).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return closedErr("ping")
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.client.Ping(opCtx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongostore: ping %s: %w: %w", s.hosts, twin.ErrUnavailable, err)
	}
	return nil
}

// Close disconnects; operations under way finish first (each is bounded by
// OperationTimeout, and so is Close). Later operations return an error
// wrapping twin.ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OperationTimeout)
		defer cancel()
		if err := s.client.Disconnect(ctx); err != nil {
			s.closeErr = fmt.Errorf("mongostore: close: %w", err)
		}
	})
	return s.closeErr
}

// Get returns the record of id, a tombstone included, or an error wrapping
// twin.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (twin.Record, error) {
	if s.closed.Load() {
		return twin.Record{}, closedErr("get")
	}
	return s.get(ctx, s.things, "get", id)
}

// GetPolicy returns the record of policy id, a tombstone included, or an
// error wrapping twin.ErrNotFound. Its PolicyID is empty.
func (s *Store) GetPolicy(ctx context.Context, id string) (twin.Record, error) {
	if s.closed.Load() {
		return twin.Record{}, closedErr("get policy")
	}
	return s.get(ctx, s.policies, "get policy", id)
}

// get reads the record of id from coll; op names the operation in errors.
func (s *Store) get(ctx context.Context, coll *mongo.Collection, op, id string) (twin.Record, error) {
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	var st stored
	err := coll.FindOne(opCtx, bson.D{{Key: fieldID, Value: id}}, options.FindOne().SetProjection(recordProjection)).Decode(&st)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return twin.Record{}, fmt.Errorf("mongostore: %s %q: %w", op, id, twin.ErrNotFound)
	case err != nil:
		return twin.Record{}, s.fail(ctx, fmt.Sprintf("%s %q", op, id), err)
	}
	return st.record(), nil
}

// GetMany returns the records of ids that exist and are not deleted, in the
// order of ids. Missing ids are skipped; an id given twice is returned once,
// at its first position.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]twin.Record, error) {
	if s.closed.Load() {
		return nil, closedErr("get many")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	found := make(map[string]twin.Record, len(ids))
	for start := 0; start < len(ids); start += getManyChunk {
		chunk := ids[start:min(start+getManyChunk, len(ids))]
		in := make(bson.A, len(chunk))
		for i, id := range chunk {
			in[i] = id
		}
		cur, err := s.things.Find(opCtx, getManyFilter(in), options.Find().SetProjection(recordProjection))
		if err != nil {
			return nil, s.fail(ctx, "get many", err)
		}
		var docs []stored
		err = cur.All(opCtx, &docs)
		if err != nil {
			return nil, s.fail(ctx, "get many", err)
		}
		for _, d := range docs {
			found[d.ID] = d.record()
		}
	}
	out := make([]twin.Record, 0, len(found))
	for _, id := range ids {
		if rec, ok := found[id]; ok {
			out = append(out, rec)
			delete(found, id) // an id given twice is returned once
		}
	}
	return out, nil
}

func getManyFilter(ids bson.A) bson.D {
	return bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}}, {Key: fieldDeleted, Value: false}}
}

// putRequest is the write of one Put: an insert (prevRevision 0) or a
// replacement conditional on the stored revision.
type putRequest struct {
	insert bool
	filter bson.D // the replacement's condition
	doc    bson.D
}

func buildPut(rec twin.Record, prev int64) (putRequest, error) {
	if rec.ID == "" {
		return putRequest{}, errors.New("mongostore: put: empty thing id")
	}
	if prev < 0 {
		return putRequest{}, fmt.Errorf("mongostore: put %q: negative previous revision %d", rec.ID, prev)
	}
	doc, err := recordDocument(rec)
	if err != nil {
		return putRequest{}, fmt.Errorf("mongostore: put %q: %w", rec.ID, err)
	}
	return conditional(rec.ID, prev, doc), nil
}

// buildPolicyPut is buildPut for a policy: the same revision condition on
// the policies collection, with policyDocument.
func buildPolicyPut(rec twin.Record, prev int64) (putRequest, error) {
	if rec.ID == "" {
		return putRequest{}, errors.New("mongostore: put policy: empty policy id")
	}
	if rec.PolicyID != "" {
		// The document has no field for it: refuse rather than drop it.
		return putRequest{}, fmt.Errorf("mongostore: put policy %q: a policy record has no policy id (got %q)", rec.ID, rec.PolicyID)
	}
	if prev < 0 {
		return putRequest{}, fmt.Errorf("mongostore: put policy %q: negative previous revision %d", rec.ID, prev)
	}
	doc, err := policyDocument(rec)
	if err != nil {
		return putRequest{}, fmt.Errorf("mongostore: put policy %q: %w", rec.ID, err)
	}
	return conditional(rec.ID, prev, doc), nil
}

// conditional is the write of doc for id when the stored revision is prev.
func conditional(id string, prev int64, doc bson.D) putRequest {
	if prev == 0 {
		return putRequest{insert: true, doc: doc}
	}
	return putRequest{filter: bson.D{{Key: fieldID, Value: id}, {Key: fieldRevision, Value: prev}}, doc: doc}
}

// Put stores rec if the stored revision is still prevRevision (0: no record
// yet, not even a tombstone), else it returns an error wrapping
// twin.ErrRevisionConflict. prevRevision 0 is an insert, which the unique
// _id turns into a conflict when the thing exists; otherwise the record
// replaces the stored document only where {_id, revision: prevRevision}
// still matches. The write concern is majority with journaling: when Put
// returns nil the record survives a crash of the server (and of a
// majority's worth of a replica set).
func (s *Store) Put(ctx context.Context, rec twin.Record, prevRevision int64) error {
	req, err := buildPut(rec, prevRevision)
	if err != nil {
		return err
	}
	return s.write(ctx, s.things, fmt.Sprintf("put %q", rec.ID), req, prevRevision)
}

// PutPolicy stores the policy rec if the stored revision of the policy is
// still prevRevision (0: no record yet, not even a tombstone), else it
// returns an error wrapping twin.ErrRevisionConflict. It is Put for the
// policies collection: the same conditional insert or replacement, the same
// write concern (when PutPolicy returns nil the policy survives a crash)
// and the same errors. rec.PolicyID must be empty (a policy has none).
func (s *Store) PutPolicy(ctx context.Context, rec twin.Record, prevRevision int64) error {
	req, err := buildPolicyPut(rec, prevRevision)
	if err != nil {
		return err
	}
	return s.write(ctx, s.policies, fmt.Sprintf("put policy %q", rec.ID), req, prevRevision)
}

// write runs req on coll: an insert, whose duplicate _id is a revision
// conflict, or a replacement conditional on the revision, which matching
// nothing is a conflict too. op names the write in errors.
func (s *Store) write(ctx context.Context, coll *mongo.Collection, op string, req putRequest, prevRevision int64) error {
	if s.closed.Load() {
		return closedErr(op)
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	if req.insert {
		_, err := coll.InsertOne(opCtx, req.doc)
		switch {
		case err == nil:
			return nil
		case mongo.IsDuplicateKeyError(err):
			return fmt.Errorf("mongostore: %s at revision 0: %w", op, twin.ErrRevisionConflict)
		}
		return s.fail(ctx, op, err)
	}
	res, err := coll.ReplaceOne(opCtx, req.filter, req.doc)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongostore: %s at revision %d: %w", op, prevRevision, twin.ErrRevisionConflict)
	}
	return nil
}
