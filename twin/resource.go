package twin

import (
	"fmt"

	"github.com/twinway/twinway/protocol"
)

// level is the kind of thing resource a command path addresses (SPEC.md §3).
type level int

const (
	levelThing level = iota
	levelPolicyID
	levelDefinition
	levelAttributes
	levelAttribute
	levelFeatures
	levelFeature
	levelFeatureDefinition
	levelProperties
	levelProperty
	levelDesiredProperties
	levelDesiredProperty
)

// resource is a parsed command path: its level, the pointer into the thing's
// JSON, and for feature levels the feature id.
type resource struct {
	level     level
	ptr       protocol.Pointer
	featureID string
}

// underFeature tells whether the resource lives inside one feature, which
// must then exist for a modify.
func (r resource) underFeature() bool { return r.level > levelFeature }

// parseResource classifies a command path. Unknown paths are
// protocoladapter:unknown.path; bad feature ids and keys json.key.invalid.
func parseResource(path string) (resource, error) {
	ptr, err := protocol.ParsePointer(path)
	if err != nil {
		return resource{}, err
	}
	r := resource{ptr: ptr}
	unknown := protocol.Errorf(protocol.CodeUnknownPath, "The path '%s' is not supported for things.", path)
	n := len(ptr)
	switch {
	case n == 0:
		r.level = levelThing
	case ptr[0] == "policyId" && n == 1:
		r.level = levelPolicyID
	case ptr[0] == "definition" && n == 1:
		r.level = levelDefinition
	case ptr[0] == "attributes":
		r.level = levelAttributes
		if n > 1 {
			r.level = levelAttribute
		}
	case ptr[0] == "features":
		if n == 1 {
			r.level = levelFeatures
			break
		}
		r.featureID = ptr[1]
		switch {
		case n == 2:
			r.level = levelFeature
		case ptr[2] == "definition" && n == 3:
			r.level = levelFeatureDefinition
		case ptr[2] == "properties":
			r.level = levelProperties
			if n > 3 {
				r.level = levelProperty
			}
		case ptr[2] == "desiredProperties":
			r.level = levelDesiredProperties
			if n > 3 {
				r.level = levelDesiredProperty
			}
		default:
			return resource{}, unknown
		}
	default:
		return resource{}, unknown
	}
	return r, nil
}

// subPath is the attribute or property pointer inside its container.
func (r resource) subPath() protocol.Pointer {
	switch r.level {
	case levelAttribute:
		return r.ptr[1:]
	case levelProperty, levelDesiredProperty:
		return r.ptr[3:]
	}
	return nil
}

// notFound is the resource's own 404 error, as Ditto words it.
func (r resource) notFound(thingID string) *protocol.Error {
	f, sub := r.featureID, r.subPath().String()
	switch r.level {
	case levelPolicyID:
		return protocol.Errorf(protocol.CodePolicyIDNotFound, "The Policy ID of the Thing with ID '%s' could not be found or requester had insufficient permissions to access it.", thingID)
	case levelDefinition:
		return protocol.Errorf(protocol.CodeDefinitionNotFound, "The definition of the Thing with ID '%s' could not be found or requester had insufficient permissions to access it.", thingID)
	case levelAttributes:
		return protocol.Errorf(protocol.CodeAttributesNotFound, "The Attributes of the Thing with ID '%s' do not exist or the requester had insufficient permissions to access it.", thingID)
	case levelAttribute:
		return protocol.Errorf(protocol.CodeAttributeNotFound, "The attribute with key '%s' on the thing with ID '%s' could not be found or the requester had insufficient permissions to access it.", sub, thingID)
	case levelFeatures:
		return protocol.Errorf(protocol.CodeFeaturesNotFound, "The Features on the Thing with ID '%s' do not exist or the requester had insufficient permissions to access it.", thingID)
	case levelFeature:
		return featureNotFound(thingID, f)
	case levelFeatureDefinition:
		return protocol.Errorf(protocol.CodeFeatureDefinitionNotFound, "The Definition of the Feature with ID '%s' on the Thing with ID '%s' does not exist or the requester had insufficient permissions to access it.", f, thingID)
	case levelProperties:
		return protocol.Errorf(protocol.CodeFeaturePropertiesNotFound, "The Properties of the Feature with ID '%s' on the Thing with ID '%s' do not exist or the requester had insufficient permissions to access it.", f, thingID)
	case levelProperty:
		return protocol.Errorf(protocol.CodeFeaturePropertyNotFound, "The Property with JSON Pointer '%s' of the Feature with ID '%s' on the Thing with ID '%s' does not exist or the requester had insufficient permissions to access it.", sub, f, thingID)
	case levelDesiredProperties:
		return protocol.Errorf(protocol.CodeFeatureDesiredPropertiesNotFound, "The desired properties of the Feature with ID '%s' on the Thing with ID '%s' do not exist or the requester had insufficient permissions to access it.", f, thingID)
	case levelDesiredProperty:
		return protocol.Errorf(protocol.CodeFeatureDesiredPropertyNotFound, "The desired property with JSON Pointer '%s' of the Feature with ID '%s' on the Thing with ID '%s' does not exist or the requester had insufficient permissions to access it.", sub, f, thingID)
	}
	return thingNotFound(thingID)
}

// missing is the 404 of a retrieve or delete of r when r is absent from doc,
// as Ditto's strategies report it: below a missing feature it is
// feature.notfound at every level, and a retrieve of an attribute or a
// (desired) property whose container is missing names the container
// (Retrieve{Attribute,FeatureProperty,FeatureDesiredProperty}Strategy); a
// delete names the resource itself.
func (r resource) missing(thingID string, doc map[string]any, retrieve bool) *protocol.Error {
	if r.underFeature() {
		if _, ok := getAt(doc, r.ptr[:2]); !ok {
			return featureNotFound(thingID, r.featureID)
		}
	}
	if retrieve {
		switch r.level {
		case levelAttribute:
			if _, ok := getAt(doc, r.ptr[:1]); !ok {
				return resource{level: levelAttributes}.notFound(thingID)
			}
		case levelProperty, levelDesiredProperty:
			if _, ok := getAt(doc, r.ptr[:3]); !ok {
				container := levelProperties
				if r.level == levelDesiredProperty {
					container = levelDesiredProperties
				}
				return resource{level: container, featureID: r.featureID}.notFound(thingID)
			}
		}
	}
	return r.notFound(thingID)
}

func thingNotFound(thingID string) *protocol.Error {
	return protocol.Errorf(protocol.CodeThingNotFound, "The Thing with ID '%s' could not be found or requester had insufficient permissions to access it.", thingID)
}

func featureNotFound(thingID, featureID string) *protocol.Error {
	return protocol.Errorf(protocol.CodeFeatureNotFound, "The Feature with ID '%s' on the Thing with ID '%s' could not be found or the requester had insufficient permissions to access it.", featureID, thingID)
}

// String names the level for logs and metrics.
func (l level) String() string {
	names := [...]string{"thing", "policyId", "definition", "attributes", "attribute", "features", "feature",
		"featureDefinition", "properties", "property", "desiredProperties", "desiredProperty"}
	if int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}
