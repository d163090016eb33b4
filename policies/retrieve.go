package policies

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// retrieve answers a retrieve at any level from the cached policy, as
// Ditto's PolicyCommandEnforcement and query strategies do: the caller needs
// READ on policy:<path> or somewhere below it (else the level's not-found),
// the preconditions are checked on the whole value, and the answer is
// pruned to what the caller may read (policyId always stays).
func (h *Handler) retrieve(ctx context.Context, cmd command) (protocol.Envelope, error) {
	res := cmd.res
	var fields protocol.FieldSelector
	if cmd.env.Fields != "" && res.level == levelPolicy {
		var err error
		if fields, err = protocol.ParseFieldSelector(cmd.env.Fields); err != nil {
			return protocol.Envelope{}, err
		}
	}
	s, err := h.current(ctx, res.policyID)
	if err != nil {
		return protocol.Envelope{}, h.unavailable(res.policyID, err)
	}
	if s.policy == nil {
		return protocol.Envelope{}, policyNotFound(res.policyID)
	}
	p := s.policy
	view := cmd.view(s)
	if !view.CanRead(policy.TypePolicy, res.ptr) {
		return protocol.Envelope{}, res.notFound()
	}
	if cmd.resolved && len(p.Imports) > 0 {
		// Without imports the resolved view is the policy itself; with
		// them it would need the imported policies, which are not resolved.
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeHeaderUnsupported,
			"The header 'policy-view' with value 'resolved' is not supported by this gateway yet for a Policy with imports.")
	}
	etag := etagOf(p, res)
	if cmd.resolved {
		// Ditto drops the preconditions and the tag of the resolved view:
		// its content may change without the policy's revision.
		etag = ""
	} else if err := checkPreconditions(cmd.env.Headers, true, false, etag); err != nil {
		return protocol.Envelope{}, err
	}
	raw, perr := lookup(p, res)
	if perr != nil {
		return protocol.Envelope{}, perr
	}
	if fields != nil || !view.Has(policy.Read, policy.TypePolicy, res.ptr) {
		if raw, err = narrow(raw, p, res, fields, view); err != nil {
			return protocol.Envelope{}, err
		}
	}
	return cmd.response(protocol.ActionRetrieve, http.StatusOK, raw, etag, p.Revision), nil
}

// narrow applies the field selector (whole policy only, special fields
// selectable) and prunes an object to what view may read; other values are
// answered whole, as Ditto's buildJsonView only filters objects.
func narrow(raw json.RawMessage, p *policy.Policy, res resource, fields protocol.FieldSelector, view *policy.View) (json.RawMessage, error) {
	tree, err := protocol.DecodeValue(raw)
	if err != nil {
		return nil, err
	}
	obj, isObject := tree.(map[string]any)
	if !isObject {
		return raw, nil
	}
	if fields != nil {
		obj["_revision"] = json.Number(strconv.FormatInt(p.Revision, 10))
		obj["_created"] = protocol.FormatInstant(p.Created)
		obj["_modified"] = protocol.FormatInstant(p.Modified)
		obj["_namespace"] = p.Namespace()
		selected, _ := fields.Select(obj).(map[string]any)
		if selected == nil {
			selected = map[string]any{}
		}
		obj = selected
	}
	if view.Has(policy.Read, policy.TypePolicy, res.ptr) {
		return protocol.EncodeValue(obj), nil
	}
	pruned, _ := view.Prune(policy.TypePolicy, res.ptr, obj)
	out, _ := pruned.(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	// policyId is always shown (Ditto's POLICY_QUERY_COMMAND_RESPONSE_ALLOWLIST).
	if id, ok := obj["policyId"]; ok && res.level == levelPolicy {
		out["policyId"] = id
	}
	return protocol.EncodeValue(out), nil
}

// checkPreconditions evaluates If-Match and If-None-Match against etag, the
// current tag of the addressed resource ("" when it does not exist), as
// Ditto's ConditionalHeadersValidator does: a retrieve or delete of nothing
// goes on to its 404; on a retrieve a matching If-None-Match is 304, on a
// write 412.
func checkPreconditions(h protocol.Headers, retrieve, isDelete bool, etag string) error {
	ifMatch, hasIfMatch := h[protocol.HeaderIfMatch]
	ifNoneMatch, hasIfNoneMatch := h[protocol.HeaderIfNoneMatch]
	if !hasIfMatch && !hasIfNoneMatch {
		return nil
	}
	exists := etag != ""
	if !exists && (retrieve || isDelete) {
		return nil
	}
	if hasIfMatch {
		anyTag, _, err := protocol.ParseETagList(protocol.HeaderIfMatch, ifMatch)
		if err != nil {
			return err
		}
		if !exists || !(anyTag || listsTag(ifMatch, etag)) {
			return errWithETag(preconditionFailed(protocol.HeaderIfMatch, ifMatch, etag), etag)
		}
	}
	if hasIfNoneMatch {
		anyTag, _, err := protocol.ParseETagList(protocol.HeaderIfNoneMatch, ifNoneMatch)
		if err != nil {
			return err
		}
		if exists && (anyTag || listsTag(ifNoneMatch, etag)) {
			if retrieve {
				return errWithETag(preconditionNotModified(ifNoneMatch, etag), etag)
			}
			return errWithETag(preconditionFailed(protocol.HeaderIfNoneMatch, ifNoneMatch, etag), etag)
		}
	}
	return nil
}

// listsTag tells whether the header value raw lists etag. Ditto's tags are
// strong and compared strongly, so a weak W/"…" tag never matches.
func listsTag(raw, etag string) bool {
	for _, part := range strings.Split(raw, ",") {
		if strings.TrimSpace(part) == etag {
			return true
		}
	}
	return false
}
