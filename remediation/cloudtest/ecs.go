package cloudtest

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ECS error codes.
const (
	codeGroupNotFound = "InvalidSecurityGroupId.NotFound"
	codeManaged       = "InvalidOperation.ResourceManagedByCloudProduct"
	codeBadRuleID     = "InvalidParam.SecurityGroupRuleId"
	codeRuleNotExist  = "InvalidSecurityGroupRule.RuleNotExist"
	codeDuplicate     = "InvalidPermission.Duplicate"
	codeBadNextToken  = "InvalidNextToken.Malformed"
)

// maxListParams bounds SecurityGroupRuleId.N and Permissions.N.
const maxListParams = 100

func groupNotFound(id string) *apiError {
	return errorf(404, codeGroupNotFound, "The specified security group %q does not exist in this region.", id)
}

// ecsRule is a rule as DescribeSecurityGroupAttribute serves it: the ECS
// SDK's struct has Priority *string.
type ecsRule struct {
	SecurityGroupRuleId, Direction, Policy, Priority, IpProtocol, PortRange,
	SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId, SourcePrefixListId, SourcePortRange,
	DestCidrIp, Ipv6DestCidrIp, NicType, Description, CreateTime string
}

func toECS(r Rule) ecsRule {
	return ecsRule{
		SecurityGroupRuleId: r.SecurityGroupRuleId, Direction: r.Direction, Policy: r.Policy,
		Priority: strconv.Itoa(int(r.Priority)), IpProtocol: r.IpProtocol, PortRange: r.PortRange,
		SourceCidrIp: r.SourceCidrIp, Ipv6SourceCidrIp: r.Ipv6SourceCidrIp, SourceGroupId: r.SourceGroupId,
		SourcePrefixListId: r.SourcePrefixListId, SourcePortRange: r.SourcePortRange,
		DestCidrIp: r.DestCidrIp, Ipv6DestCidrIp: r.Ipv6DestCidrIp, NicType: r.NicType,
		Description: r.Description, CreateTime: r.CreateTime,
	}
}

type tag struct{ TagKey, TagValue string }

type tagSet struct{ Tag []tag }

func tagsOf(m map[string]string) tagSet {
	ts := tagSet{Tag: make([]tag, 0, len(m))}
	for k, v := range m {
		ts.Tag = append(ts.Tag, tag{k, v})
	}
	sort.Slice(ts.Tag, func(i, j int) bool { return ts.Tag[i].TagKey < ts.Tag[j].TagKey })
	return ts
}

// required returns the values of the named parameters, or a
// MissingParameter error for the first empty one.
func required(p url.Values, names ...string) ([]string, *apiError) {
	vs := make([]string, len(names))
	for i, n := range names {
		if vs[i] = p.Get(n); vs[i] == "" {
			return nil, missingParam(n)
		}
	}
	return vs, nil
}

// --- DescribeSecurityGroupAttribute ---

type describeAttrResponse struct {
	RequestId, SecurityGroupId, RegionId, VpcId, InnerAccessPolicy string
	SecurityGroupName, Description, NextToken                      string
	Permissions                                                    struct{ Permission []ecsRule }
}

// The NextToken is opaque: base64 of the group, the filters and the offset,
// so a token is only good for the listing it came from.
func encodeToken(id, dir, nic string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "v1|%s|%s|%s|%d", id, dir, nic, offset))
}

func decodeToken(tok, id, dir, nic string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 5 || parts[0] != "v1" || parts[1] != id || parts[2] != dir || parts[3] != nic {
		return 0, false
	}
	n, err := strconv.Atoi(parts[4])
	return n, err == nil && n >= 0
}

func (s *Server) describeSecurityGroupAttribute(r *request) (any, *apiError) {
	p := r.params
	v, aerr := required(p, "RegionId", "SecurityGroupId")
	if aerr != nil {
		return nil, aerr
	}
	region, id := v[0], v[1]
	dir := strings.ToLower(p.Get("Direction"))
	switch dir {
	case "":
		dir = "all"
	case "all", "ingress", "egress":
	default:
		return nil, invalidParam("Direction", p.Get("Direction"))
	}
	nic := strings.ToLower(p.Get("NicType"))
	limit := 100
	if m := p.Get("MaxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 10 || n > 1000 {
			return nil, invalidParam("MaxResults", m)
		}
		limit = n
	}
	offset := 0
	if tok := p.Get("NextToken"); tok != "" {
		var ok bool
		if offset, ok = decodeToken(tok, id, dir, nic); !ok {
			return nil, errorf(400, codeBadNextToken, "The specified NextToken %q is not valid.", tok)
		}
	}

	s.mu.Lock()
	g := s.visibleGroup(region, id, r.account())
	if g == nil {
		s.mu.Unlock()
		return nil, groupNotFound(id)
	}
	meta, rules := g.meta, g.live // rules is copy-on-write: safe to read unlocked
	s.mu.Unlock()

	out := describeAttrResponse{
		RequestId: r.requestID, SecurityGroupId: id, RegionId: region, VpcId: meta.VpcId,
		InnerAccessPolicy: "Accept", SecurityGroupName: meta.SecurityGroupName, Description: meta.Description,
	}
	out.Permissions.Permission = make([]ecsRule, 0, min(limit, len(rules)))
	idx := 0
	for _, rule := range rules {
		if (dir != "all" && rule.Direction != dir) || (nic != "" && strings.ToLower(rule.NicType) != nic) {
			continue
		}
		if idx >= offset {
			if len(out.Permissions.Permission) == limit {
				out.NextToken = encodeToken(id, dir, nic, idx)
				break
			}
			out.Permissions.Permission = append(out.Permissions.Permission, toECS(rule))
		}
		idx++
	}
	return out, nil
}

// DescribeSecurityGroups and DescribeRegions: see list.go.

func intParam(p url.Values, name string, def, lo, hi int) (int, *apiError) {
	v := p.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalidParam(name, v)
	}
	return n, nil
}

const ecsTime = "2006-01-02T15:04:05Z"

// --- list parameters ---

// indexed returns the values of name.1, name.2, ... ordered by N.
func indexed(p url.Values, name string) ([]string, *apiError) {
	type kv struct {
		n int
		v string
	}
	var items []kv
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 {
			return nil, invalidParam(k, vs[0])
		}
		items = append(items, kv{n, vs[0]})
	}
	slices.SortFunc(items, func(a, b kv) int { return a.n - b.n })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out, nil
}

// spec is one rule given in attribute form; prefix names its parameters in
// error messages ("Permissions.2." or "").
type spec struct {
	prefix string
	f      map[string]string
}

// permissionSpecs parses Permissions.N.Field; without any, the legacy
// top-level attributes form a single spec (if IpProtocol is given).
func permissionSpecs(p url.Values) ([]spec, *apiError) {
	byN := make(map[int]map[string]string)
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, "Permissions.")
		if !ok {
			continue
		}
		ns, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 1 {
			return nil, invalidParam(k, vs[0])
		}
		if n > maxListParams {
			return nil, errorf(400, "InvalidParameter", "At most %d Permissions may be given.", maxListParams)
		}
		if byN[n] == nil {
			byN[n] = make(map[string]string)
		}
		byN[n][field] = vs[0]
	}
	if len(byN) == 0 {
		if p.Get("IpProtocol") == "" {
			return nil, nil
		}
		f := make(map[string]string)
		for _, name := range [...]string{"Policy", "Priority", "IpProtocol", "PortRange", "SourceCidrIp", "Ipv6SourceCidrIp",
			"SourceGroupId", "SourcePrefixListId", "SourcePortRange", "DestCidrIp", "Ipv6DestCidrIp", "NicType", "Description"} {
			if v := p.Get(name); v != "" {
				f[name] = v
			}
		}
		return []spec{{"", f}}, nil
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	out := make([]spec, len(ns))
	for i, n := range ns {
		out[i] = spec{fmt.Sprintf("Permissions.%d.", n), byN[n]}
	}
	return out, nil
}

// --- RevokeSecurityGroup ---

func (s *Server) revokeSecurityGroup(r *request) (any, *apiError) {
	p := r.params
	v, aerr := required(p, "RegionId", "SecurityGroupId")
	if aerr != nil {
		return nil, aerr
	}
	region, id := v[0], v[1]
	ids, aerr := indexed(p, "SecurityGroupRuleId")
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > maxListParams {
		return nil, errorf(400, codeBadRuleID, "At most %d SecurityGroupRuleId.N may be given, got %d.", maxListParams, len(ids))
	}
	var specs []spec
	if len(ids) == 0 {
		if specs, aerr = permissionSpecs(p); aerr != nil {
			return nil, aerr
		}
		if len(specs) == 0 {
			return nil, missingParam("SecurityGroupRuleId.1")
		}
		for _, sp := range specs {
			for _, name := range [...]string{"IpProtocol", "PortRange"} {
				if sp.f[name] == "" {
					return nil, missingParam(sp.prefix + name)
				}
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g, aerr := s.writableGroup(region, id, r.account())
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 {
		// All or nothing: check every ID before removing any.
		want := make(map[string]bool, len(ids))
		for _, rid := range ids {
			want[rid] = false
		}
		for _, rule := range g.live {
			if _, ok := want[rule.SecurityGroupRuleId]; ok {
				if rule.Direction != "ingress" {
					return nil, errorf(400, codeBadRuleID, "The security group rule %q is not an ingress rule.", rule.SecurityGroupRuleId)
				}
				want[rule.SecurityGroupRuleId] = true
			}
		}
		for _, rid := range ids {
			if !want[rid] {
				return nil, errorf(400, codeBadRuleID, "The specified security group rule %q does not exist.", rid)
			}
		}
		g.live = filterRules(g.live, func(rule Rule) bool { _, drop := want[rule.SecurityGroupRuleId]; return drop })
		return map[string]string{"RequestId": r.requestID}, nil
	}
	// Legacy attribute form: an unspecified attribute matches anything, so
	// one call may remove several rules.
	n := len(g.live)
	g.live = filterRules(g.live, func(rule Rule) bool {
		if rule.Direction != "ingress" {
			return false
		}
		for _, sp := range specs {
			if looseMatch(rule, sp.f) {
				return true
			}
		}
		return false
	})
	if len(g.live) == n {
		return nil, errorf(404, codeRuleNotExist, "No ingress rule of %q matches the given attributes.", id)
	}
	return map[string]string{"RequestId": r.requestID}, nil
}

// filterRules returns a new slice without the rules drop selects (never
// in place: readers may hold the old slice).
func filterRules(rules []Rule, drop func(Rule) bool) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if !drop(r) {
			out = append(out, r)
		}
	}
	return out
}

func looseMatch(r Rule, f map[string]string) bool {
	for name, want := range f {
		var ok bool
		switch name {
		case "Policy":
			ok = strings.EqualFold(r.Policy, want)
		case "Priority":
			ok = strconv.Itoa(int(r.Priority)) == want
		case "IpProtocol":
			ok = strings.EqualFold(r.IpProtocol, want)
		case "NicType":
			ok = strings.EqualFold(r.NicType, want)
		case "PortRange":
			ok = r.PortRange == want
		case "SourcePortRange":
			ok = r.SourcePortRange == want
		case "SourceCidrIp":
			ok = canonicalCIDR(r.SourceCidrIp) == canonicalCIDR(want)
		case "Ipv6SourceCidrIp":
			ok = canonicalCIDR(r.Ipv6SourceCidrIp) == canonicalCIDR(want)
		case "DestCidrIp":
			ok = canonicalCIDR(r.DestCidrIp) == canonicalCIDR(want)
		case "Ipv6DestCidrIp":
			ok = canonicalCIDR(r.Ipv6DestCidrIp) == canonicalCIDR(want)
		case "SourceGroupId":
			ok = r.SourceGroupId == want
		case "SourcePrefixListId":
			ok = r.SourcePrefixListId == want
		default: // Description and unknown fields do not select rules
			ok = true
		}
		if !ok {
			return false
		}
	}
	return true
}

// --- AuthorizeSecurityGroup ---

func (s *Server) authorizeSecurityGroup(r *request) (any, *apiError) {
	p := r.params
	v, aerr := required(p, "RegionId", "SecurityGroupId")
	if aerr != nil {
		return nil, aerr
	}
	region, id := v[0], v[1]
	specs, aerr := permissionSpecs(p)
	if aerr != nil {
		return nil, aerr
	}
	if len(specs) == 0 {
		return nil, missingParam("Permissions.1.IpProtocol")
	}
	rules := make([]Rule, len(specs))
	for i, sp := range specs {
		if rules[i], aerr = ruleFromSpec(sp); aerr != nil {
			return nil, aerr
		}
	}
	now := time.Now().UTC().Format(ecsTime)

	s.mu.Lock()
	defer s.mu.Unlock()
	g, aerr := s.writableGroup(region, id, r.account())
	if aerr != nil {
		return nil, aerr
	}
	have := make(map[ruleKey]bool, len(g.live)+len(rules))
	taken := make(map[string]bool, len(g.live))
	for _, rule := range g.live {
		have[keyOf(rule)] = true
		taken[rule.SecurityGroupRuleId] = true
	}
	add := make([]Rule, 0, len(rules))
	for i, rule := range rules {
		k := keyOf(rule)
		if have[k] {
			if s.dupOK {
				continue
			}
			return nil, errorf(400, codeDuplicate, "The specified rule %s already exists in security group %q.", ruleName(specs[i]), id)
		}
		have[k] = true
		add = append(add, rule)
	}
	for i := range add {
		s.seq++
		add[i].SecurityGroupRuleId = newRuleID(fmt.Sprintf("%s/authorize/%d", key(region, id), s.seq), taken)
		taken[add[i].SecurityGroupRuleId] = true
		add[i].CreateTime = now
	}
	// append only writes beyond every length handed out, see group.live.
	g.live = append(g.live, add...)
	return map[string]string{"RequestId": r.requestID}, nil
}

// ruleFromSpec validates one rule to create and fills in the defaults.
func ruleFromSpec(sp spec) (Rule, *apiError) {
	f := sp.f
	bad := func(name string) *apiError { return invalidParam(sp.prefix+name, f[name]) }
	rule := Rule{Direction: "ingress", Description: f["Description"], SourceGroupId: f["SourceGroupId"],
		SourcePrefixListId: f["SourcePrefixListId"]}

	proto := strings.ToLower(f["IpProtocol"])
	if proto == "" {
		return Rule{}, missingParam(sp.prefix + "IpProtocol")
	}
	switch proto {
	case "tcp", "udp", "icmp", "gre", "all", "icmpv6":
	default:
		return Rule{}, bad("IpProtocol")
	}
	rule.IpProtocol = strings.ToUpper(proto)
	if f["PortRange"] == "" {
		return Rule{}, missingParam(sp.prefix + "PortRange")
	}
	if !validPorts(proto, f["PortRange"]) {
		return Rule{}, bad("PortRange")
	}
	rule.PortRange = f["PortRange"]
	if sr := f["SourcePortRange"]; sr != "" {
		if !validPorts(proto, sr) {
			return Rule{}, bad("SourcePortRange")
		}
		rule.SourcePortRange = sr
	}

	switch strings.ToLower(f["Policy"]) {
	case "", "accept":
		rule.Policy = "Accept"
	case "drop":
		rule.Policy = "Drop"
	default:
		return Rule{}, bad("Policy")
	}
	rule.Priority = 1
	if pr := f["Priority"]; pr != "" {
		n, err := strconv.Atoi(pr)
		if err != nil || n < 1 || n > 100 {
			return Rule{}, bad("Priority")
		}
		rule.Priority = Priority(n)
	}
	switch nic := strings.ToLower(f["NicType"]); nic {
	case "":
		rule.NicType = "intranet"
	case "intranet", "internet":
		rule.NicType = nic
	default:
		return Rule{}, bad("NicType")
	}

	if c := f["SourceCidrIp"]; c != "" {
		if !validCIDR(c, false) {
			return Rule{}, bad("SourceCidrIp")
		}
		rule.SourceCidrIp = c
	}
	if c := f["Ipv6SourceCidrIp"]; c != "" {
		if !validCIDR(c, true) || rule.SourceCidrIp != "" {
			return Rule{}, bad("Ipv6SourceCidrIp")
		}
		rule.Ipv6SourceCidrIp = c
	}
	if rule.SourceCidrIp == "" && rule.Ipv6SourceCidrIp == "" && rule.SourceGroupId == "" && rule.SourcePrefixListId == "" {
		return Rule{}, missingParam(sp.prefix + "SourceCidrIp")
	}
	return rule, nil
}

func ruleName(sp spec) string {
	if sp.prefix == "" {
		return "(" + sp.f["IpProtocol"] + " " + sp.f["PortRange"] + ")"
	}
	return strings.TrimSuffix(sp.prefix, ".")
}

// validPorts: "a/b" with 1 <= a <= b <= 65535 for tcp and udp, "-1/-1"
// for the other protocols.
func validPorts(proto, pr string) bool {
	if proto != "tcp" && proto != "udp" {
		return pr == "-1/-1"
	}
	as, bs, ok := strings.Cut(pr, "/")
	a, err1 := strconv.Atoi(as)
	b, err2 := strconv.Atoi(bs)
	return ok && err1 == nil && err2 == nil && 1 <= a && a <= b && b <= 65535
}

// validCIDR accepts a prefix or a bare address of the given family.
func validCIDR(s string, v6 bool) bool {
	var addr netip.Addr
	if pfx, err := netip.ParsePrefix(s); err == nil {
		addr = pfx.Addr()
	} else if a, err := netip.ParseAddr(s); err == nil {
		addr = a
	} else {
		return false
	}
	if addr.Zone() != "" {
		return false
	}
	if v6 {
		return addr.Is6() && !addr.Is4In6()
	}
	return addr.Is4()
}

// canonicalCIDR normalizes a CIDR for comparisons ("10.0.0.1/8" and
// "10.0.0.0/8" are the same source; a bare address is a /32 or /128).
func canonicalCIDR(s string) string {
	if s == "" {
		return ""
	}
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}

// ruleIDsForLog summarises the rule IDs of a call for the log line.
func ruleIDsForLog(p url.Values) string {
	n := 0
	for k := range p {
		if strings.HasPrefix(k, "SecurityGroupRuleId.") {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" rules=%d", n)
}

// visibleGroup returns the live group of account, nil if there is none
// (another account's group is not found, as the API answers). The caller
// holds s.mu.
func (s *Server) visibleGroup(region, id, account string) *group {
	g, err := s.liveGroup(region, id)
	if err != nil || g.meta.AccountId != account {
		return nil
	}
	return g
}

// writableGroup returns the live group of account that Revoke or Authorize
// may change, or the error ECS answers: not found, or managed by a cloud
// product. The caller holds s.mu.
func (s *Server) writableGroup(region, id, account string) (*group, *apiError) {
	g := s.visibleGroup(region, id, account)
	if g == nil {
		return nil, groupNotFound(id)
	}
	if g.meta.ServiceManaged {
		return nil, errorf(403, codeManaged, "The security group %q is managed by a cloud product and cannot be modified.", id)
	}
	return g, nil
}
