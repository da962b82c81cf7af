package pin_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

// The tests of this package run Pin through the real SDK adapter
// (remediation.Cloud) against the local emulator, remediation/cloudtest, on
// 127.0.0.1: the emulator is the only fake (issue #18).

// The security group every test pins, as in opts.
const (
	testRegion = "cn-hangzhou"
	testGroup  = "sg-test1"
)

// The emulator's action names, as its call log records them.
const (
	describe  = "DescribeSecurityGroupAttribute"
	authorize = "AuthorizeSecurityGroup"
	revoke    = "RevokeSecurityGroup"
)

// emu is an emulator holding the group testGroup, and the SDK adapter
// talking to it.
type emu struct {
	t   *testing.T
	srv *cloudtest.Server
	ecs *remediation.Cloud
	// loaded are the rule IDs the test gave; any other ID is one the
	// emulator generated for a rule authorized since.
	loaded map[string]bool
}

// newEmu starts an emulator with testGroup holding rules (ingress and
// egress), stopped when the test ends.
func newEmu(t *testing.T, o cloudtest.Options, rules ...cloudtest.Rule) *emu {
	t.Helper()
	// The SDK honours HTTP_PROXY even for 127.0.0.1; keep the calls local.
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "")
	}
	srv, err := cloudtest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroup(cloudtest.Group{SecurityGroupId: testGroup, RegionId: testRegion, Permissions: rules}); err != nil {
		t.Fatal(err)
	}
	cred, err := remediation.StaticCredential("test-ak", "test-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	s := remediation.DefaultSettings()
	s.ECSEndpoint, s.ConfigEndpoint = srv.URL(), srv.URL()
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		t.Fatal(err)
	}
	e := &emu{t: t, srv: srv, ecs: cloud, loaded: map[string]bool{}}
	for _, r := range rules {
		e.loaded[r.SecurityGroupRuleId] = true
	}
	return e
}

// live returns the live rules of testGroup.
func (e *emu) live() []cloudtest.Rule {
	e.t.Helper()
	g, ok := e.srv.Group(testRegion, testGroup)
	if !ok {
		e.t.Fatalf("group %s is gone", testGroup)
	}
	return g.Permissions
}

// rules returns the group's rules (ingress and egress) as "id=source",
// sorted; a rule the emulator created since the start is "new=source".
func (e *emu) rules() []string {
	e.t.Helper()
	out := []string{}
	for _, r := range e.live() {
		id := r.SecurityGroupRuleId
		if !e.loaded[id] {
			id = "new"
		}
		out = append(out, id+"="+r.SourceCidrIp+r.Ipv6SourceCidrIp)
	}
	slices.Sort(out)
	return out
}

// setLive replaces the group's live rules with edit's result, as someone
// else changing the group would. It may run in a Before hook, on the
// emulator's goroutine: it reports problems with t.Error, never t.Fatal.
func (e *emu) setLive(edit func([]cloudtest.Rule) []cloudtest.Rule) {
	g, ok := e.srv.Group(testRegion, testGroup)
	if !ok {
		e.t.Errorf("group %s is gone", testGroup)
		return
	}
	if err := e.srv.SetLiveRules(testRegion, testGroup, edit(g.Permissions)); err != nil {
		e.t.Error(err)
	}
}

// removeRule deletes one live rule, as someone else would.
func (e *emu) removeRule(id string) {
	e.setLive(func(rules []cloudtest.Rule) []cloudtest.Rule {
		return slices.DeleteFunc(rules, func(r cloudtest.Rule) bool { return r.SecurityGroupRuleId == id })
	})
}

// addRule adds one live rule, as someone else would. Call known(r's ID)
// first, on the test's goroutine, for rules() to show it by its ID.
func (e *emu) addRule(r cloudtest.Rule) {
	e.setLive(func(rules []cloudtest.Rule) []cloudtest.Rule { return append(rules, r) })
}

// known makes rules() show these IDs as they are, not as "new".
func (e *emu) known(ids ...string) {
	for _, id := range ids {
		e.loaded[id] = true
	}
}

// emuRule is r as the emulator holds it.
func emuRule(r remediation.Rule) cloudtest.Rule {
	return cloudtest.Rule{
		SecurityGroupRuleId: r.SecurityGroupRuleId, Direction: r.Direction, Policy: r.Policy, Priority: cloudtest.Priority(r.Priority.Effective()),
		IpProtocol: r.IpProtocol, PortRange: r.PortRange, SourceCidrIp: r.SourceCidrIp, Ipv6SourceCidrIp: r.Ipv6SourceCidrIp,
		SourceGroupId: r.SourceGroupId, SourcePrefixListId: r.SourcePrefixListId, SourcePortRange: r.SourcePortRange,
		DestCidrIp: r.DestCidrIp, Ipv6DestCidrIp: r.Ipv6DestCidrIp, NicType: r.NicType, Description: r.Description, CreateTime: r.CreateTime,
	}
}

// calls returns the emulator's call log since the start or the last reset,
// in order, failed calls included:
//
//	describe p1                    (p2, p3: the pages, by NextToken)
//	authorize 203.0.113.7/32       (the sources of Permissions.N)
//	revoke sgr-a,sgr-b             (SecurityGroupRuleId.N)
//
// followed by " !Code" when the emulator answered an error.
func (e *emu) calls() []string {
	var out []string
	pages := map[string]int{"": 1}
	for _, c := range e.srv.Calls() {
		var s string
		switch c.Action {
		case describe:
			tok := c.Params.Get("NextToken")
			if _, ok := pages[tok]; !ok {
				pages[tok] = len(pages) + 1
			}
			s = "describe p" + strconv.Itoa(pages[tok])
		case authorize:
			var srcs []string
			for n := 1; c.Params.Has("Permissions." + strconv.Itoa(n) + ".IpProtocol"); n++ {
				p := "Permissions." + strconv.Itoa(n) + "."
				srcs = append(srcs, c.Params.Get(p+"SourceCidrIp")+c.Params.Get(p+"Ipv6SourceCidrIp"))
			}
			s = "authorize " + strings.Join(srcs, ",")
		case revoke:
			var ids []string
			for n := 1; c.Params.Has("SecurityGroupRuleId." + strconv.Itoa(n)); n++ {
				ids = append(ids, c.Params.Get("SecurityGroupRuleId."+strconv.Itoa(n)))
			}
			s = "revoke " + strings.Join(ids, ",")
		default:
			s = c.Action
		}
		if c.Code != "" {
			s += " !" + c.Code
		}
		out = append(out, s)
	}
	return out
}

// writes returns the authorize and revoke calls of calls, in order.
func (e *emu) writes() []string {
	var out []string
	for _, c := range e.calls() {
		if !strings.HasPrefix(c, "describe ") {
			out = append(out, c)
		}
	}
	return out
}

// reset clears the call log.
func (e *emu) reset() { e.srv.ResetCalls() }

// managed is a rule as a previous run of pin left it (read back from ECS
// with any source port, "-1/-1").
func managed(id, cidr string) cloudtest.Rule {
	r := cloudtest.Rule{
		SecurityGroupRuleId: id, Direction: "ingress", Policy: "Accept", Priority: 1, IpProtocol: "TCP", PortRange: "22/22",
		SourcePortRange: "-1/-1", NicType: "intranet", Description: pin.Marker + " tcp/22 2026-01-01T00:00Z managed by pin, do not edit",
	}
	if strings.Contains(cidr, ":") {
		r.Ipv6SourceCidrIp = cidr
	} else {
		r.SourceCidrIp = cidr
	}
	return r
}

// unmanaged is managed with another description.
func unmanaged(id, cidr, desc string) cloudtest.Rule {
	r := managed(id, cidr)
	r.Description = desc
	return r
}

// sources returns "id=source" of rules Pin reported, sorted.
func sources(rules []remediation.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.SecurityGroupRuleId+"="+r.Source())
	}
	slices.Sort(out)
	return out
}
