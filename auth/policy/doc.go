// Package policy is Ditto's policy model and its evaluation: the policy JSON
// (entries of subjects, resources with grant/revoke, namespaces), its
// validation with Ditto's error codes, and the enforcer that answers "may
// these subjects READ/WRITE/EXECUTE this resource" and trims a JSON value to
// what they may read (SPEC.md §11).
//
// # Evaluation
//
// Compile builds, per set of applicable entries, a trie over the resource type
// and the path segments of every resource key (as Ditto's PolicyTrie does).
// Every node records, per permission and subject, the statement in force
// there: its own revoke (which beats its own grant, across all entries), else
// its own grant, else the statement inherited from the parent. What is kept is
// the depth at which that statement was made, so that subjects can be
// compared: a set of subjects holds a permission at a node when its deepest
// grant is strictly deeper than its deepest revoke. On top of that:
//
//   - Has (unrestricted, for writes) also counts the revokes made anywhere
//     below the node: nothing below may be revoked.
//   - HasPartial (for reads) also counts the grants made anywhere below the
//     node, and drops the revokes of subjects that have such a grant.
//   - A path deeper than the trie is decided by its deepest node in the trie.
//
// WRITE never implies READ. A subject whose expiry has passed at compile time
// is left out as if deleted; Enforcer.Expires tells when to compile again.
// Entries with namespaces apply only to entities in a matching namespace.
//
// # Views
//
// A View is the decision of one subject set on one namespace, folded into a
// small trie of permission bits: fan-out evaluates a View (a few map look-ups
// per event), not the policy. Views are cached in their Enforcer. Views with
// the same decisions have the same Key, so their pruned events can be encoded
// once.
//
// # Not here
//
// Policy imports and entry references are parsed, validated like Ditto does
// and kept in the JSON, but not resolved: imported entries do not take part in
// evaluation yet (policy imports may come later).
package policy
