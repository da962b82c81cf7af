package remediation

import (
	"strings"
	"testing"
)

func mustPorts(t testing.TB, spec string) PortSet {
	t.Helper()
	p, err := ParsePorts(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// in is an ingress Accept rule from 0.0.0.0/0; options adjust it.
func in(id, proto, ports string, opts ...func(*Rule)) Rule {
	r := Rule{SecurityGroupRuleId: id, Direction: "ingress", Policy: "Accept", Priority: 1,
		IpProtocol: proto, PortRange: ports, SourceCidrIp: internetV4, NicType: "intranet"}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func prio(p int) func(*Rule)         { return func(r *Rule) { r.Priority = Priority(p) } }
func policy(p string) func(*Rule)    { return func(r *Rule) { r.Policy = p } }
func v6(r *Rule)                     { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", internetV6 }
func egress(r *Rule)                 { r.Direction = "egress" }
func source(cidr string) func(*Rule) { return func(r *Rule) { r.SourceCidrIp = cidr } }
func sourceGroup(id string) func(*Rule) {
	return func(r *Rule) { r.SourceCidrIp, r.SourceGroupId = "", id }
}

func TestDecide(t *testing.T) {
	drop := func(id, proto, ports string, p int, opts ...func(*Rule)) Rule {
		return in(id, proto, ports, append([]func(*Rule){policy("Drop"), prio(p)}, opts...)...)
	}
	tests := []struct {
		name       string
		rules      []Rule
		ports      string   // "" = default
		risky      []string // ids judged risky
		exposed    []string // exposures of the first risky rule
		reasonHas  string   // substring of the first decision's reason
		omitted    int      // rules not judged at all (out of scope)
		unreadable []string // ids whose port range cannot be read
		shadowed   []string // ids of Accept rules fully blocked by Drop rules
	}{
		{name: "http kept", rules: []Rule{in("r1", "TCP", "80/80")}, reasonHas: "includes no risky port"},
		{name: "https kept", rules: []Rule{in("r1", "tcp", "443/443")}},
		{name: "ssh revoked", rules: []Rule{in("r1", "TCP", "22/22")}, risky: []string{"r1"}, exposed: []string{"22/tcp"}, reasonHas: "exposes 22/tcp to 0.0.0.0/0"},
		{name: "rdp revoked", rules: []Rule{in("r1", "tcp", "3389/3389")}, risky: []string{"r1"}, exposed: []string{"3389/tcp"}},
		{name: "mysql revoked", rules: []Rule{in("r1", "tcp", "3306/3306")}, risky: []string{"r1"}},
		{name: "wide range revoked", rules: []Rule{in("r1", "tcp", "1/65535")}, risky: []string{"r1"}, exposed: []string{"22/tcp", "3306/tcp", "3389/tcp"}},
		{name: "range covering 3306", rules: []Rule{in("r1", "tcp", "3000/4000")}, risky: []string{"r1"}, exposed: []string{"3306/tcp", "3389/tcp"}},
		{name: "range next to ssh kept", rules: []Rule{in("r1", "tcp", "23/3305")}},
		{name: "ALL -1/-1 revoked", rules: []Rule{in("r1", "ALL", "-1/-1")}, risky: []string{"r1"}, exposed: []string{"22/tcp", "3306/tcp", "3389/tcp", "22/udp", "3306/udp", "3389/udp"}},
		{name: "icmp kept", rules: []Rule{in("r1", "ICMP", "-1/-1")}, reasonHas: "protocol icmp carries no ports"},
		{name: "gre kept", rules: []Rule{in("r1", "gre", "-1/-1")}},
		{name: "udp 3389 revoked", rules: []Rule{in("r1", "UDP", "3389/3389")}, risky: []string{"r1"}, exposed: []string{"3389/udp"}},
		{name: "ipv6 ssh revoked", rules: []Rule{in("r1", "tcp", "22/22", v6)}, risky: []string{"r1"}, reasonHas: "to ::/0"},
		{name: "ipv6 https kept", rules: []Rule{in("r1", "tcp", "443/443", v6)}},
		{name: "drop on internet kept", rules: []Rule{in("r1", "tcp", "22/22", policy("Drop"))}, reasonHas: "protects"},
		{name: "drop lowercase kept", rules: []Rule{in("r1", "tcp", "22/22", policy("drop"))}},
		{name: "accept lowercase revoked", rules: []Rule{in("r1", "tcp", "22/22", policy("accept"))}, risky: []string{"r1"}},
		{name: "empty policy means accept", rules: []Rule{in("r1", "tcp", "22/22", policy(""))}, risky: []string{"r1"}},
		{name: "egress out of scope", rules: []Rule{in("r1", "tcp", "22/22", egress)}, omitted: 1},
		{name: "security group source out of scope", rules: []Rule{in("r1", "tcp", "22/22", sourceGroup("sg-other"))}, omitted: 1},
		{name: "narrow cidr out of scope", rules: []Rule{in("r1", "tcp", "22/22", source("10.0.0.0/8"))}, omitted: 1},
		{name: "unreadable port range fails", rules: []Rule{in("r1", "tcp", "22")}, unreadable: []string{"r1"}, reasonHas: "cannot read the port range"},
		{name: "reversed port range fails", rules: []Rule{in("r1", "tcp", "30/20")}, unreadable: []string{"r1"}},
		{name: "empty port range fails", rules: []Rule{in("r1", "udp", "")}, unreadable: []string{"r1"}},
		{name: "0/b reads as 1/b", rules: []Rule{in("r1", "tcp", "0/22")}, risky: []string{"r1"}, exposed: []string{"22/tcp"}},
		{name: "unreadable drop range protects nothing", rules: []Rule{in("a", "tcp", "22/22", prio(10)), in("d", "tcp", "x", policy("Drop"))}, risky: []string{"a"}},
		{name: "unreadable range of a narrow rule is out of scope", rules: []Rule{in("r1", "tcp", "22", source("10.0.0.0/8"))}, omitted: 1},
		{name: "ipv4 internet spelled differently", rules: []Rule{in("r1", "tcp", "22/22", source(" 10.0.0.0/0 "))}, risky: []string{"r1"}},
		{name: "ipv6 internet spelled differently", rules: []Rule{in("r1", "tcp", "22/22", func(r *Rule) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "0::0/0" })}, risky: []string{"r1"}, reasonHas: "to ::/0"},
		{name: "direction case and spaces", rules: []Rule{in("r1", "tcp", "22/22", func(r *Rule) { r.Direction = " Ingress " })}, risky: []string{"r1"}},
		{name: "protocol case and spaces", rules: []Rule{in("r1", " Tcp ", "22/22", policy(" ACCEPT "))}, risky: []string{"r1"}},
		{name: "custom ports", ports: "5432,6379", rules: []Rule{in("r1", "tcp", "22/22"), in("r2", "tcp", "6379/6379")}, risky: []string{"r2"}},
		{name: "custom range", ports: "1433-1434", rules: []Rule{in("r1", "udp", "1434/1434")}, risky: []string{"r1"}},

		// Rule 6: priority shadowing.
		{name: "shadow full", rules: []Rule{in("a", "tcp", "22/22", prio(100)), drop("d", "tcp", "22/22", 1)},
			reasonHas: "Drop rule d priority 1 blocks 22/tcp from 0.0.0.0/0", shadowed: []string{"a"}},
		{name: "shadow tie drop wins", rules: []Rule{in("a", "tcp", "22/22", prio(5)), drop("d", "tcp", "22/22", 5)}},
		{name: "drop lower priority does not shadow", rules: []Rule{in("a", "tcp", "22/22", prio(1)), drop("d", "tcp", "22/22", 2)}, risky: []string{"a"}},
		{name: "shadow partial", rules: []Rule{in("a", "tcp", "1/65535", prio(10)), drop("d", "tcp", "22/22", 1)},
			risky: []string{"a"}, exposed: []string{"3306/tcp", "3389/tcp"}, reasonHas: "partly blocked by Drop rule d priority 1"},
		{name: "shadow by two drops", rules: []Rule{in("a", "tcp", "3000/4000", prio(10)), drop("d1", "tcp", "3306/3306", 1), drop("d2", "tcp", "3389/3389", 10)}},
		{name: "shadow wrong source", rules: []Rule{in("a", "tcp", "22/22", prio(10)), drop("d", "tcp", "22/22", 1, source("10.0.0.0/8"))}, risky: []string{"a"}, omitted: 1},
		{name: "shadow wrong family", rules: []Rule{in("a", "tcp", "22/22", prio(10), v6), drop("d", "tcp", "22/22", 1)}, risky: []string{"a"}},
		{name: "shadow ipv6", rules: []Rule{in("a", "tcp", "22/22", prio(10), v6), drop("d", "tcp", "22/22", 1, v6)}},
		{name: "shadow wrong protocol", rules: []Rule{in("a", "tcp", "22/22", prio(10)), drop("d", "udp", "22/22", 1)}, risky: []string{"a"}},
		{name: "shadow by drop ALL", rules: []Rule{in("a", "tcp", "22/22", prio(10)), drop("d", "all", "-1/-1", 1)}},
		{name: "ALL accept half shadowed by tcp drop", rules: []Rule{in("a", "all", "-1/-1", prio(10)), drop("d", "tcp", "-1/-1", 1)},
			risky: []string{"a"}, exposed: []string{"22/udp", "3306/udp", "3389/udp"}},
		{name: "egress drop does not shadow", rules: []Rule{in("a", "tcp", "22/22", prio(10)), drop("d", "tcp", "22/22", 1, egress)}, risky: []string{"a"}, omitted: 1},
		{name: "drop wrong ports", rules: []Rule{in("a", "tcp", "22/22", prio(10)), drop("d", "tcp", "80/80", 1)}, risky: []string{"a"}},
		{name: "missing priority is 1", rules: []Rule{in("a", "tcp", "22/22", prio(0)), drop("d", "tcp", "22/22", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.ports
			if spec == "" {
				spec = DefaultRiskyPorts
			}
			got := Decide(tt.rules, mustPorts(t, spec))
			if n := len(tt.rules) - len(got); n != tt.omitted {
				t.Fatalf("judged %d of %d rules, want %d omitted: %+v", len(got), len(tt.rules), tt.omitted, got)
			}
			var risky, unreadable, shadowed []string
			for _, d := range got {
				if d.Shadowed {
					shadowed = append(shadowed, d.Rule.SecurityGroupRuleId)
				}
				if d.Unreadable {
					unreadable = append(unreadable, d.Rule.SecurityGroupRuleId)
				}
				if d.Reason == "" {
					t.Errorf("rule %s: decision without a reason", d.Rule.SecurityGroupRuleId)
				}
				if d.Shadowed && (!strings.Contains(d.Reason, " blocks ") || d.Rule.policy() != "accept" || d.Risky) {
					t.Errorf("rule %s: shadowed=%v with reason %q", d.Rule.SecurityGroupRuleId, d.Shadowed, d.Reason)
				}
				if d.Risky {
					risky = append(risky, d.Rule.SecurityGroupRuleId)
				} else if len(d.Exposed) > 0 {
					t.Errorf("rule %s kept but exposes %v", d.Rule.SecurityGroupRuleId, d.Exposed)
				}
			}
			if tt.shadowed != nil && strings.Join(shadowed, ",") != strings.Join(tt.shadowed, ",") {
				t.Errorf("shadowed = %v, want %v", shadowed, tt.shadowed)
			}
			if strings.Join(unreadable, ",") != strings.Join(tt.unreadable, ",") {
				t.Errorf("unreadable = %v, want %v", unreadable, tt.unreadable)
			}
			if strings.Join(risky, ",") != strings.Join(tt.risky, ",") {
				t.Fatalf("risky = %v, want %v; decisions: %+v", risky, tt.risky, got)
			}
			if tt.exposed != nil {
				var first Decision
				for _, d := range got {
					if d.Risky {
						first = d
						break
					}
				}
				if strings.Join(first.Exposed, ",") != strings.Join(tt.exposed, ",") {
					t.Errorf("exposed = %v, want %v", first.Exposed, tt.exposed)
				}
			}
			if tt.reasonHas != "" && (len(got) == 0 || !strings.Contains(got[0].Reason, tt.reasonHas)) {
				t.Errorf("reason %q does not contain %q", got[0].Reason, tt.reasonHas)
			}
		})
	}
}

func TestPriorityDecodesNumberAndString(t *testing.T) {
	for in, want := range map[string]int{`1`: 1, `"7"`: 7, `" 100 "`: 100, `""`: 1, `null`: 1, `3.0`: 3} {
		var p Priority
		if err := p.UnmarshalJSON([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if p.Effective() != want {
			t.Errorf("%s: got %d, want %d", in, p.Effective(), want)
		}
	}
	for _, bad := range []string{`"x"`, `1.5`, `true`} {
		var p Priority
		if err := p.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestSameRule(t *testing.T) {
	a := in("a", "TCP", "22/22")
	b := in("b", "tcp", "22/22", func(r *Rule) { r.Description, r.NicType, r.Policy = "other", "", "accept" })
	if !SameRule(&a, &b) {
		t.Error("rules differing only in id, description, case and default NIC type should be the same")
	}
	c := in("c", "tcp", "22/22", prio(2))
	if SameRule(&a, &c) {
		t.Error("different priority should differ")
	}
}

func TestSameRuleCanonicalSources(t *testing.T) {
	a := in("a", "tcp", "22/22", source("1.2.3.4/32"))
	b := in("b", "tcp", "22/22", source("1.2.3.4"))
	c := in("c", "tcp", "22/22", func(r *Rule) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "2001:DB8::1/128" })
	d := in("d", "tcp", "22/22", func(r *Rule) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "2001:db8:0::1" })
	if !SameRule(&a, &b) || !SameRule(&c, &d) {
		t.Error("the same source written two ways should be one rule")
	}
}
