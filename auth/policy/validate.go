package policy

import (
	"bytes"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Validate makes the checks Ditto's policy service makes on a policy to be
// created or modified, after parsing it (AbstractPolicyCommandStrategy,
// PoliciesValidator):
//
//   - no subject may already be expired at now: policies:subjectexpiry.invalid;
//   - unless the policy has imports, some subject without expiry must be
//     granted WRITE on exactly policy:/ in an entry, and not be revoked WRITE
//     on policy:/ in any entry: policies:policy.modificationinvalid (403).
//
// Callers modifying an entry may report the second as
// policies:entry.modificationinvalid instead (same rule, other message).
func Validate(p *Policy, now time.Time) error {
	for _, label := range p.Labels() {
		e := p.Entries[label]
		for _, id := range e.SubjectIDs() {
			if s := e.Subjects[id]; s.Expiry != nil && s.Expiry.Before(now) {
				return protocol.Errorf(protocol.CodePolicySubjectExpiryInvalid,
					"Subject expiry timestamp '%s' is not valid.", protocol.FormatInstant(*s.Expiry)).WithDescription(
					"It must not be in the past, please adjust to a timestamp in the future.")
			}
		}
	}
	if len(p.Imports) > 0 || HasPermanentWriter(p) {
		return nil
	}
	return protocol.Errorf(protocol.CodePolicyModificationInvalid,
		"The Policy with ID '%s' could not be modified as the resulting Policy would be invalid.", p.ID).WithDescription(
		"It must contain at least one permanent Subject with permission(s) <[WRITE]> on resource <policy:/>!")
}

// HasPermanentWriter is Ditto's PoliciesValidator rule: some subject without
// expiry is granted WRITE on policy:/ (that very resource) and the same
// subject (id, type, expiry, announcement) is revoked WRITE on policy:/ in no
// entry.
func HasPermanentWriter(p *Policy) bool {
	const root = ResourceKey("policy:/")
	type sub struct {
		id string
		s  Subject
	}
	var granted, revoked []sub
	for _, label := range p.Labels() {
		e := p.Entries[label]
		perms, ok := e.Resources[root]
		if !ok {
			continue
		}
		g, r := contains(perms.Grant, "WRITE"), contains(perms.Revoke, "WRITE")
		for _, id := range e.SubjectIDs() {
			s := e.Subjects[id]
			if g && s.Expiry == nil {
				granted = append(granted, sub{id, s})
			}
			if r {
				revoked = append(revoked, sub{id, s})
			}
		}
	}
	same := func(a, b sub) bool {
		return a.id == b.id && a.s.Type == b.s.Type && (a.s.Expiry == nil) == (b.s.Expiry == nil) &&
			(a.s.Expiry == nil || a.s.Expiry.Equal(*b.s.Expiry)) && bytes.Equal(a.s.Announcement, b.s.Announcement)
	}
next:
	for _, g := range granted {
		for _, r := range revoked {
			if same(g, r) {
				continue next
			}
		}
		return true
	}
	return false
}
