package ack

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"

	"github.com/twinway/twinway/protocol"
)

// The built-in labels: Ditto fulfils them itself, so a client may neither
// issue nor (here) declare them.
const (
	// TwinPersisted is fulfilled when a twin modify command was persisted.
	TwinPersisted = "twin-persisted"
	// LiveResponse is fulfilled by the response to a live command or message.
	LiveResponse = "live-response"
	// SearchPersisted is fulfilled when the search index reflects a change;
	// the gateway's index is its store, so it is tolerated but never awaited.
	SearchPersisted = "search-persisted"
)

// IsBuiltIn tells whether label is one of Ditto's own labels.
func IsBuiltIn(label string) bool {
	return label == TwinPersisted || label == LiveResponse || label == SearchPersisted
}

// labelPattern is Ditto's AcknowledgementLabels.ACK_LABEL_REGEX. The length
// is 3 to 165 since Ditto 2.1 (connection ids grew; the documentation's
// {3,100} is older). The optional prefix is an unresolved connection
// placeholder such as "{{connection:id}}:", which Ditto accepts in any label.
var labelPattern = regexp.MustCompile(`^(?:\{\{\s*[a-z]+:[a-z]+\s*\}\}:)?[a-zA-Z0-9\-_:]{3,165}$`)

// ValidateLabel returns acknowledgement:label.invalid for a label that does
// not match Ditto's pattern.
func ValidateLabel(label string) *protocol.Error {
	if labelPattern.MatchString(label) {
		return nil
	}
	return protocol.Errorf(protocol.CodeAckLabelInvalid, "Acknowledgement label <%s> is invalid.", label)
}

// validateIssuable checks a label a client means to issue or declare: valid,
// and not built-in (acknowledgement:ditto.acklabel.forbidden, as Ditto's
// protocol adapter answers an acknowledgement with a built-in label).
func validateIssuable(label string) *protocol.Error {
	if err := ValidateLabel(label); err != nil {
		return err
	}
	if IsBuiltIn(label) {
		return protocol.Errorf(protocol.CodeAckLabelForbidden,
			"The Ditto internal Acknowledgement label <%s> is not allowed to be issued externally!", label)
	}
	return nil
}

// ParseRequested parses the value of a requested-acks header or query
// parameter into its labels, in order and without repeats (Ditto keeps them
// in a set). Ditto accepts a JSON array or, failing that, a comma-separated
// list whose items are trimmed and whose empty items are skipped; the empty
// value is the empty list. Anything else is header.invalid with Ditto's
// messages; built-in labels are allowed (the defaults sort them out).
func ParseRequested(v string) ([]string, error) {
	items, text := jsonArrayOrList(v)
	labels := make([]string, 0, len(items))
	for _, item := range items {
		label, ok := jsonStringItem(item)
		if !ok {
			return nil, protocol.Errorf(protocol.CodeHeaderInvalid,
				"JSON array for <%s> contained invalid acknowledgement labels.", protocol.HeaderRequestedAcks)
		}
		if ValidateLabel(label) != nil {
			return nil, invalidHeader(protocol.HeaderRequestedAcks, text, "JSON array of acknowledgement labels")
		}
		labels = appendUnique(labels, label)
	}
	return labels, nil
}

// ParseDeclared parses the declared-acks query parameter of the WebSocket
// handshake (a JSON array or a comma-separated list) into the labels the
// session may issue. Ditto skips array items that are not strings and
// answers an invalid label with acknowledgement:label.invalid. It accepts a
// built-in label here and only refuses it when issued; refusing it at once
// (acknowledgement:ditto.acklabel.forbidden) tells the client earlier.
func ParseDeclared(v string) ([]string, error) {
	items, _ := jsonArrayOrList(v)
	labels := make([]string, 0, len(items))
	for _, item := range items {
		label, ok := jsonStringItem(item)
		if !ok {
			continue
		}
		if err := validateIssuable(label); err != nil {
			return nil, err
		}
		labels = appendUnique(labels, label)
	}
	return labels, nil
}

// jsonArrayOrList reads a JSON-array header as Ditto's
// ReadJsonArrayHeadersFilter does: a JSON array as it is, anything else as a
// comma-separated list. It returns the items and the array's text (the
// converted list when v was one), which Ditto's messages quote.
func jsonArrayOrList(v string) (items []json.RawMessage, text string) {
	if v == "" {
		return nil, "[]"
	}
	// "null" unmarshals into a nil slice; Ditto reads it as a list item.
	if strings.HasPrefix(strings.TrimSpace(v), "[") && json.Unmarshal([]byte(v), &items) == nil {
		return items, v
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for _, part := range strings.Split(v, ",") {
		if part == "" {
			continue
		}
		quoted := quoteJSON(strings.TrimSpace(part))
		if len(items) > 0 {
			sb.WriteByte(',')
		}
		sb.Write(quoted)
		items = append(items, quoted)
	}
	sb.WriteByte(']')
	return items, sb.String()
}

// jsonStringItem is the string an array item holds; ok is false for any
// other JSON value (null included, which would unmarshal into "").
func jsonStringItem(item json.RawMessage) (string, bool) {
	var s string
	if len(item) == 0 || item[0] != '"' || json.Unmarshal(item, &s) != nil {
		return "", false
	}
	return s, true
}

// quoteJSON writes s as a JSON string without encoding/json's HTML escapes,
// as Ditto writes it.
func quoteJSON(s string) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// invalidHeader is Ditto's DittoHeaderInvalidException for a value of the
// wrong type.
func invalidHeader(name, value, kind string) *protocol.Error {
	return protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid %s.", value, name, kind).
		WithDescription("Verify that the value of the header '" + name + "' is a valid '" + kind + "' and try again.")
}

func appendUnique(labels []string, label string) []string {
	for _, l := range labels {
		if l == label {
			return labels
		}
	}
	return append(labels, label)
}

// NotDeclared is acknowledgement:label.not.declared: a session issued an
// acknowledgement whose label it did not declare at the handshake.
func NotDeclared(label string) *protocol.Error {
	return protocol.Errorf(protocol.CodeAckLabelNotDeclared,
		"Cannot send acknowledgement with label <%s>, which is not declared.", label)
}

// Declarations is the gateway-wide registry of declared labels. A label
// belongs to at most one session at a time, so that an acknowledgement has
// one issuer; Ditto answers a second declaration with
// acknowledgement:label.not.unique and closes that WebSocket. Safe for
// concurrent use.
type Declarations struct {
	mu     sync.Mutex
	owners map[string]string // label → the session that declared it
}

// NewDeclarations returns an empty registry.
func NewDeclarations() *Declarations {
	return &Declarations{owners: make(map[string]string)}
}

// Declare gives labels to owner, all or none: if another owner holds one of
// them, nothing changes and the error is acknowledgement:label.not.unique
// with Ditto's message. Declaring labels the owner already holds is a no-op.
func (d *Declarations) Declare(owner string, labels []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range labels {
		if o, ok := d.owners[l]; ok && o != owner {
			return protocol.Errorf(protocol.CodeAckLabelNotUnique,
				"One or more declared acknowledgement labels are taken by other subscribers.")
		}
	}
	for _, l := range labels {
		d.owners[l] = owner
	}
	return nil
}

// Release frees the labels owner holds among labels (a session closing).
func (d *Declarations) Release(owner string, labels []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range labels {
		if d.owners[l] == owner {
			delete(d.owners, l)
		}
	}
}

// Owner returns the session that declared label, if any: the one that owes
// an acknowledgement, or a weak one when the signal does not reach it.
func (d *Declarations) Owner(label string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.owners[label]
	return o, ok
}
