package remediation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one security group rule with the field names the ECS API uses, so
// that it decodes from a Config configuration document, from
// DescribeSecurityGroupAttribute, and from a backup line alike.
type Rule struct {
	SecurityGroupRuleId string   `json:"SecurityGroupRuleId"`
	Direction           string   `json:"Direction"`
	Policy              string   `json:"Policy"`
	Priority            Priority `json:"Priority"`
	IpProtocol          string   `json:"IpProtocol"`
	PortRange           string   `json:"PortRange"`
	SourceCidrIp        string   `json:"SourceCidrIp,omitempty"`
	Ipv6SourceCidrIp    string   `json:"Ipv6SourceCidrIp,omitempty"`
	SourceGroupId       string   `json:"SourceGroupId,omitempty"`
	SourcePrefixListId  string   `json:"SourcePrefixListId,omitempty"`
	SourcePortRange     string   `json:"SourcePortRange"`
	DestCidrIp          string   `json:"DestCidrIp,omitempty"`
	Ipv6DestCidrIp      string   `json:"Ipv6DestCidrIp,omitempty"`
	NicType             string   `json:"NicType"`
	Description         string   `json:"Description"`
	CreateTime          string   `json:"CreateTime,omitempty"`
}

// Priority is a rule priority, 1 (highest) to 100. The APIs write it as a
// number or as a string; both decode. Zero means "not given", which ECS
// treats as 1.
type Priority int

// UnmarshalJSON accepts 1, "1", "" and null.
func (p *Priority) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*p = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return p.parse(s)
	}
	return p.parse(string(b))
}

func (p *Priority) parse(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*p = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		// Config documents may carry 1.0; accept integral floats only.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int(f)) {
			return fmt.Errorf("invalid priority %q", s)
		}
		n = int(f)
	}
	*p = Priority(n)
	return nil
}

// Effective is the priority ECS applies: an absent priority is 1.
func (p Priority) Effective() int {
	if p <= 0 {
		return 1
	}
	return int(p)
}

const (
	internetV4 = "0.0.0.0/0"
	internetV6 = "::/0"
)

// policy returns "accept" or "drop" ("" means Accept).
func (r *Rule) policy() string {
	return lowerKnown(r.Policy, "accept", "accept", "drop")
}

func (r *Rule) protocol() string {
	return lowerKnown(r.IpProtocol, "", "tcp", "udp", "all", "icmp", "gre", "icmpv6")
}

// lowerKnown lower-cases v (trimmed), without allocating for the known
// values; empty gives def.
func lowerKnown(v, def string, known ...string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	for _, k := range known {
		if strings.EqualFold(v, k) {
			return k
		}
	}
	return strings.ToLower(v)
}

func (r *Rule) ingress() bool { return strings.EqualFold(strings.TrimSpace(r.Direction), "ingress") }

// internetSource names the whole-internet source of the rule ("0.0.0.0/0"
// or "::/0", whatever the spelling: any prefix of length 0), or "" when the
// source is narrower or not a CIDR.
func (r *Rule) internetSource() string {
	switch {
	case wholeInternet(r.SourceCidrIp):
		return internetV4
	case wholeInternet(r.Ipv6SourceCidrIp):
		return internetV6
	}
	return ""
}

// wholeInternet reports whether s is a CIDR of prefix length 0, IPv4 or
// IPv6, however spelled ("0.0.0.0/0", " ::/0 ", "0::0/0"). The fast path
// keeps the common narrow CIDRs from being parsed.
func wholeInternet(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "/0") {
		return false
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Bits() == 0
}

// portProtocols returns the protocols whose ports the rule opens (condition
// 4): tcp or udp, both for ALL, nil for protocols without ports.
func (r *Rule) portProtocols() []string {
	switch p := r.protocol(); p {
	case "tcp":
		return tcpOnly
	case "udp":
		return udpOnly
	case "all":
		return tcpAndUDP
	}
	return nil
}

var (
	tcpOnly   = []string{"tcp"}
	udpOnly   = []string{"udp"}
	tcpAndUDP = []string{"tcp", "udp"}
)

// Source is a short description of the rule's source for reports.
func (r *Rule) Source() string {
	for _, s := range []string{r.SourceCidrIp, r.Ipv6SourceCidrIp, r.SourceGroupId, r.SourcePrefixListId} {
		if s != "" {
			return s
		}
	}
	return ""
}

// SameRule reports whether ECS would treat a and b as the same rule: equal
// policy, priority, protocol, ports, source and NIC type. The description
// does not count.
func SameRule(a, b *Rule) bool {
	nic := func(r *Rule) string {
		if r.NicType == "" {
			return "intranet"
		}
		return strings.ToLower(r.NicType)
	}
	return a.policy() == b.policy() &&
		a.Priority.Effective() == b.Priority.Effective() &&
		a.protocol() == b.protocol() &&
		strings.TrimSpace(a.PortRange) == strings.TrimSpace(b.PortRange) &&
		canonicalCIDR(a.SourceCidrIp) == canonicalCIDR(b.SourceCidrIp) &&
		canonicalCIDR(a.Ipv6SourceCidrIp) == canonicalCIDR(b.Ipv6SourceCidrIp) &&
		a.SourceGroupId == b.SourceGroupId &&
		a.SourcePrefixListId == b.SourcePrefixListId &&
		normSourcePorts(a.SourcePortRange) == normSourcePorts(b.SourcePortRange) &&
		nic(a) == nic(b)
}

// normSourcePorts treats an absent source port range as "any".
func normSourcePorts(s string) string {
	if s == "" {
		return "-1/-1"
	}
	return s
}

// canonicalCIDR writes a CIDR or address the way ECS does ("1.2.3.4" and
// "1.2.3.4/32" are one source; IPv6 in lower case, compressed). Anything
// that does not parse is compared as it is.
func canonicalCIDR(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() { // ::ffff:1.2.3.4/128 is 1.2.3.4/32
			a, bits = a.Unmap(), max(bits-96, 0)
		}
		return netip.PrefixFrom(a, bits).Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}
