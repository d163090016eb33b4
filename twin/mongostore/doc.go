// Package mongostore is the MongoDB thing store (twin.Store, twin.Searcher
// and twin.PolicyStore), for production and for several gateway instances
// sharing one store. It is the only package that imports the MongoDB
// driver (go.mongodb.org/mongo-driver/v2). It behaves as the embedded store
// (twin/sqlitestore) does: both pass the contract suite of twin/storetest.
// The text below is written to be copied into the README.
//
// ## MongoDB data layout
//
// One database (Config.Database, default `twinway`) holds the collection
// `things` (Config.ThingsCollection) with one document per thing, tombstones
// included, and the collection `policies` (Config.PoliciesCollection) with
// one document per policy (see Policies below).
//
// | field | type | content |
// |---|---|---|
// | `_id` | string | the thing id |
// | `namespace` | string | the thing's namespace |
// | `policyId` | string | the policy id |
// | `revision` | int64 | the revision; every write is conditional on it |
// | `created`, `modified` | int64 | unix nanoseconds: exact, and ordered like the instants (years 1678–2262); absent for the zero time |
// | `createdIso`, `modifiedIso` | string | the same instants as Ditto writes them (ISO-8601, UTC, microseconds), for filters that compare `_created`/`_modified` with text or a like pattern |
// | `deleted` | bool | true for a tombstone, which keeps the revision counting when the thing is created again |
// | `doc` | binary | the thing's JSON exactly as the gateway wrote it (byte for byte: numbers, key order); what Get returns; absent for a tombstone |
// | `t` | document | the thing's JSON as BSON, every key escaped, for filters |
// | `f` | array | every feature as `{id: <feature id>, v: <the feature, keys escaped>}`, for `features/*` filters |
// | `s` | document | the sortable parts of the thing (definition, _metadata, attributes, feature properties and desired properties), for sorting |
//
// `t`, `f` and `s` are derived from `doc` on every write, as the embedded
// store derives its search column, and are absent for a tombstone or a
// document that is not a JSON object. Numbers in them are int64 when the
// JSON number is an integer that fits, else double (as the RQL predicate
// reads numbers). Filters and sorts reach at most 16 keys deep (from the
// thing's root), so below that `t` keeps only whether an object is empty
// (`{}` or `{"~": true}`), and an array inside an array, which a path
// never enters, is stored as `[]`: stored documents stay far below
// MongoDB's nesting limit of 100 levels, whatever the thing's depth.
//
// ### Keys
//
// MongoDB reads `.` in a field name as a path separator, a leading `$` as
// an operator, a number as an array index, and cannot store NUL. So every
// key of the thing's JSON, at every depth, is escaped in `t`, `f` and `s`
// (`doc` keeps the original), and every property path of a filter or sort
// is escaped the same way (EscapeKey):
//
// | in the key | stored as |
// |---|---|
// | `~` | `~0` |
// | `$` (anywhere) | `~1` |
// | `.` | `~2` |
// | NUL | `~3` |
// | empty, or starting with a digit | prefixed with `~4` |
//
// The first three are Ditto's own escapes. The escape is lossless (every
// `~` in an escaped key starts one of these pairs; UnescapeKey reverses
// it, and a fuzz test holds it to that), so `{"a.b":1,"$x":{"y.z":2}}` is
// stored as `{"a~2b":1,"~1x":{"y~2z":2}}`, and the filter
// `eq(attributes/$x/y.z,2)` becomes `{"t.attributes.~1x.y~2z": 2}`.
// Escaping digits makes attributes/tags/0 the key "0" (rql's meaning) and
// never index 0 of an array.
//
// ### Writes
//
// Put (and PutPolicy, on `policies`) with prevRevision 0 inserts; the
// unique `_id` turns an existing thing (or tombstone) into
// twin.ErrRevisionConflict. Any other Put replaces the document where
// `{_id: id, revision: prevRevision}` still matches; no match is
// twin.ErrRevisionConflict. So two gateways writing
// one thing never lose a change: the loser re-reads and retries (the twin
// handler does that) or gets Ditto's error. Writes use write concern
// majority with journaling: an acknowledged write survives a crash.
//
// ### Policies
//
// A policy document has the fields `_id` (the policy id), `namespace`,
// `revision`, `created`, `modified`, `deleted` and `doc` as above: `doc` is
// the policy's JSON as binary, byte for byte. Policies are never searched,
// so they get none of `createdIso`, `modifiedIso`, `t`, `f`, `s` nor
// `policyId`, and their keys (subject ids, resource paths) need no
// escaping: MongoDB never looks inside `doc`. A policy and a thing may have
// the same id (a thing's implicit policy does): they are in different
// collections. PutPolicy writes as Put does (the conditional insert or
// replacement below, the same write concern), and GetPolicy reads and
// fails as Get does.
//
// ### Search
//
// Filter translates an RQL tree into a query on `t`, `f` and the
// top-level fields that matches exactly what the RQL predicate matches
// (filter.go lists each place where MongoDB's own semantics needed help:
// `eq(p,null)`, `ne`, comparisons with null, like/ilike as anchored
// regular expressions with ASCII-only case folding, `empty`). The
// features/* wildcard uses `f`, as Ditto's search does: MongoDB's path
// semantics over an array give "some feature" for a single condition, and
// `$elemMatch` binds one feature where a condition has several parts
// (`empty(features/*/…)`). The alternative, `$expr` with `$objectToArray`
// over `t.features`, would evaluate aggregation expressions, whose
// comparison and array rules differ from query semantics, and could use no
// index. The cost is that features are stored twice.
//
// Sort keys are paths in `s`. There every object starts with a field `~`
// holding its compact JSON text, and every array is stored as
// `{"~": true, "~t": "<its JSON text>"}`. MongoDB compares documents field
// by field, so BSON's own order of types and values in `s` is the
// documented sort order: missing and null, numbers, strings, objects,
// arrays (each by JSON text), booleans; and a path through `s` goes
// through objects only. `_created`/`_modified` sort by the int64 fields,
// thingId by `_id`. Paging is keyset paging (the cursor holds the last
// thing's sort values as BSON); Count is countDocuments.
//
// ### Indexes
//
// Open creates (idempotently): `namespace_id` {namespace, _id} for
// searches within namespaces in the default order, `policyId` {policyId}
// for the things of a policy, `modified_id` {modified, _id} for sorting by
// _modified; `_id` is MongoDB's own, and the only index of `policies` (a
// policy is read by id only). Filters on attributes and features cannot be
// indexed ahead of time (their paths are arbitrary) and scan the live
// things of the selected namespaces, as in the embedded store.
//
// ### Operations
//
// Config carries the URI (credentials and driver options included),
// database, collections, ConnectTimeout, OperationTimeout and MaxPoolSize.
// Open fails within ConnectTimeout (or the URI's serverSelectionTimeoutMS)
// with an error that names the hosts, never the credentials, when no
// primary answers. Every operation is bounded by OperationTimeout (also
// sent to the server as maxTimeMS); a failure that is not the request's
// own fault (no server, network, timeout, a primary stepping down) wraps
// twin.ErrUnavailable, which the twin handler answers with 503
// things:thing.unavailable; the driver reconnects by itself when MongoDB
// is back. Ping tells /health whether a primary answers.
//
// Things outside Ditto's thing model (an array where the model has an
// object: attributes, features, a feature, its properties) are never
// written by the twin handler; for them MongoDB would enter the array
// where the predicate does not.
package mongostore
