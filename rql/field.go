package rql

import (
	"errors"
	"fmt"
	"strings"
)

// FieldKind tells what a property refers to.
type FieldKind uint8

const (
	// FieldJSON is a value in the thing's JSON at Field.Keys. thingId,
	// policyId, _namespace and _revision are FieldJSON too (top-level keys of
	// the Input.Thing map; a store may answer them from its columns).
	FieldJSON FieldKind = iota
	// FieldTime is _created or _modified: an instant, written as an ISO-8601
	// string (Java's Instant.toString, as Ditto does). See the package doc
	// for how it compares.
	FieldTime
	// FieldPlaceholder is a placeholder of event and message filters
	// (topic:action, resource:path, …), resolved by Input.Placeholder.
	FieldPlaceholder
)

// FeatureWildcard is the feature id that stands for every feature.
const FeatureWildcard = "*"

// Field is a property resolved against Ditto's thing model.
type Field struct {
	Kind FieldKind
	// Keys is the path from the thing's root, e.g. ["attributes","a","b"] or
	// ["features","*","properties","x"]. FieldTime: ["_created"] or
	// ["_modified"]. Empty for placeholders.
	Keys []string
	// Model is how many leading Keys name objects of the thing model
	// (attributes, features, a feature, its properties): their values are
	// never traversed as arrays. Below them, an array met on the way to the
	// last key is traversed element by element (objects only), as Ditto does.
	Model int
	// Name is the placeholder for FieldPlaceholder ("topic:action").
	Name string
}

// Wildcard reports whether f ranges over every feature (features/*/…).
func (f Field) Wildcard() bool {
	return len(f.Keys) >= 2 && f.Keys[0] == "features" && f.Keys[1] == FeatureWildcard
}

// Use is the context a property appears in; each allows other properties.
type Use uint8

const (
	// UseFilter is a comparison (eq, in, like, …).
	UseFilter Use = iota
	// UseExists is exists() or empty(): also whole features, properties and
	// desired properties.
	UseExists
	// UseSort is a sort option: no placeholders, no feature definitions, no
	// feature wildcard.
	UseSort
)

// The simple (top-level) properties of a thing.
var simpleFields = map[string]FieldKind{
	"thingId":    FieldJSON,
	"policyId":   FieldJSON,
	"_namespace": FieldJSON,
	"_revision":  FieldJSON,
	"_created":   FieldTime,
	"_modified":  FieldTime,
	"definition": FieldJSON,
	"_metadata":  FieldJSON,
}

// Placeholders accepted as properties of event and message filters: the
// names Ditto's streaming sessions register (topic, resource, entity, thing,
// feature), plus header:<name>.
var placeholderNames = map[string]map[string]bool{
	"topic": {"full": true, "namespace": true, "entityName": true, "group": true, "channel": true,
		"criterion": true, "action": true, "subject": true, "action-subject": true},
	"resource": {"type": true, "path": true},
	"entity":   {"id": true, "namespace": true, "name": true},
	"thing":    {"id": true, "namespace": true, "name": true},
	"feature":  {"id": true},
}

var errUnknownProperty = errors.New("unknown property")

// ResolveField resolves a property (as in a parsed Node: its optional
// leading '/' already removed) for the given use. Properties follow Ditto's
// thing model: thingId, policyId, definition, _namespace, _revision,
// _created, _modified, _metadata[/…], attributes/…,
// features/<id>/properties/…, features/<id>/desiredProperties/…,
// features/<id>/definition (<id> may be * for every feature) and, for
// UseExists, features/<id>[/properties|/desiredProperties]; in filters also
// the placeholders of event filters.
func ResolveField(property string, use Use) (Field, error) {
	f, err := resolveField(property, use)
	if err == nil && f.Model > len(f.Keys)-1 {
		f.Model = max(len(f.Keys)-1, 0)
	}
	return f, err
}

func resolveField(property string, use Use) (Field, error) {
	p := property
	if kind, ok := simpleFields[p]; ok {
		return Field{Kind: kind, Keys: []string{p}}, nil
	}
	if prefix, rest, ok := strings.Cut(p, "/"); ok {
		switch prefix {
		case "attributes", "_metadata":
			return Field{Kind: FieldJSON, Keys: append([]string{prefix}, splitKeys(rest)...), Model: 1}, nil
		case "features":
			return resolveFeatureField(property, rest, use)
		}
		return Field{}, fmt.Errorf("%w <%s>", errUnknownProperty, property)
	}
	if use != UseSort {
		if prefix, name, ok := strings.Cut(p, ":"); ok {
			if names, known := placeholderNames[prefix]; known && names[name] {
				return Field{Kind: FieldPlaceholder, Name: p}, nil
			}
			if prefix == "header" && name != "" {
				return Field{Kind: FieldPlaceholder, Name: p}, nil
			}
			return Field{}, fmt.Errorf("unknown placeholder <%s>", property)
		}
	}
	return Field{}, fmt.Errorf("%w <%s>", errUnknownProperty, property)
}

// resolveFeatureField resolves features/<rest> the way Ditto's
// FieldExpressionUtil.FeatureField does.
func resolveFeatureField(property, rest string, use Use) (Field, error) {
	id, sub, hasSub := strings.Cut(rest, "/")
	if id == "" {
		return Field{}, fmt.Errorf("%w <%s>: the feature id is missing", errUnknownProperty, property)
	}
	if use == UseSort && id == FeatureWildcard {
		return Field{}, fmt.Errorf("cannot sort by <%s>: the feature wildcard is not supported in sort", property)
	}
	base := []string{"features", id}
	section, below, hasBelow := strings.Cut(sub, "/")
	switch {
	case (section == "properties" || section == "desiredProperties") && hasBelow && below != "":
		// features/<id>/properties/<p>: every use.
		return Field{Kind: FieldJSON, Keys: append(append(base, section), splitKeys(below)...), Model: 3}, nil
	case section == "definition" && (!hasBelow || below == "") && use != UseSort:
		return Field{Kind: FieldJSON, Keys: append(base, section), Model: 2}, nil
	case use == UseExists && (section == "properties" || section == "desiredProperties"):
		return Field{Kind: FieldJSON, Keys: append(base, section), Model: 2}, nil
	case use == UseExists && !hasSub:
		return Field{Kind: FieldJSON, Keys: base, Model: 1}, nil
	}
	return Field{}, fmt.Errorf("%w <%s>", errUnknownProperty, property)
}

// splitKeys splits a JSON pointer into keys; empty segments are ignored, as
// Ditto's JsonPointer does.
func splitKeys(p string) []string {
	var keys []string
	for k := range strings.SplitSeq(p, "/") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}
