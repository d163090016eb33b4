package policies

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// Ditto's checks of a policy a write would leave (the policy command
// strategies and PoliciesValidator).

// noWriterReason is PoliciesValidator's reason for a policy without a
// permanent writer.
const noWriterReason = "It must contain at least one permanent Subject with permission(s) <[WRITE]> on resource <policy:/>!"

// checkNewPolicy checks a policy created or replaced as a whole: no subject
// already expired, a permanent writer (policy.Validate), entry references
// that hold together, and the size limit.
func checkNewPolicy(p *policy.Policy, now time.Time) error {
	if err := policy.Validate(p, now); err != nil {
		return err
	}
	if err := checkReferences(p); err != nil {
		return err
	}
	return policy.CheckSize(p)
}

// checkWriter is PoliciesValidator on the policy after a write of r: some
// permanent subject must keep WRITE on policy:/ (a policy with imports is
// exempt). Writes of an entry or below are refused with
// entry.modificationinvalid, others with policy.modificationinvalid.
func checkWriter(p *policy.Policy, r resource) error {
	if len(p.Imports) > 0 || policy.HasPermanentWriter(p) {
		return nil
	}
	if r.entryLevel() {
		return entryInvalid(r.policyID, r.label, noWriterReason)
	}
	return policyInvalid(r.policyID, noWriterReason)
}

// checkExpiry refuses subjects a command writes that have already expired
// (Ditto's checkForAlreadyExpiredSubject looks at those only: subjects
// already stored expire on their own).
func checkExpiry(subjects map[string]policy.Subject, now time.Time) error {
	for _, s := range subjects {
		if s.Expiry != nil && s.Expiry.Before(now) {
			return protocol.Errorf(protocol.CodePolicySubjectExpiryInvalid,
				"Subject expiry timestamp '%s' is not valid.", protocol.FormatInstant(*s.Expiry)).WithDescription(
				"It must not be in the past, please adjust to a timestamp in the future.")
		}
	}
	return nil
}

// reference is one entry reference: to a local entry (imported empty) or to
// an entry of an imported policy.
type reference struct {
	Imported string `json:"import"`
	Entry    string `json:"entry"`
}

func referencesOf(e policy.Entry) []reference {
	var refs []reference
	_ = json.Unmarshal(e.References, &refs) // parsed and checked by policy.ParseEntry
	return refs
}

// checkReferences is Ditto's validateReferencesIntegrity over all entries of
// p: no duplicate, no reference to the entry itself, local references to
// existing entries that may be referenced, import references to declared
// imports.
func checkReferences(p *policy.Policy) error {
	for _, label := range p.Labels() {
		refs := referencesOf(p.Entries[label])
		seen := map[reference]bool{}
		for _, ref := range refs {
			invalid := func(format string, args ...any) error {
				return referencesInvalid(p.ID, label, fmt.Sprintf(format, args...))
			}
			switch {
			case seen[ref]:
				return invalid("Duplicate reference to entry '%s'.", ref.Entry)
			case ref.Imported == "" && ref.Entry == label:
				return invalid("Entry must not reference itself.")
			case ref.Imported == "":
				target, ok := p.Entries[ref.Entry]
				if !ok {
					return invalid("Local reference targets entry '%s' which does not exist in the policy.", ref.Entry)
				}
				if target.Importable == policy.ImportNever {
					return invalid("Local reference targets entry '%s' which is marked importable=never and cannot be referenced.", ref.Entry)
				}
			case importIndex(p, ref.Imported) < 0:
				return invalid("Import reference targets policy '%s' which is not declared in imports.", ref.Imported)
			}
			seen[ref] = true
		}
	}
	return nil
}

// localReferrer is the first entry with a local reference to label.
func localReferrer(p *policy.Policy, label string) (string, bool) {
	for _, from := range p.Labels() {
		for _, ref := range referencesOf(p.Entries[from]) {
			if ref.Imported == "" && ref.Entry == label {
				return from, true
			}
		}
	}
	return "", false
}

// importReferenced tells whether an entry references an entry of the import
// imported ("" : of any import).
func importReferenced(p *policy.Policy, imported string) bool {
	for _, label := range p.Labels() {
		for _, ref := range referencesOf(p.Entries[label]) {
			if ref.Imported != "" && (imported == "" || ref.Imported == imported) {
				return true
			}
		}
	}
	return false
}

// checkNarrowing refuses to drop a label from the entries an import takes
// while an entry reference still points to it (Ditto's
// checkLabelNarrowingDoesNotOrphan).
func checkNarrowing(p *policy.Policy, imported string, oldValue, newValue json.RawMessage) error {
	kept := map[string]bool{}
	for _, l := range importLabels(newValue) {
		kept[l] = true
	}
	removed := map[string]bool{}
	for _, l := range importLabels(oldValue) {
		if !kept[l] {
			removed[l] = true
		}
	}
	if len(removed) == 0 {
		return nil
	}
	for _, label := range p.Labels() {
		for _, ref := range referencesOf(p.Entries[label]) {
			if ref.Imported == imported && removed[ref.Entry] {
				return importReferenceConflict(p.ID, imported).WithDescription(fmt.Sprintf(
					"Removing label '%s' from this import's filter would orphan the reference from entry '%s'.", ref.Entry, label))
			}
		}
	}
	return nil
}

// importLabels are the labels an import value takes ("entries").
func importLabels(v json.RawMessage) []string {
	var imp struct {
		Entries []json.RawMessage `json:"entries"`
	}
	_ = json.Unmarshal(v, &imp)
	var out []string
	for _, raw := range imp.Entries {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}
