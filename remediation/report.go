package remediation

import (
	"fmt"
	"strings"
)

// Outcome is what happened to one resource.
type Outcome string

const (
	Revoked     Outcome = "revoked"
	WouldRevoke Outcome = "would-revoke"
	Compliant   Outcome = "compliant"
	Skipped     Outcome = "skipped"
	// Excepted: every risky rule of the group is kept by an unexpired
	// exception (contract section 7).
	Excepted Outcome = "excepted"
	Failed   Outcome = "failed"
)

// Report is the function's answer: one entry per resource of the event.
type Report struct {
	DryRun    bool             `json:"dryRun"`
	Resources []ResourceReport `json:"resources"`
	Summary   map[Outcome]int  `json:"summary"`
}

// ResourceReport is the result for one resource.
type ResourceReport struct {
	ResourceID   string       `json:"resourceId"`
	Region       string       `json:"regionId"`
	AccountID    string       `json:"accountId,omitempty"`
	ResourceType string       `json:"resourceType,omitempty"`
	Outcome      Outcome      `json:"outcome"`
	Reason       string       `json:"reason"`
	Rules        []RuleReport `json:"rules,omitempty"`
	// OtherRules counts the rules kept without judging: not open to the
	// internet (a narrower or non-CIDR source, or egress).
	OtherRules int `json:"otherRules,omitempty"`
}

// RuleReport is the decision on one rule, as a person reads it.
type RuleReport struct {
	RuleID    string `json:"ruleId"`
	Policy    string `json:"policy"`
	Priority  int    `json:"priority"`
	Protocol  string `json:"protocol"`
	PortRange string `json:"portRange"`
	Source    string `json:"source"`
	// Action is revoked, would-revoke, kept, excepted, gone (already
	// revoked by someone else) or failed.
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Replacements are the narrow sources authorized in restrict mode.
	Replacements []string `json:"replacements,omitempty"`
}

func ruleReport(d Decision, action string) RuleReport {
	r := d.Rule
	return RuleReport{
		RuleID:    r.SecurityGroupRuleId,
		Policy:    r.Policy,
		Priority:  r.Priority.Effective(),
		Protocol:  r.IpProtocol,
		PortRange: r.PortRange,
		Source:    r.Source(),
		Action:    action,
		Reason:    d.Reason,
	}
}

// Failed returns the reports of failed resources.
func (r *Report) Failed() []ResourceReport {
	var out []ResourceReport
	for _, res := range r.Resources {
		if res.Outcome == Failed {
			out = append(out, res)
		}
	}
	return out
}

// FailedError is returned by Execute when any resource failed, so that Cloud
// Config records the remediation as failed. It names every failed resource.
type FailedError struct{ Failed []ResourceReport }

func (e *FailedError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = fmt.Sprintf("%s (%s): %s", f.ResourceID, f.Region, f.Reason)
	}
	return fmt.Sprintf("remediation failed for %d resource(s): %s", len(e.Failed), strings.Join(parts, "; "))
}
