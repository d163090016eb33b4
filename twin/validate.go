package twin

import (
	"net/url"
	"regexp"

	"github.com/twinway/twinway/protocol"
)

// definitionPattern is a thing or feature definition identifier:
// <namespace>:<name>:<version>; an HTTP(S) URL is accepted too.
var definitionPattern = regexp.MustCompile(`^[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+$`)

func validDefinition(s string) bool {
	if definitionPattern.MatchString(s) {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// normalizeThing checks a whole thing document and returns it with only the
// fields a thing has (thingId, policyId, definition, attributes, features);
// unknown top-level fields are dropped, as Ditto's model does.
func normalizeThing(v any) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, protocol.Errorf(protocol.CodeJSONFormatInvalid, "The Thing must be a JSON object.")
	}
	out := make(map[string]any, 5)
	if id, ok := obj["thingId"]; ok {
		out["thingId"] = id
	}
	if err := checkFieldTypes(obj); err != nil {
		return nil, err
	}
	if p, ok := obj["policyId"]; ok {
		if err := validatePolicyIDValue(p); err != nil {
			return nil, err
		}
		out["policyId"] = p
	}
	if d, ok := obj["definition"]; ok {
		if err := validateDefinition(d); err != nil {
			return nil, err
		}
		out["definition"] = d
	}
	if a, ok := obj["attributes"]; ok {
		if err := validateObject("attributes", a); err != nil {
			return nil, err
		}
		out["attributes"] = a
	}
	if f, ok := obj["features"]; ok {
		if err := validateFeatures(f); err != nil {
			return nil, err
		}
		out["features"] = f
	}
	return out, nil
}

// checkFieldTypes rejects a thing whose policyId is not a string or whose
// attributes or features are not an object as Ditto does when it reads the
// thing JSON with its typed field definitions
// (AbstractJsonFieldDefinition#checkValueType): json.invalid, "Value <v> for
// </field> is not of type <T>!".
func checkFieldTypes(obj map[string]any) error {
	for _, f := range []struct{ name, typ string }{{"policyId", "String"}, {"attributes", "JsonObject"}, {"features", "JsonObject"}} {
		v, ok := obj[f.name]
		if !ok || v == nil {
			continue
		}
		_, isString := v.(string)
		_, isObject := v.(map[string]any)
		if f.typ == "String" && !isString || f.typ == "JsonObject" && !isObject {
			return protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for </%s> is not of type <%s>!", protocol.EncodeValue(v), f.name, f.typ)
		}
	}
	return nil
}

func validatePolicyIDValue(v any) error {
	s, ok := v.(string)
	if !ok {
		return protocol.Errorf(protocol.CodeJSONFormatInvalid, "The Policy ID must be a JSON string.")
	}
	if err := protocol.ValidatePolicyID(s); err != nil {
		return err
	}
	return nil
}

func validateDefinition(v any) error {
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok || !validDefinition(s) {
		return protocol.Errorf(protocol.CodeDefinitionInvalid, "Definition identifier <%v> is invalid!", v)
	}
	return nil
}

// validateObject checks that v is a JSON object whose keys, at every depth,
// are valid JSON keys.
func validateObject(what string, v any) error {
	if _, ok := v.(map[string]any); !ok {
		return protocol.Errorf(protocol.CodeJSONFormatInvalid, "The %s must be a JSON object.", what)
	}
	return validateKeys(v)
}

// validateKeys checks every object key in v, at every depth.
func validateKeys(v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if err := protocol.ValidateKey(k); err != nil {
				return err
			}
			if err := validateKeys(child); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range t {
			if err := validateKeys(child); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateFeatures(v any) error {
	features, ok := v.(map[string]any)
	if !ok {
		return protocol.Errorf(protocol.CodeJSONFormatInvalid, "The features must be a JSON object.")
	}
	for id, f := range features {
		if err := protocol.ValidateKey(id); err != nil {
			return err
		}
		normalized, err := normalizeFeature(f)
		if err != nil {
			return err
		}
		features[id] = normalized
	}
	return nil
}

// normalizeFeature checks a feature and keeps its known fields (definition,
// properties, desiredProperties). A null feature stays null, as in Ditto.
func normalizeFeature(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, protocol.Errorf(protocol.CodeJSONFormatInvalid, "A Feature must be a JSON object.")
	}
	out := make(map[string]any, 3)
	if d, ok := obj["definition"]; ok {
		if err := validateFeatureDefinition(d); err != nil {
			return nil, err
		}
		out["definition"] = d
	}
	for _, key := range []string{"properties", "desiredProperties"} {
		if p, ok := obj[key]; ok {
			if err := validateObject(key, p); err != nil {
				return nil, err
			}
			out[key] = p
		}
	}
	return out, nil
}

func validateFeatureDefinition(v any) error {
	list, ok := v.([]any)
	if !ok {
		return protocol.Errorf(protocol.CodeJSONFormatInvalid, "A Feature definition must be a JSON array of identifiers.")
	}
	if len(list) == 0 {
		return protocol.Errorf(protocol.CodeFeatureDefinitionEmpty, "Feature Definition must not be empty!")
	}
	seen := make(map[string]bool, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok || !validDefinition(s) {
			return protocol.Errorf(protocol.CodeDefinitionInvalid, "Definition identifier <%v> is invalid!", item)
		}
		if seen[s] {
			return protocol.Errorf(protocol.CodeJSONFormatInvalid, "The Feature definition contains <%s> twice.", s)
		}
		seen[s] = true
	}
	return nil
}

// validateAt checks a value written at a resource below the thing level.
func validateAt(r resource, v any) (any, error) {
	switch r.level {
	case levelPolicyID:
		return v, validatePolicyIDValue(v)
	case levelDefinition:
		return v, validateDefinition(v)
	case levelAttributes:
		return v, validateObject("attributes", v)
	case levelFeatures:
		return v, validateFeatures(v)
	case levelFeature:
		return normalizeFeature(v)
	case levelFeatureDefinition:
		return v, validateFeatureDefinition(v)
	case levelProperties:
		return v, validateObject("properties", v)
	case levelDesiredProperties:
		return v, validateObject("desiredProperties", v)
	default: // attribute, property, desired property: any JSON
		return v, validateKeys(v)
	}
}
