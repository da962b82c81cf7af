package remediation

import (
	"fmt"
	"strings"
)

// Decision is the verdict on one rule, with the reason a person can read.
type Decision struct {
	Rule  Rule
	Risky bool
	// Exposed are the risky ports left open, e.g. "22/tcp"; empty when kept.
	Exposed []string
	// Unreadable is set when an internet-open Accept rule's port range
	// cannot be read: it is neither kept silently nor revoked blindly; the
	// resource fails so that a person looks at it.
	Unreadable bool
	// Shadowed is set on an Accept rule whose every risky port is blocked by
	// winning Drop rules (condition 6); Reason names them.
	Shadowed bool
	// Excepted names the exception that keeps this risky rule (section 7).
	Excepted *Exception
	// Reason: "exposes 22/tcp to 0.0.0.0/0", "Drop rule sgr-x priority 1 blocks 22/tcp from 0.0.0.0/0", ...
	Reason string

	exposed []exposure // Exposed, as port spans, for exceptions
}

// exposure is one risky span open for one protocol.
type exposure struct {
	ports span
	proto string
}

func (e exposure) String() string { return e.ports.String() + "/" + e.proto }

// Decide applies the contract's decision table (section 2) to the rules of
// one group. It returns a decision for every rule that passes conditions 1
// and 3 (ingress, source the whole internet), in input order; other rules
// are out of scope and omitted. The same function judges the Config
// snapshot, the live rules and the audit, so they never disagree on what
// "risky" means.
func Decide(rules []Rule, risky PortSet) []Decision {
	// Each rule's whole-internet source, read once: it is compared for
	// every Drop rule.
	srcs := make([]string, len(rules))
	var drops []drop // the rules that can win condition 6
	n := 0
	for i := range rules {
		r := &rules[i]
		if !r.ingress() {
			continue
		}
		if srcs[i] = r.internetSource(); srcs[i] != "" {
			n++
			if r.policy() == "drop" {
				drops = append(drops, drop{r, srcs[i]})
			}
		}
	}
	out := make([]Decision, 0, n)
	for i := range rules {
		// 1. Direction is ingress; 3. the source is the whole internet.
		if srcs[i] == "" {
			continue
		}
		out = append(out, decideOne(&rules[i], srcs[i], drops, risky))
	}
	return out
}

// drop is an ingress Drop rule open to the whole internet, with its source.
type drop struct {
	rule *Rule
	src  string
}

// decideOne judges an ingress rule open to the whole internet (src):
// conditions 2, 4, 5 and 6 of the table, in that order.
func decideOne(r *Rule, src string, drops []drop, risky PortSet) Decision {
	keep := func(format string, args ...any) Decision {
		return Decision{Rule: *r, Reason: fmt.Sprintf(format, args...)}
	}
	// 2. Policy is Accept (empty means Accept); a Drop rule protects.
	switch p := r.policy(); p {
	case "accept":
	case "drop":
		return keep("Drop rule %s protects (blocks %s %s from %s)", r.SecurityGroupRuleId, r.protocol(), r.PortRange, src)
	default:
		return keep("unknown policy %q", r.Policy)
	}
	// 4. IpProtocol is TCP, UDP or ALL.
	protos := r.portProtocols()
	if protos == nil {
		return keep("protocol %s carries no ports", displayProto(r.protocol()))
	}
	// 5. The port range overlaps a risky port.
	lo, hi, err := ParsePortRange(r.PortRange)
	if err != nil {
		d := keep("cannot read the port range of this internet-open Accept rule (%v): a person must look at it", err)
		d.Unreadable = true
		return d
	}
	hit := risky.intersect(lo, hi)
	if len(hit) == 0 {
		return keep("port range %s includes no risky port (%s)", r.PortRange, risky)
	}
	// 6. The risky port is not already blocked by a Drop rule that wins.
	var exposed []exposure
	var blockedBy []string
	for _, proto := range protos {
		open, by := shadow(r, src, proto, hit, drops)
		for _, s := range open {
			exposed = append(exposed, exposure{s, proto})
		}
		for _, b := range by {
			blockedBy = appendUnique(blockedBy, b)
		}
	}
	if len(exposed) == 0 {
		d := keep("%s blocks %s from %s", strings.Join(blockedBy, " and "), portList(hit, protos), src)
		d.Shadowed = true
		return d
	}
	d := Decision{Rule: *r, Risky: true, exposed: exposed, Exposed: make([]string, len(exposed))}
	for i, e := range exposed {
		d.Exposed[i] = e.String()
	}
	d.Reason = fmt.Sprintf("exposes %s to %s", strings.Join(d.Exposed, ", "), src)
	if len(blockedBy) > 0 {
		d.Reason += " (partly blocked by " + strings.Join(blockedBy, " and ") + ")"
	}
	return d
}

// shadow returns the ports of hit that stay open for proto after the Drop
// rules that win against accept (condition 6), and those Drop rules. A Drop
// rule wins when its priority number is not larger (at equal priority Drop
// wins), it covers the protocol (or ALL) and its source covers the Accept
// rule's src (the same whole-internet family).
func shadow(accept *Rule, src, proto string, hit PortSet, drops []drop) (PortSet, []string) {
	open := hit
	var by []string
	for _, dr := range drops {
		d := dr.rule
		if dr.src != src || d.Priority.Effective() > accept.Priority.Effective() {
			continue
		}
		if dp := d.protocol(); dp != proto && dp != "all" {
			continue
		}
		// A Drop rule whose range cannot be read protects nothing we can
		// prove; the Accept rule is judged as if it were absent.
		dlo, dhi, err := ParsePortRange(d.PortRange)
		if err != nil {
			continue
		}
		next := open.subtract(dlo, dhi)
		if !sameSpans(open, next) {
			by = append(by, fmt.Sprintf("Drop rule %s priority %d", d.SecurityGroupRuleId, d.Priority.Effective()))
		}
		open = next
	}
	return open, by
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
