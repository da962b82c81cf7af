package remediation

import (
	"fmt"
	"strings"
)

// Decision is the verdict on one rule, with the reason a person can read.
type Decision struct {
	Rule    Rule
	Risky   bool
	Exposed []string // risky ports left open, e.g. "22/tcp"; empty when kept
	Reason  string   // "exposes 22/tcp to 0.0.0.0/0", "Drop rule sgr-x priority 1 blocks 22/tcp from 0.0.0.0/0", ...
}

// Decide applies the contract's decision table (section 2) to the rules of
// one group. It returns a decision for every ingress rule whose source is the
// whole internet, in input order; other rules are out of scope and omitted.
// The same function judges the Config snapshot and the live rules, so the two
// can never disagree on what "risky" means.
func Decide(rules []Rule, risky PortSet) []Decision {
	// Only a Drop rule whose source is the whole internet covers a
	// whole-internet Accept rule's source.
	var drops []*Rule
	for i := range rules {
		r := &rules[i]
		if r.ingress() && r.policy() == "drop" && r.internetSource() != "" {
			drops = append(drops, r)
		}
	}
	n := 0
	for i := range rules {
		if rules[i].ingress() && rules[i].internetSource() != "" {
			n++
		}
	}
	out := make([]Decision, 0, n)
	riskyText := risky.String()
	for i := range rules {
		r := &rules[i]
		if !r.ingress() || r.internetSource() == "" {
			continue
		}
		out = append(out, decideOne(r, drops, risky, riskyText))
	}
	return out
}

func decideOne(r *Rule, drops []*Rule, risky PortSet, riskyText string) Decision {
	src := r.internetSource()
	keep := func(format string, args ...any) Decision {
		return Decision{Rule: *r, Reason: fmt.Sprintf(format, args...)}
	}
	switch p := r.policy(); p {
	case "accept":
	case "drop":
		return keep("Drop rule %s protects (blocks %s %s from %s)", r.SecurityGroupRuleId, r.protocol(), r.PortRange, src)
	default:
		return keep("unknown policy %q", r.Policy)
	}
	var protos []string
	switch p := r.protocol(); p {
	case "tcp", "udp":
		protos = []string{p}
	case "all":
		protos = []string{"tcp", "udp"}
	default:
		return keep("protocol %s carries no ports", displayProto(p))
	}
	lo, hi, err := ParsePortRange(r.PortRange)
	if err != nil {
		return keep("not judged: %v", err)
	}
	hit := risky.intersect(lo, hi)
	if len(hit) == 0 {
		return keep("port range %s includes no risky port (%s)", r.PortRange, riskyText)
	}
	var exposed, blockedBy []string
	for _, proto := range protos {
		open := hit
		for _, d := range drops {
			if d.internetSource() != src || d.Priority.Effective() > r.Priority.Effective() {
				continue
			}
			if dp := d.protocol(); dp != proto && dp != "all" {
				continue
			}
			dlo, dhi, err := ParsePortRange(d.PortRange)
			if err != nil {
				continue
			}
			next := open.subtract(dlo, dhi)
			if !sameSpans(open, next) {
				blockedBy = appendUnique(blockedBy, fmt.Sprintf("Drop rule %s priority %d", d.SecurityGroupRuleId, d.Priority.Effective()))
			}
			open = next
		}
		for _, s := range open {
			exposed = append(exposed, s.String()+"/"+proto)
		}
	}
	if len(exposed) == 0 {
		return keep("%s blocks %s from %s", strings.Join(blockedBy, " and "), portList(hit, protos), src)
	}
	reason := fmt.Sprintf("exposes %s to %s", strings.Join(exposed, ", "), src)
	if len(blockedBy) > 0 {
		reason += " (partly blocked by " + strings.Join(blockedBy, " and ") + ")"
	}
	return Decision{Rule: *r, Risky: true, Exposed: exposed, Reason: reason}
}

func displayProto(p string) string {
	if p == "" {
		return "(none)"
	}
	return p
}

func portList(ports PortSet, protos []string) string {
	var parts []string
	for _, proto := range protos {
		for _, s := range ports {
			parts = append(parts, s.String()+"/"+proto)
		}
	}
	return strings.Join(parts, ", ")
}

func sameSpans(a, b PortSet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
