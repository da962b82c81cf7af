package remediation

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// CandidateExpr selects, from a security group's configuration document as
// Cloud Config records it, the rules that may be open to the whole internet:
// those whose SourceCidrIp or Ipv6SourceCidrIp holds a "/0" (every prefix of
// length 0 is written so, whatever the address's spelling), Accept and Drop
// alike (the Accept rules are the candidates, the Drop rules may shadow
// them), less the rules whose Direction is exactly 'egress'. Both shapes seen
// in the wild are accepted: "Permissions": {"Permission": [...]} and
// "Permissions": [...] (on an array, Permissions.Permission is null, so ||
// falls through).
//
// JMESPath has no case folding, no trimming and no arithmetic, so the
// expression only narrows by what needs none of them: it never drops a rule
// that Decide would revoke (a property test checks it on generated rules).
// Direction, policy and protocol (case-insensitive, trimmed), the prefix
// length, port ranges and priority are judged in Go by Decide.
const CandidateExpr = `(Permissions.Permission || Permissions)[?Direction != 'egress' && (contains(to_string(SourceCidrIp), '/0') || contains(to_string(Ipv6SourceCidrIp), '/0'))]`

// GroupConfig is what the remediation needs from a configuration document.
type GroupConfig struct {
	SecurityGroupId string
	ServiceManaged  bool
	Tags            map[string][]string
	Candidates      []Rule // the rules CandidateExpr selects
	RuleCount       int    // every rule of the document, selected or not
}

// Selector evaluates CandidateExpr. It is safe for concurrent use.
type Selector struct{ expr *jmespath.JMESPath }

// NewSelector compiles CandidateExpr.
func NewSelector() (*Selector, error) {
	e, err := jmespath.Compile(CandidateExpr)
	if err != nil {
		return nil, fmt.Errorf("compile candidate expression: %w", err)
	}
	return &Selector{expr: e}, nil
}

// ParseConfiguration decodes a configuration document (the JSON string in
// GetDiscoveredResource's Configuration) and selects the candidate rules.
func (s *Selector) ParseConfiguration(doc []byte) (*GroupConfig, error) {
	// One pass with Unmarshal: a Decoder scans the value once to find its
	// end and then again to decode it.
	var root any
	if err := fastJSON.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("configuration is not JSON: %w", err)
	}
	return s.Select(root)
}

// Select evaluates CandidateExpr on a decoded configuration document.
func (s *Selector) Select(root any) (*GroupConfig, error) {
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("configuration is not a JSON object")
	}
	found, err := s.expr.Search(obj)
	if err != nil {
		return nil, fmt.Errorf("evaluate candidate expression: %w", err)
	}
	cfg := &GroupConfig{
		SecurityGroupId: str(obj["SecurityGroupId"]),
		ServiceManaged:  boolish(obj["ServiceManaged"]),
		Tags:            configTags(obj["Tags"]),
	}
	cfg.RuleCount = countRules(obj["Permissions"])
	list, _ := found.([]any)
	cfg.Candidates = make([]Rule, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		r, err := ruleFromMap(m)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", str(m["SecurityGroupRuleId"]), err)
		}
		cfg.Candidates = append(cfg.Candidates, r)
	}
	return cfg, nil
}

// ruleFromMap converts a decoded JSON object into a Rule without a second
// round trip through encoding/json.
func ruleFromMap(m map[string]any) (Rule, error) {
	r := Rule{
		SecurityGroupRuleId: str(m["SecurityGroupRuleId"]),
		Direction:           str(m["Direction"]),
		Policy:              str(m["Policy"]),
		IpProtocol:          str(m["IpProtocol"]),
		PortRange:           str(m["PortRange"]),
		SourceCidrIp:        str(m["SourceCidrIp"]),
		Ipv6SourceCidrIp:    str(m["Ipv6SourceCidrIp"]),
		SourceGroupId:       str(m["SourceGroupId"]),
		SourcePrefixListId:  str(m["SourcePrefixListId"]),
		SourcePortRange:     str(m["SourcePortRange"]),
		DestCidrIp:          str(m["DestCidrIp"]),
		Ipv6DestCidrIp:      str(m["Ipv6DestCidrIp"]),
		NicType:             str(m["NicType"]),
		Description:         str(m["Description"]),
		CreateTime:          str(m["CreateTime"]),
	}
	if err := r.Priority.parse(str(m["Priority"])); err != nil {
		return r, err
	}
	return r, nil
}

// str renders a JSON scalar as a string ("" for null, objects and arrays).
func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		if t {
			return "true"
		}
		return "false"
	}
	return ""
}

func boolish(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}

// configTags reads the ECS tag shape {"Tag":[{"TagKey","TagValue"}]} (or a
// bare list of such objects) into key -> values.
func configTags(v any) map[string][]string {
	if m, ok := v.(map[string]any); ok {
		v = m["Tag"]
	}
	list, _ := v.([]any)
	tags := map[string][]string{}
	for _, item := range list {
		t, ok := item.(map[string]any)
		if !ok {
			continue
		}
		k := str(t["TagKey"])
		if k == "" {
			k = str(t["Key"])
		}
		val := str(t["TagValue"])
		if val == "" {
			val = str(t["Value"])
		}
		if k != "" {
			tags[k] = append(tags[k], val)
		}
	}
	return tags
}

// countRules counts the rules of either Permissions shape.
func countRules(perms any) int {
	if m, ok := perms.(map[string]any); ok {
		perms = m["Permission"]
	}
	list, _ := perms.([]any)
	return len(list)
}
