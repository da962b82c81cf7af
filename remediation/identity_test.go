package remediation_test

import (
	"context"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Rule identity: remediation.SameRule and the emulator (which plays ECS's
// duplicate check) agree on which two rules are one. restore and restrict
// mode rely on SameRule to not authorize a rule twice; this table pins the
// two definitions together.
func TestRuleIdentityAgreesWithEmulator(t *testing.T) {
	base := remediation.Rule{Direction: "ingress", Policy: "Accept", Priority: 1, IpProtocol: "TCP", PortRange: "22/22",
		SourceCidrIp: "198.51.100.7/32", NicType: "intranet", Description: "a"}
	v6 := base
	v6.SourceCidrIp, v6.Ipv6SourceCidrIp = "", "2001:db8::7/128"
	with := func(r remediation.Rule, edit func(*remediation.Rule)) remediation.Rule { edit(&r); return r }
	tests := []struct {
		name string
		a, b remediation.Rule
		same bool
	}{
		{"description does not count", base, with(base, func(r *remediation.Rule) { r.Description = "b" }), true},
		{"protocol case", base, with(base, func(r *remediation.Rule) { r.IpProtocol = "tcp" }), true},
		{"policy case", base, with(base, func(r *remediation.Rule) { r.Policy = "accept" }), true},
		{"empty policy is accept", base, with(base, func(r *remediation.Rule) { r.Policy = "" }), true},
		{"bare address is /32", base, with(base, func(r *remediation.Rule) { r.SourceCidrIp = "198.51.100.7" }), true},
		{"default NIC type", base, with(base, func(r *remediation.Rule) { r.NicType = "" }), true},
		{"any source ports", base, with(base, func(r *remediation.Rule) { r.SourcePortRange = "-1/-1" }), true},
		{"absent priority is 1", base, with(base, func(r *remediation.Rule) { r.Priority = 0 }), true},
		{"ipv6 spelled out", v6, with(v6, func(r *remediation.Rule) { r.Ipv6SourceCidrIp = "2001:0db8:0:0::7/128" }), true},
		{"priority", base, with(base, func(r *remediation.Rule) { r.Priority = 2 }), false},
		{"policy", base, with(base, func(r *remediation.Rule) { r.Policy = "Drop" }), false},
		{"protocol", base, with(base, func(r *remediation.Rule) { r.IpProtocol = "UDP" }), false},
		{"ports", base, with(base, func(r *remediation.Rule) { r.PortRange = "22/23" }), false},
		{"source", base, with(base, func(r *remediation.Rule) { r.SourceCidrIp = "198.51.100.8/32" }), false},
		{"prefix length", base, with(base, func(r *remediation.Rule) { r.SourceCidrIp = "198.51.100.0/24" }), false},
		{"NIC type", base, with(base, func(r *remediation.Rule) { r.NicType = "internet" }), false},
		{"source ports", base, with(base, func(r *remediation.Rule) { r.SourcePortRange = "1000/2000" }), false},
		{"family", base, v6, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := remediation.SameRule(&tt.a, &tt.b); got != tt.same {
				t.Errorf("SameRule = %v, want %v", got, tt.same)
			}
			e := newEnv(t, group("sg-id"))
			cloud := e.cloud(t)
			ctx := context.Background()
			if err := cloud.AuthorizeSecurityGroup(ctx, region, "sg-id", []remediation.Rule{tt.a}); err != nil {
				t.Fatal(err)
			}
			err := cloud.AuthorizeSecurityGroup(ctx, region, "sg-id", []remediation.Rule{tt.b})
			if dup := remediation.IsDuplicateRule(err); dup != tt.same || err != nil && !dup {
				t.Errorf("the emulator answered %v to the second rule; SameRule says same=%v", err, tt.same)
			}
		})
	}
}
