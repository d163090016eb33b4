// Package rql is Ditto's Resource Query Language: filter text → syntax tree
// (ParseFilter) → a compiled predicate over a thing's JSON (Compile, built on
// github.com/PaesslerAG/gval), and the search options sort/size/cursor/limit
// (ParseOptions). Stores translate the same tree into their own queries
// (twin/sqlitestore: SQL); their answers equal the predicate's.
//
// # Grammar
//
// As Ditto's RqlPredicateParser: eq ne gt ge lt le like ilike (property,
// value), in(property, value, …), exists(property), empty(property),
// and(q, …), or(q, …), not(q). Values: "…" or '…' strings with the escapes
// \" (or \' in single quotes) \\ \/ \b \f \n \r \t \uXXXX; integers
// [+-]?(0|[1-9][0-9]*) (kept exact as int64; -0 is not one); decimals with a
// fraction and no exponent (float64); true, false, null; time placeholders
// (time:now…, see ResolveTime). Unquoted words are not values. Whitespace is
// allowed where Ditto allows it: before the filter, after a value, after the
// comma between queries. Properties are the thing fields of ResolveField,
// with an optional leading '/'; in event filters also the placeholders Ditto
// registers for streaming sessions (topic:…, resource:…, entity:…, thing:…,
// feature:id) and header:<name>. Filters are at most MaxFilterLength bytes
// and nest at most MaxDepth levels; errors name the byte offset (from 0).
//
// # Semantics
//
// They follow Ditto's search (its MongoDB translation, CreateBsonVisitor),
// which is also what Ditto's documentation states; where Ditto's in-memory
// predicate differs, the difference is noted.
//
//   - A property resolves to zero or more values: objects are entered by key;
//     an array met before the last key is traversed element by element
//     (attributes/tags/room reaches the room of every object in tags), as
//     Ditto's getValueFlatteningArrays and MongoDB do. Model objects
//     (attributes, features, a feature, its properties) are never arrays.
//     Keys are keys, never array indexes.
//   - A comparison matches when one of the values, or one element of an
//     array value (one level), matches.
//   - No type coercion: a string never equals or orders with a number or a
//     boolean. Numbers compare numerically and exactly across integers and
//     decimals (1 eq 1.0). Strings order by their bytes (UTF-8), booleans
//     false < true. gt/ge/lt/le with null match nothing. (Ditto's in-memory
//     predicate converts numeric strings and compares other mixed types by
//     their text; its search does not.)
//   - eq(p,null) matches a present null. ne(p,v) matches where p exists and
//     no value equals v (Ditto's search: $ne plus $exists; its in-memory
//     predicate also matches a missing p, see NeMatchesMissing).
//   - in(p,a,b) is eq(p,a) or eq(p,b).
//   - like/ilike: '*' any run of characters, '?' exactly one, anchored, only
//     string values; ilike folds ASCII letters only (as Ditto's in-memory
//     Java regex without UNICODE_CASE, and SQLite's LIKE). The pattern must
//     be a quoted string.
//   - exists(p) is true when p resolves to a value, null included.
//   - empty(p) is true when no value p resolves to has content (absent,
//     null, "", [], {}).
//   - features/*/… ranges over every feature: the query holds for some
//     feature (MongoDB's $elemMatch in Ditto); empty(features/*) means that
//     the thing has no feature.
//   - _created and _modified are ISO-8601 strings; a literal that reads as
//     an RFC 3339 instant compares with them as an instant, any other string
//     as text.
//   - time:now is the current instant's ISO-8601 string; time:now_epoch_millis
//     is an integer (Ditto resolves it to a numeric string, which its search
//     cannot compare with numbers).
//
// # Evaluation
//
// Compile writes the and/or/not structure of a filter in a small gval
// language (gval's propositional logic over leaves #0, #1, …) and gval
// builds the evaluable; each leaf is a compiled comparison that walks the
// thing's JSON without allocating. A Predicate is immutable and safe for
// concurrent use.
package rql
