package remediation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits on an event, from the contract (section 1).
const (
	MaxEventBytes    = 1 << 20
	MaxEventElements = 1000
)

// SecurityGroupType is the Config resource type this function remediates.
const SecurityGroupType = "ACS::ECS::SecurityGroup"

// ErrBadEvent is wrapped by every event decoding error.
var ErrBadEvent = errors.New("bad event")

// Resource is one non-compliant resource of a Config event.
type Resource struct {
	RegionID     string `json:"regionId"`
	AccountID    string `json:"accountId,omitempty"`
	ResourceID   string `json:"resourceId"`
	ResourceType string `json:"resourceType,omitempty"`
	// Extra keeps the fields this package does not interpret
	// (configRuleId, complianceType, ...) for logging. They are written
	// back at the top level, as Config sends them.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes the resource as Config sends it, so that an encoded
// event decodes to the same resources.
func (r Resource) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Extra)+4)
	for k, v := range r.Extra {
		m[k] = v
	}
	m["regionId"], m["resourceId"] = r.RegionID, r.ResourceID
	if r.AccountID != "" {
		m["accountId"] = r.AccountID
	}
	if r.ResourceType != "" {
		m["resourceType"] = r.ResourceType
	}
	return json.Marshal(m)
}

// DecodeEvent decodes a Config remediation payload leniently: a JSON array of
// resources, a single resource object, or either of these encoded once more
// as a JSON string. Keys match case-insensitively; accountId may be a string
// or a number. It makes no cloud call; any error wraps ErrBadEvent.
func DecodeEvent(payload []byte) ([]Resource, error) {
	if len(payload) > MaxEventBytes {
		return nil, fmt.Errorf("%w: payload is %d bytes, over the %d-byte limit", ErrBadEvent, len(payload), MaxEventBytes)
	}
	data := bytes.TrimSpace(payload)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrBadEvent)
	}
	if data[0] == '"' {
		var inner string
		if err := json.Unmarshal(data, &inner); err != nil {
			return nil, fmt.Errorf("%w: not JSON: %v", ErrBadEvent, err)
		}
		data = bytes.TrimSpace([]byte(inner))
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: empty payload inside the JSON string", ErrBadEvent)
		}
	}
	if err := jsonSyntax(data); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrBadEvent, err)
	}
	var raws []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("%w: not a JSON array of resources: %v", ErrBadEvent, err)
		}
	case '{':
		raws = []json.RawMessage{data}
	default:
		return nil, fmt.Errorf("%w: want a resource object or an array of them", ErrBadEvent)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("%w: no resources", ErrBadEvent)
	}
	if len(raws) > MaxEventElements {
		return nil, fmt.Errorf("%w: %d resources, over the limit of %d per event", ErrBadEvent, len(raws), MaxEventElements)
	}
	out := make([]Resource, 0, len(raws))
	for i, raw := range raws {
		r, err := decodeResource(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: element %d: %v", ErrBadEvent, i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func decodeResource(raw json.RawMessage) (Resource, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Resource{}, fmt.Errorf("not a JSON object")
	}
	var r Resource
	for k, v := range fields {
		var dst *string
		switch strings.ToLower(k) {
		case "regionid":
			dst = &r.RegionID
		case "accountid":
			dst = &r.AccountID
		case "resourceid":
			dst = &r.ResourceID
		case "resourcetype":
			dst = &r.ResourceType
		default:
			if r.Extra == nil {
				r.Extra = map[string]json.RawMessage{}
			}
			r.Extra[k] = v
			continue
		}
		s, err := scalarString(v)
		if err != nil {
			return Resource{}, fmt.Errorf("%s: %v", k, err)
		}
		*dst = strings.TrimSpace(s)
	}
	switch {
	case r.ResourceID == "":
		return Resource{}, fmt.Errorf("missing resourceId")
	case r.RegionID == "":
		return Resource{}, fmt.Errorf("resource %s: missing regionId", r.ResourceID)
	case !ValidRegion(r.RegionID):
		// It names the regional endpoint: never let it shape a host name.
		return Resource{}, fmt.Errorf("resource %s: regionId %q is not a region id (lower-case letters, digits and '-')", r.ResourceID, r.RegionID)
	case r.AccountID != "" && !ValidAccountID(r.AccountID):
		return Resource{}, fmt.Errorf("resource %s: accountId %q is not a 16-digit account id", r.ResourceID, r.AccountID)
	}
	return r, nil
}

// scalarString accepts a JSON string, number or null.
func scalarString(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", nil
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", fmt.Errorf("want a string or a number")
	}
	return n.String(), nil
}

// jsonSyntax says what is wrong with data and where, or nil when it is JSON.
func jsonSyntax(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && se.Offset >= int64(len(data)):
		return fmt.Errorf("the text ends early, at byte %d (truncated?)", len(data))
	case errors.As(err, &se):
		return fmt.Errorf("at byte %d: %v", se.Offset, se)
	case err != nil:
		return err
	}
	return errors.New("invalid JSON")
}
