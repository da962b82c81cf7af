package remediation

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// For generated rules, CandidateExpr never drops a rule that Decide would
// revoke (or flag as unreadable): the expression only narrows, Decide judges.
func TestCandidateExprKeepsEveryRiskyRule(t *testing.T) {
	sel, err := NewSelector()
	if err != nil {
		t.Fatal(err)
	}
	pick := func(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }
	r := rand.New(rand.NewPCG(1, 2))
	risky := mustPorts(t, DefaultRiskyPorts)
	judged := 0
	for round := range 3000 {
		rules := make([]Rule, 1+r.IntN(6))
		for i := range rules {
			rules[i] = Rule{
				SecurityGroupRuleId: "r" + string(rune('a'+i)),
				Direction:           pick(r, "ingress", "Ingress", " INGRESS ", "egress", "Egress", ""),
				Policy:              pick(r, "Accept", "accept", " ACCEPT", "", "Drop", "drop "),
				Priority:            Priority(r.IntN(101)),
				IpProtocol:          pick(r, "TCP", "tcp", " Udp", "ALL", "all ", "ICMP", ""),
				PortRange:           pick(r, "22/22", "0/22", "1/65535", "3000/4000", "-1/-1", "80/80", "22", "", "30/20", " 3389/3389 "),
				NicType:             "intranet",
			}
			src := pick(r, "0.0.0.0/0", " 0.0.0.0/0 ", "10.0.0.0/0", "0.0.0.0/1", "10.0.0.0/8", "1.2.3.4", "",
				"::/0", "0::0/0", " ::/0", "2001:db8::/32", "::ffff:0.0.0.0/96")
			if strings.Contains(src, ":") {
				rules[i].Ipv6SourceCidrIp = src
			} else {
				rules[i].SourceCidrIp = src
			}
		}
		doc, err := json.Marshal(map[string]any{"Permissions": map[string]any{"Permission": rules}})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := sel.ParseConfiguration(doc)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		selected := map[string]bool{}
		for _, c := range cfg.Candidates {
			selected[c.SecurityGroupRuleId] = true
		}
		// Decide on all rules versus Decide on the selection: the verdicts
		// on every risky or unreadable rule agree.
		all := Decide(rules, risky)
		fromSel := map[string]Decision{}
		for _, d := range Decide(cfg.Candidates, risky) {
			fromSel[d.Rule.SecurityGroupRuleId] = d
		}
		for _, d := range all {
			if !d.Risky && !d.Unreadable {
				continue
			}
			judged++
			got, ok := fromSel[d.Rule.SecurityGroupRuleId]
			if !selected[d.Rule.SecurityGroupRuleId] || !ok || got.Risky != d.Risky || got.Unreadable != d.Unreadable {
				t.Fatalf("round %d: rule %+v is %q on all rules but the selection lost it (%v)", round, d.Rule, d.Reason, ok)
			}
		}
	}
	if judged < 500 {
		t.Fatalf("only %d risky rules generated: the generator is too narrow to prove anything", judged)
	}
}
