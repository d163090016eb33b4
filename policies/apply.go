package policies

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// change is what a write of one level decided besides the new policy.
type change struct {
	status  int
	created json.RawMessage // the value of a 201
	action  string          // the response's action when not the command's (a modify that created the policy)
	noop    bool            // nothing to store (Ditto answers without an event)
}

// modify applies a create, modify or delete command (v is the parsed value;
// empty for a delete) in Ditto's order: the policy must exist (except for a
// creation); the caller needs unrestricted WRITE on policy:<path> (a
// creation: on policy:/ of the new policy, unless allow-policy-lockout);
// then the preconditions, the level's own not-found answers and Ditto's
// checks of the result; last the lockout guard.
func (h *Handler) modify(ctx context.Context, cmd command, v value) (protocol.Envelope, error) {
	var ch change
	res := cmd.res
	isDelete := cmd.topic.Action == protocol.ActionDelete
	s, err := h.write(ctx, res.policyID, func(cur *snapshot) (*policy.Policy, bool, error) {
		ch = change{status: http.StatusNoContent}
		now := h.now()
		if res.level == levelPolicy && !isDelete && (cur.policy == nil || cmd.topic.Action == protocol.ActionCreate) {
			// A modify of a missing policy creates it, as Ditto's
			// ModifyToCreatePolicyTransformer does.
			ch = change{status: http.StatusCreated, action: protocol.ActionCreate, created: v.policy.JSON()}
			next, err := h.decideCreate(cmd, cur, v.policy.Clone(), now)
			return next, err == nil, err
		}
		if cur.policy == nil {
			return nil, false, policyNotFound(res.policyID)
		}
		view := cmd.view(cur)
		if !view.CanWrite(policy.TypePolicy, res.ptr) {
			return nil, false, res.notModifiable()
		}
		if err := checkPreconditions(cmd.env.Headers, false, isDelete, etagOf(cur.policy, res)); err != nil {
			return nil, false, err
		}
		if isDelete && res.level == levelPolicy {
			return nil, true, nil
		}
		next := cur.policy.Clone()
		var err error
		if isDelete {
			ch, err = applyDelete(next, res)
		} else {
			ch, err = applyModify(next, res, v, now)
		}
		if err != nil || ch.noop {
			return nil, false, err
		}
		if err := policy.CheckSize(next); err != nil {
			return nil, false, err
		}
		// The lockout guard (SPEC.md §11.5): a writer who holds WRITE on
		// policy:/ does not lose it by its own write unless it says so.
		if !cmd.allowLockout && view.CanWrite(policy.TypePolicy, nil) && !canWritePolicy(next, cmd.who.Subjects, now) {
			return nil, false, lockedOut(res)
		}
		return next, true, nil
	})
	if err != nil {
		return protocol.Envelope{}, err
	}
	action := cmd.topic.Action
	if ch.action != "" {
		action = ch.action
	}
	var etag string
	switch {
	case isDelete || s.policy == nil:
	case res.level == levelPolicy:
		etag = revisionETag(s.revision)
	default:
		etag = etagOf(s.policy, res)
	}
	return cmd.response(action, ch.status, ch.created, etag, s.revision), nil
}

// decideCreate decides the creation of policy p (command create, or modify
// of a missing policy). Ditto enforces a creation on the new policy itself:
// the caller must hold WRITE on its policy:/ unless allow-policy-lockout is
// set (policies:policy.notcreatable); a live policy is a conflict.
func (h *Handler) decideCreate(cmd command, cur *snapshot, p *policy.Policy, now time.Time) (*policy.Policy, error) {
	if !cmd.allowLockout && !canWritePolicy(p, cmd.who.Subjects, now) {
		return nil, policyNotCreatable(cmd.res.policyID)
	}
	etag := ""
	if cur.policy != nil {
		etag = revisionETag(cur.revision)
	}
	if err := checkPreconditions(cmd.env.Headers, false, false, etag); err != nil {
		return nil, err
	}
	if cur.policy != nil {
		return nil, policyConflict(cmd.res.policyID)
	}
	if err := checkNewPolicy(p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// applyModify applies a modify of r with value v to p, as Ditto's modify
// strategies do.
func applyModify(p *policy.Policy, r resource, v value, now time.Time) (change, error) {
	ch := change{status: http.StatusNoContent}
	switch r.level {
	case levelPolicy:
		next := v.policy
		if err := checkNewPolicy(next, now); err != nil {
			return ch, err
		}
		// Replace p's content in place: the caller stores p.
		for _, label := range p.Labels() {
			p.RemoveEntry(label)
		}
		for _, label := range next.Labels() {
			p.SetEntry(label, next.Entries[label])
		}
		p.Imports = next.Imports
		return ch, nil
	case levelEntries:
		for _, label := range v.policy.Labels() {
			if err := checkExpiry(v.policy.Entries[label].Subjects, now); err != nil {
				return ch, err
			}
		}
		for _, label := range p.Labels() {
			p.RemoveEntry(label)
		}
		for _, label := range v.policy.Labels() {
			p.SetEntry(label, v.policy.Entries[label])
		}
		if err := checkReferences(p); err != nil {
			return ch, err
		}
		return ch, checkWriter(p, r)
	case levelImports:
		return ch, setImports(p, v.policy.Imports)
	case levelImport:
		return setImport(p, r, v.policy.Imports[0])
	case levelImportEntries, levelImportTransitive:
		return ch, setImportList(p, r, v.list)
	case levelEntry:
		if err := checkExpiry(v.entry.Subjects, now); err != nil {
			return ch, err
		}
		if _, ok := p.Entries[r.label]; !ok {
			ch = change{status: http.StatusCreated, created: v.entry.JSON()}
		}
		p.SetEntry(r.label, v.entry)
		if err := checkReferences(p); err != nil {
			return ch, err
		}
		return ch, checkWriter(p, r)
	}
	e, ok := p.Entries[r.label]
	if !ok {
		return ch, entryNotFound(r.policyID, r.label)
	}
	validate := true
	switch r.level {
	case levelSubjects:
		if err := checkExpiry(v.entry.Subjects, now); err != nil {
			return ch, err
		}
		for _, id := range e.SubjectIDs() {
			e.RemoveSubject(id)
		}
		for _, id := range v.entry.SubjectIDs() {
			e.SetSubject(id, v.entry.Subjects[id])
		}
	case levelSubject:
		if err := checkExpiry(map[string]policy.Subject{r.subject: v.subject}, now); err != nil {
			return ch, err
		}
		if _, ok := e.Subjects[r.subject]; !ok {
			ch = change{status: http.StatusCreated, created: v.subject.JSON()}
		}
		e.SetSubject(r.subject, v.subject)
	case levelResources:
		for _, k := range e.ResourceKeys() {
			e.RemoveResource(k)
		}
		for _, k := range v.entry.ResourceKeys() {
			e.SetResource(k, v.entry.Resources[k])
		}
	case levelResource:
		if _, ok := e.Resources[r.key]; !ok {
			ch = change{status: http.StatusCreated, created: v.perms.JSON()}
		}
		e.SetResource(r.key, v.perms)
	case levelNamespaces:
		validate = false
		e.Namespaces = v.entry.Namespaces
		if e.Namespaces == nil {
			e.Namespaces = []string{}
		}
	case levelImportable:
		validate = false
		if v.entry.Importable == policy.ImportNever {
			if from, ok := localReferrer(p, r.label); ok && from != r.label {
				return ch, protocol.Errorf(protocol.CodePolicyEntryReferenceConflict,
					"The entry '%s' of Policy '%s' cannot be marked importable=never because a local reference from entry '%s' still points to it.",
					r.label, r.policyID, from).WithDescription("Remove the local reference first before marking the entry importable=never.")
			}
		}
		e.Importable = v.entry.Importable
	case levelAllowedAdditions:
		validate = false
		e.AllowedAdditions = v.entry.AllowedAdditions
		if e.AllowedAdditions == nil {
			e.AllowedAdditions = []string{}
		}
	case levelReferences:
		validate = false
		hadNone := len(referencesOf(e)) == 0
		e.References = v.entry.References
		if refs := referencesOf(e); len(refs) == 0 {
			e.References = nil
		} else if hadNone {
			ch = change{status: http.StatusCreated, created: e.References}
		}
		p.SetEntry(r.label, e)
		return ch, checkReferences(p)
	}
	p.SetEntry(r.label, e)
	if !validate {
		return ch, nil
	}
	return ch, checkWriter(p, r)
}

// applyDelete applies a delete of r (not the whole policy) to p, as Ditto's
// delete strategies do.
func applyDelete(p *policy.Policy, r resource) (change, error) {
	ch := change{status: http.StatusNoContent}
	switch r.level {
	case levelImports:
		if importReferenced(p, "") {
			return ch, importsReferenceConflict(r.policyID)
		}
		p.Imports = nil
		return ch, nil
	case levelImport:
		i := importIndex(p, r.imported)
		if i < 0 {
			return ch, importNotFound(r.policyID, r.imported)
		}
		if importReferenced(p, r.imported) {
			return ch, importReferenceConflict(r.policyID, r.imported)
		}
		p.Imports = append(p.Imports[:i:i], p.Imports[i+1:]...)
		return ch, nil
	}
	e, ok := p.Entries[r.label]
	if !ok {
		return ch, entryNotFound(r.policyID, r.label)
	}
	switch r.level {
	case levelEntry:
		if from, ok := localReferrer(p, r.label); ok {
			return ch, entryReferenceConflict(r.policyID, r.label, from)
		}
		p.RemoveEntry(r.label)
		return ch, checkWriter(p, r)
	case levelSubject:
		if _, ok := e.Subjects[r.subject]; !ok {
			return ch, r.notFound()
		}
		e.RemoveSubject(r.subject)
	case levelResource:
		if _, ok := e.Resources[r.key]; !ok {
			return ch, r.notFound()
		}
		e.RemoveResource(r.key)
	case levelAllowedAdditions:
		if e.AllowedAdditions == nil {
			// Nothing to delete: Ditto answers 204 without a new revision.
			ch.noop = true
			return ch, nil
		}
		e.AllowedAdditions = nil
		p.SetEntry(r.label, e)
		return ch, nil
	case levelReferences:
		e.References = nil
		p.SetEntry(r.label, e)
		return ch, nil
	}
	p.SetEntry(r.label, e)
	return ch, checkWriter(p, r)
}

// setImports replaces p's imports; an import that goes away must not be
// referenced, one that stays must keep the labels referenced.
func setImports(p *policy.Policy, imports []policy.Import) error {
	for _, old := range p.Imports {
		j := -1
		for i, imp := range imports {
			if imp.PolicyID == old.PolicyID {
				j = i
			}
		}
		if j < 0 {
			if importReferenced(p, old.PolicyID) {
				return importReferenceConflict(p.ID, old.PolicyID)
			}
			continue
		}
		if err := checkNarrowing(p, old.PolicyID, importValue(old), importValue(imports[j])); err != nil {
			return err
		}
	}
	p.Imports = imports
	return nil
}

// setImport adds or replaces one import (a new one goes last).
func setImport(p *policy.Policy, r resource, imp policy.Import) (change, error) {
	ch := change{status: http.StatusNoContent}
	i := importIndex(p, r.imported)
	if i >= 0 {
		if err := checkNarrowing(p, r.imported, importValue(p.Imports[i]), importValue(imp)); err != nil {
			return ch, err
		}
		p.Imports[i] = imp
		return ch, nil
	}
	if len(p.Imports) >= policy.MaxImports {
		return ch, protocol.Errorf(protocol.CodePolicyImportsTooLarge,
			"The Imports of the Policy with ID '%s' could not be modified as they exceed the allowed number of '%d'.", r.policyID, policy.MaxImports)
	}
	p.Imports = append(p.Imports, imp)
	return change{status: http.StatusCreated, created: importValue(imp)}, nil
}

// setImportList sets the entries or transitiveImports of an import.
func setImportList(p *policy.Policy, r resource, list json.RawMessage) error {
	i := importIndex(p, r.imported)
	if i < 0 {
		return importNotFound(r.policyID, r.imported)
	}
	old := importValue(p.Imports[i])
	tree, err := protocol.DecodeValue(old)
	fields, ok := tree.(map[string]any)
	if err != nil || !ok {
		fields = map[string]any{}
	}
	name := "entries"
	if r.level == levelImportTransitive {
		name = "transitiveImports"
	}
	items, err := protocol.DecodeValue(list)
	if err != nil {
		return protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(list))
	}
	fields[name] = items
	next := json.RawMessage(protocol.EncodeValue(fields))
	if r.level == levelImportEntries {
		if err := checkNarrowing(p, r.imported, old, next); err != nil {
			return err
		}
	}
	p.Imports[i] = policy.Import{PolicyID: r.imported, Value: next}
	return nil
}

// canWritePolicy tells whether subjects hold WRITE on policy:/ of p at now
// (policy.LocksOut, on the handler's clock).
func canWritePolicy(p *policy.Policy, subjects []string, now time.Time) bool {
	return policy.Compile(p, now).Has(subjects, "policy:/", p.Namespace(), policy.Write)
}
