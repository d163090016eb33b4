package twin

import (
	"net/http"

	"github.com/twinway/twinway/protocol"
)

// applyCreate creates a thing; an existing one is a conflict.
func applyCreate(cmd command, st state, value any) (change, error) {
	if st.exists {
		return change{}, protocol.Errorf(protocol.CodeThingConflict, "The Thing with ID '%s' already exists", cmd.thingID)
	}
	return createThing(cmd, value, false)
}

// createThing builds the change that creates a thing from value: 201 with the
// thing, a created event. A missing policyId becomes the thing id, the id of
// the thing's implicit default policy in Ditto.
func createThing(cmd command, value any, stripNulls bool) (change, error) {
	if _, ok := value.(map[string]any); !ok {
		return change{}, protocol.Errorf(protocol.CodeJSONFormatInvalid, "The Thing must be a JSON object.")
	}
	if stripNulls {
		value = withoutNulls(value)
	}
	doc, err := normalizeThing(value)
	if err != nil {
		return change{}, err
	}
	if err := checkThingID(cmd.thingID, doc); err != nil {
		return change{}, err
	}
	doc["thingId"] = cmd.thingID
	if _, ok := doc["policyId"]; !ok {
		doc["policyId"] = cmd.thingID
	}
	return change{doc: doc, action: protocol.ActionCreate, status: http.StatusCreated, respValue: doc, hasResp: true,
		eventAction: protocol.ActionCreated, eventValue: doc, hasEvent: true}, nil
}

// applyModify replaces the resource at the command's path; an absent resource
// is created (201 with the value), a present one replaced (204).
func applyModify(cmd command, st state, value any) (change, error) {
	res := cmd.res
	if res.level == levelThing {
		if !st.exists {
			return createThing(cmd, value, false)
		}
		doc, err := normalizeThing(value)
		if err != nil {
			return change{}, err
		}
		if err := checkThingID(cmd.thingID, doc); err != nil {
			return change{}, err
		}
		doc["thingId"] = cmd.thingID
		if _, ok := doc["policyId"]; !ok {
			doc["policyId"] = st.doc["policyId"]
		}
		return change{doc: doc, status: http.StatusNoContent, eventAction: protocol.ActionModified, eventValue: doc, hasEvent: true}, nil
	}
	if res.underFeature() {
		if _, ok := getAt(st.doc, protocol.Pointer{"features", res.featureID}); !ok {
			return change{}, featureNotFound(cmd.thingID, res.featureID)
		}
	}
	value, err := validateAt(res, value)
	if err != nil {
		return change{}, err
	}
	_, existed := getAt(st.doc, res.ptr)
	setAt(st.doc, res.ptr, value)
	ch := change{doc: st.doc, eventValue: value, hasEvent: true}
	if existed {
		ch.status, ch.eventAction = http.StatusNoContent, protocol.ActionModified
	} else {
		ch.status, ch.eventAction = http.StatusCreated, protocol.ActionCreated
		ch.respValue, ch.hasResp = value, true
	}
	return ch, nil
}

// applyMerge applies an RFC 7396 merge patch at the command's path. At the
// root of a missing thing it creates the thing (nulls stripped), as Ditto
// turns such a merge into a create.
func applyMerge(cmd command, st state, patch any) (change, error) {
	res := cmd.res
	if res.level == levelThing {
		if p, ok := patch.(map[string]any); !ok || len(p) == 0 {
			return change{}, protocol.Errorf(protocol.CodeMergeInvalid, "The provided json value can not be applied at this resource")
		}
		if p := patch.(map[string]any); p["thingId"] == nil {
			if _, present := p["thingId"]; present {
				return change{}, protocol.Errorf(protocol.CodeThingIDNotDeletable, "The Thing ID of a Thing cannot be deleted.")
			}
		}
		if !st.exists {
			return createThing(cmd, patch, true)
		}
	}
	if res.level == levelPolicyID && patch == nil {
		return change{}, policyIDNotDeletable()
	}
	if p, ok := patch.(map[string]any); ok && res.level == levelThing {
		if err := checkThingID(cmd.thingID, p); err != nil {
			return change{}, err
		}
	}
	// Merge the patch wrapped in the objects of its path into the whole
	// thing, which creates missing objects on the way as Ditto does.
	wrapped := patch
	for i := len(res.ptr) - 1; i >= 0; i-- {
		wrapped = map[string]any{res.ptr[i]: wrapped}
	}
	// mergePatch changes only the thing's objects, never the patch's, so the
	// patch can go into the event as it is.
	merged, ok := mergePatch(st.doc, wrapped).(map[string]any)
	if !ok {
		return change{}, protocol.Errorf(protocol.CodeMergeInvalid, "The merge patch for the Thing with ID '%s' must be a JSON object.", cmd.thingID)
	}
	return change{doc: merged, status: http.StatusNoContent, eventAction: protocol.ActionMerged, eventValue: patch, hasEvent: true}, nil
}

// applyDelete deletes the resource at the command's path.
func applyDelete(cmd command, st state, _ any) (change, error) {
	res := cmd.res
	if res.level == levelThing {
		if !st.exists {
			return change{}, thingNotFound(cmd.thingID)
		}
		return change{status: http.StatusNoContent, eventAction: protocol.ActionDeleted, hasEvent: true}, nil
	}
	if !deleteAt(st.doc, res.ptr) {
		return change{}, res.missing(cmd.thingID, st.doc, false)
	}
	return change{doc: st.doc, status: http.StatusNoContent, eventAction: protocol.ActionDeleted, hasEvent: true}, nil
}

func policyIDNotDeletable() *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyIDNotDeletable, "The Policy ID of a Thing cannot be deleted.")
}
