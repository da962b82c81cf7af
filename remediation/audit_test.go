package remediation_test

import (
	"context"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// auditRule is an ingress Accept rule of priority 1.
func auditRule(id, proto, ports, cidr string) cloudtest.Rule {
	r := cloudtest.Rule{SecurityGroupRuleId: id, Direction: "ingress", Policy: "Accept", Priority: 1, IpProtocol: proto, PortRange: ports}
	if strings.Contains(cidr, ":") {
		r.Ipv6SourceCidrIp = cidr
	} else {
		r.SourceCidrIp = cidr
	}
	return r
}

// newAuditor starts an emulator with groups and returns an Auditor wired to
// it through the real SDK adapter, with the settings of environ (fast
// retries).
func newAuditor(t testing.TB, environ map[string]string, groups ...cloudtest.Group) (*cloudtest.Server, *remediation.Auditor) {
	t.Helper()
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	srv, err := cloudtest.New(cloudtest.Options{AccessKeyID: "ak-audit", AccessKeySecret: "secret-audit"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroups(groups...); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ECS_ENDPOINT": srv.URL(), "STS_ENDPOINT": srv.URL(), "CONFIG_ENDPOINT": srv.URL()}
	for k, v := range environ {
		env[k] = v
	}
	s, err := remediation.LoadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cred, err := remediation.StaticCredential("ak-audit", "secret-audit", "")
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		t.Fatal(err)
	}
	a, err := remediation.NewAuditor(s, cloud)
	if err != nil {
		t.Fatal(err)
	}
	a.Retry = remediation.RetryPolicy{Base: time.Millisecond, Ceiling: 10 * time.Millisecond, TransientAttempts: 3}
	return srv, a
}

// attributeReads returns the groups DescribeSecurityGroupAttribute was
// called on, with the count of calls each.
func attributeReads(srv *cloudtest.Server) map[string]int {
	out := map[string]int{}
	for _, c := range srv.Calls() {
		if c.Action == "DescribeSecurityGroupAttribute" {
			out[c.Params.Get("RegionId")+"/"+c.Params.Get("SecurityGroupId")]++
		}
	}
	return out
}

// assertReadOnly fails the test on any call other than a read.
func assertReadOnly(t *testing.T, srv *cloudtest.Server) {
	t.Helper()
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c.Action, "Describe") && c.Action != "GetCallerIdentity" {
			t.Errorf("the audit made a %s call", c.Action)
		}
	}
}

func findGroup(t *testing.T, rep *remediation.AuditReport, region, id string) remediation.GroupAudit {
	t.Helper()
	for _, g := range rep.Groups {
		if g.Region == region && g.GroupID == id {
			return g
		}
	}
	t.Fatalf("group %s/%s is not in the report", region, id)
	return remediation.GroupAudit{}
}

func findingStatuses(g remediation.GroupAudit) map[string]string {
	out := map[string]string{}
	for _, f := range g.Rules {
		out[f.RuleID] = f.Status
	}
	return out
}

// mixedGroups is one group of each kind in two regions, and one in a third.
func mixedGroups() []cloudtest.Group {
	until := time.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
	past := time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)
	return []cloudtest.Group{
		{SecurityGroupId: "sg-risky", RegionId: "cn-hangzhou", Permissions: []cloudtest.Rule{
			auditRule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"),
			auditRule("sgr-web", "TCP", "443/443", "0.0.0.0/0"),
			auditRule("sgr-wide6", "ALL", "-1/-1", "::/0"),
			auditRule("sgr-office", "TCP", "3389/3389", "203.0.113.0/24"),
		}},
		{SecurityGroupId: "sg-shadowed", RegionId: "cn-hangzhou", Permissions: []cloudtest.Rule{
			auditRule("sgr-open", "TCP", "22/22", "0.0.0.0/0"),
			{SecurityGroupRuleId: "sgr-drop", Direction: "ingress", Policy: "Drop", Priority: 1, IpProtocol: "TCP", PortRange: "1/1024", SourceCidrIp: "0.0.0.0/0"},
		}},
		{SecurityGroupId: "sg-managed", RegionId: "cn-hangzhou", ServiceManaged: true, Permissions: []cloudtest.Rule{auditRule("sgr-m", "TCP", "22/22", "0.0.0.0/0")}},
		{SecurityGroupId: "sg-exempt", RegionId: "cn-beijing", Tags: map[string]string{"sg-remediation": "exempt", "sg-remediation-until": until},
			Permissions: []cloudtest.Rule{auditRule("sgr-e", "TCP", "3306/3306", "0.0.0.0/0")}},
		{SecurityGroupId: "sg-expired", RegionId: "cn-beijing", Tags: map[string]string{"sg-remediation": "exempt", "sg-remediation-until": past},
			Permissions: []cloudtest.Rule{auditRule("sgr-x", "TCP", "3306/3306", "0.0.0.0/0")}},
		{SecurityGroupId: "sg-excepted", RegionId: "cn-beijing", Permissions: []cloudtest.Rule{
			auditRule("sgr-vpn", "TCP", "22/22", "0.0.0.0/0"),
			auditRule("sgr-bad", "TCP", "22-23", "0.0.0.0/0"),
		}},
		{SecurityGroupId: "sg-clean", RegionId: "cn-beijing", Permissions: []cloudtest.Rule{auditRule("sgr-c", "TCP", "80/80", "0.0.0.0/0")}},
		{SecurityGroupId: "sg-elsewhere", RegionId: "cn-shenzhen", Permissions: []cloudtest.Rule{auditRule("sgr-z", "TCP", "22/22", "0.0.0.0/0")}},
	}
}

func TestAuditTwoRegions(t *testing.T) {
	until := time.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
	srv, a := newAuditor(t, map[string]string{
		"EXCEPTIONS": `[{"group":"sg-excepted","rule":"sgr-vpn","until":"` + until + `","owner":"alice","reason":"vendor VPN"}]`,
	}, mixedGroups()...)
	rep := a.Audit(context.Background(), []string{"cn-hangzhou", "cn-beijing"})

	if got := findingStatuses(findGroup(t, rep, "cn-hangzhou", "sg-risky")); !reflect.DeepEqual(got, map[string]string{"sgr-ssh": "risky", "sgr-wide6": "risky"}) {
		t.Errorf("sg-risky findings %v", got)
	}
	if g := findGroup(t, rep, "cn-hangzhou", "sg-shadowed"); g.Status != remediation.GroupRead || len(g.Rules) != 0 {
		t.Errorf("sg-shadowed: %+v, want read with no finding (Drop priority 1 wins)", g)
	}
	for _, id := range []string{"sg-managed", "sg-exempt"} {
		region := map[string]string{"sg-managed": "cn-hangzhou", "sg-exempt": "cn-beijing"}[id]
		if g := findGroup(t, rep, region, id); g.Status != remediation.GroupSkipped || g.Reason == "" || len(g.Rules) != 0 {
			t.Errorf("%s: %+v, want skipped with a reason", id, g)
		}
	}
	if g := findGroup(t, rep, "cn-beijing", "sg-expired"); g.Status != remediation.GroupRead || !strings.Contains(g.Reason, "expired") ||
		!reflect.DeepEqual(findingStatuses(g), map[string]string{"sgr-x": "risky"}) {
		t.Errorf("sg-expired: %+v, want read, its exemption expired, sgr-x risky", g)
	} else if !strings.Contains(g.Rules[0].Reason, "exemption tag sg-remediation=exempt expired") {
		t.Errorf("the finding's reason does not say the exemption expired: %q", g.Rules[0].Reason)
	}
	g := findGroup(t, rep, "cn-beijing", "sg-excepted")
	if got := findingStatuses(g); !reflect.DeepEqual(got, map[string]string{"sgr-vpn": "excepted", "sgr-bad": "unreadable"}) {
		t.Errorf("sg-excepted findings %v", got)
	}
	for _, f := range g.Rules {
		if f.RuleID == "sgr-vpn" && !strings.Contains(f.Reason, "alice") {
			t.Errorf("the excepted rule's reason does not name the exception: %q", f.Reason)
		}
	}
	if g := findGroup(t, rep, "cn-beijing", "sg-clean"); g.Status != remediation.GroupRead || len(g.Rules) != 0 {
		t.Errorf("sg-clean: %+v", g)
	}
	for _, g := range rep.Groups {
		if g.Region == "cn-shenzhen" {
			t.Errorf("a region not asked was read: %+v", g)
		}
	}

	want := []remediation.RegionAudit{
		{Region: "cn-hangzhou", Groups: 3, Read: 2, Skip: 1, Risky: 2},
		{Region: "cn-beijing", Groups: 4, Read: 3, Skip: 1, Risky: 1, Excepted: 1, Unreadable: 1},
	}
	if !reflect.DeepEqual(rep.Regions, want) {
		t.Errorf("regions\n got %+v\nwant %+v", rep.Regions, want)
	}
	if rep.Clean() {
		t.Error("Clean() with risky rules")
	}

	// Managed and exempt groups: no attribute read. The others: one each.
	reads := attributeReads(srv)
	wantReads := map[string]int{"cn-hangzhou/sg-risky": 1, "cn-hangzhou/sg-shadowed": 1, "cn-beijing/sg-expired": 1, "cn-beijing/sg-excepted": 1, "cn-beijing/sg-clean": 1}
	if !reflect.DeepEqual(reads, wantReads) {
		t.Errorf("attribute reads %v, want %v", reads, wantReads)
	}
	for _, c := range srv.Calls() {
		if c.Action == "DescribeSecurityGroupAttribute" && (c.Params.Get("Direction") != "ingress" || c.Params.Get("MaxResults") != "1000") {
			t.Errorf("attribute read with %v", c.Params)
		}
		if c.Action == "DescribeSecurityGroups" && c.Params.Get("MaxResults") != "100" {
			t.Errorf("DescribeSecurityGroups with MaxResults %q", c.Params.Get("MaxResults"))
		}
		if c.Action == "DescribeRegions" {
			t.Error("DescribeRegions called for an explicit region list")
		}
	}
	assertReadOnly(t, srv)

	// The event names exactly the groups with a risky rule.
	a.AccountID = cloudtest.DefaultAccountID
	var ev []string
	for _, r := range a.Audit(context.Background(), []string{"cn-hangzhou", "cn-beijing"}).Event() {
		if r.AccountID != cloudtest.DefaultAccountID || r.ResourceType != remediation.SecurityGroupType {
			t.Errorf("event resource %+v", r)
		}
		ev = append(ev, r.RegionID+"/"+r.ResourceID)
	}
	if want := []string{"cn-hangzhou/sg-risky", "cn-beijing/sg-expired"}; !slices.Equal(ev, want) {
		t.Errorf("event %v, want %v", ev, want)
	}
}

// An exception narrowed to an account matches only when the audit knows
// the account, as in the remediation.
func TestAuditExceptionForAccount(t *testing.T) {
	until := time.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
	_, a := newAuditor(t, map[string]string{
		"EXCEPTIONS": `[{"group":"sg-one","account":"` + cloudtest.DefaultAccountID + `","until":"` + until + `","owner":"bob","reason":"migration"}]`,
	}, cloudtest.Group{SecurityGroupId: "sg-one", RegionId: "cn-hangzhou", Permissions: []cloudtest.Rule{auditRule("sgr-1", "TCP", "22/22", "0.0.0.0/0")}})
	if got := findingStatuses(a.Audit(context.Background(), []string{"cn-hangzhou"}).Groups[0]); got["sgr-1"] != "risky" {
		t.Errorf("without the account: %v, want risky", got)
	}
	a.AccountID = cloudtest.DefaultAccountID
	rep := a.Audit(context.Background(), []string{"cn-hangzhou"})
	if got := findingStatuses(rep.Groups[0]); got["sgr-1"] != "excepted" {
		t.Errorf("with the account: %v, want excepted", got)
	}
	if !rep.Clean() {
		t.Errorf("an excepted rule only: Clean() = false, %+v", rep.Regions)
	}
}

func TestAuditAllRegions(t *testing.T) {
	srv, a := newAuditor(t, nil, mixedGroups()...)
	srv.SetRegions("eu-central-1", "cn-hangzhou")
	regions, err := a.Regions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cn-beijing", "cn-hangzhou", "cn-shenzhen", "eu-central-1"}; !slices.Equal(regions, want) {
		t.Fatalf("regions %v, want %v", regions, want)
	}
	rep := a.Audit(context.Background(), regions)
	var got []string
	for _, r := range rep.Regions {
		got = append(got, r.Region+":"+string(rune('0'+r.Groups)))
	}
	if want := []string{"cn-beijing:4", "cn-hangzhou:3", "cn-shenzhen:1", "eu-central-1:0"}; !slices.Equal(got, want) {
		t.Errorf("groups per region %v, want %v", got, want)
	}
	if n := srv.CallCount("DescribeRegions"); n != 1 {
		t.Errorf("%d DescribeRegions calls", n)
	}
	if n := srv.CallCount("DescribeSecurityGroups"); n != 4 {
		t.Errorf("%d DescribeSecurityGroups calls, want one per region", n)
	}
	assertReadOnly(t, srv)
}

func TestAuditPaging(t *testing.T) {
	const n = 250
	groups := cloudtest.GenerateGroups(n, []string{"cn-hangzhou"}, func(i int, g *cloudtest.Group) {
		if i%50 == 7 {
			g.Permissions = append(g.Permissions, auditRule("", "TCP", "3306/3306", "0.0.0.0/0"))
		}
	})
	srv, a := newAuditor(t, map[string]string{"MAX_CONCURRENCY": "4"}, groups...)
	done, total := 0, 0
	a.Progress = func(d, tot int) {
		if d < done || tot < total || d > tot {
			t.Errorf("progress went from %d/%d to %d/%d", done, total, d, tot)
		}
		done, total = d, tot
	}
	rep := a.Audit(context.Background(), []string{"cn-hangzhou"})
	if done != n || total != n {
		t.Errorf("last progress %d/%d, want %d/%d", done, total, n, n)
	}
	if r := rep.Regions[0]; r.Groups != n || r.Read != n || r.Risky != 5 || r.Error != "" {
		t.Errorf("region %+v", r)
	}
	if len(rep.Groups) != n || !slices.IsSortedFunc(rep.Groups, func(x, y remediation.GroupAudit) int { return strings.Compare(x.GroupID, y.GroupID) }) {
		t.Errorf("%d groups, sorted %v", len(rep.Groups), slices.IsSortedFunc(rep.Groups, func(x, y remediation.GroupAudit) int { return strings.Compare(x.GroupID, y.GroupID) }))
	}
	var tokens []string
	for _, c := range srv.Calls() {
		if c.Action == "DescribeSecurityGroups" {
			tokens = append(tokens, c.Params.Get("NextToken"))
		}
	}
	if len(tokens) != 3 || tokens[0] != "" || tokens[1] == "" || tokens[2] == "" || tokens[1] == tokens[2] {
		t.Errorf("DescribeSecurityGroups pages with tokens %q, want 3 pages", tokens)
	}
	reads := attributeReads(srv)
	if len(reads) != n {
		t.Errorf("%d groups read, want %d", len(reads), n)
	}
	for g, c := range reads {
		if c != 1 {
			t.Errorf("%s read %d times", g, c)
		}
	}
	if m := srv.MaxInFlight(); m > 4 {
		t.Errorf("%d calls in flight, MAX_CONCURRENCY is 4", m)
	}
}

// The bound holds across regions: listers and readers share it.
func TestAuditConcurrencyBound(t *testing.T) {
	groups := cloudtest.GenerateGroups(120, []string{"cn-hangzhou", "cn-beijing", "cn-shenzhen", "cn-qingdao"}, nil)
	srv, a := newAuditor(t, map[string]string{"MAX_CONCURRENCY": "3"}, groups...)
	srv.SetLatency(2 * time.Millisecond)
	rep := a.Audit(context.Background(), []string{"cn-hangzhou", "cn-beijing", "cn-shenzhen", "cn-qingdao"})
	if !rep.Clean() {
		t.Errorf("not clean: %+v", rep.Regions)
	}
	if m := srv.MaxInFlight(); m > 3 {
		t.Errorf("%d calls in flight, MAX_CONCURRENCY is 3", m)
	}
}

func TestAuditThrottling(t *testing.T) {
	groups := cloudtest.GenerateGroups(30, []string{"cn-hangzhou", "cn-beijing"}, func(i int, g *cloudtest.Group) {
		if i == 3 {
			g.Permissions = append(g.Permissions, auditRule("sgr-db", "TCP", "3306/3306", "0.0.0.0/0"))
		}
	})
	srv, a := newAuditor(t, nil, groups...)
	srv.FailNext("DescribeSecurityGroups", 2, 400, "Throttling.User")
	srv.FailNext("DescribeSecurityGroupAttribute", 5, 429, "Throttling.Api")
	srv.FailNext("DescribeSecurityGroupAttribute", 2, 400, "Throttling")
	rep := a.Audit(context.Background(), []string{"cn-hangzhou", "cn-beijing"})
	for _, r := range rep.Regions {
		if r.Error != "" || r.Failed != 0 || r.Read != 15 {
			t.Errorf("region %+v, want every group read despite throttling", r)
		}
	}
	if g := findGroup(t, rep, "cn-beijing", "sg-gen000003"); !reflect.DeepEqual(findingStatuses(g), map[string]string{"sgr-db": "risky"}) {
		t.Errorf("sg-gen000003: %+v", g)
	}
	throttled := 0
	for _, c := range srv.Calls() {
		if strings.HasPrefix(c.Code, "Throttling") {
			throttled++
		}
	}
	if throttled != 9 {
		t.Errorf("%d failed calls answered, want the 9 injected", throttled)
	}
}

func TestAuditUnreadableGroup(t *testing.T) {
	srv, a := newAuditor(t, nil, cloudtest.GenerateGroups(6, []string{"cn-hangzhou"}, nil)...)
	srv.FailNext("DescribeSecurityGroupAttribute", 1, 403, "Forbidden.RAM")
	rep := a.Audit(context.Background(), []string{"cn-hangzhou"})
	var denied string
	for _, c := range srv.Calls() {
		if c.Code == "Forbidden.RAM" {
			denied = c.Params.Get("SecurityGroupId")
		}
	}
	g := findGroup(t, rep, "cn-hangzhou", denied)
	if g.Status != remediation.GroupFailed || !strings.Contains(g.Reason, "Forbidden.RAM") {
		t.Errorf("%s: %+v, want failed naming the error", denied, g)
	}
	if r := rep.Regions[0]; r.Failed != 1 || r.Read != 5 || rep.Clean() {
		t.Errorf("region %+v clean %v", r, rep.Clean())
	}
	if n := attributeReads(srv)["cn-hangzhou/"+denied]; n != 1 {
		t.Errorf("a 403 was tried %d times, want once (not retried)", n)
	}
}

// A listing that stops (here on its third page) fails the region; the
// groups listed before are still read.
func TestAuditListingFails(t *testing.T) {
	groups := append(cloudtest.GenerateGroups(250, []string{"cn-hangzhou"}, nil), cloudtest.GenerateGroups(2, []string{"cn-beijing"}, nil)...)
	srv, a := newAuditor(t, nil, groups...)
	srv.Before("DescribeSecurityGroups", func(p url.Values) {
		if p.Get("NextToken") != "" {
			srv.FailNext("DescribeSecurityGroups", 1, 403, "Forbidden.RAM") // the next call
		}
	})
	rep := a.Audit(context.Background(), []string{"cn-hangzhou", "cn-beijing"})
	hz, bj := rep.Regions[0], rep.Regions[1]
	if !strings.Contains(hz.Error, "Forbidden.RAM") || hz.Groups != 200 || hz.Read != 200 {
		t.Errorf("cn-hangzhou %+v, want 200 groups read and the listing error", hz)
	}
	if bj.Error != "" || bj.Read != 2 {
		t.Errorf("cn-beijing %+v", bj)
	}
	if rep.Clean() {
		t.Error("Clean() with a failed listing")
	}
}

func TestAuditGroupGoneMeanwhile(t *testing.T) {
	srv, a := newAuditor(t, nil, cloudtest.GenerateGroups(3, []string{"cn-hangzhou"}, nil)...)
	srv.Before("DescribeSecurityGroupAttribute", func(p url.Values) {
		if p.Get("SecurityGroupId") == "sg-gen000001" {
			_ = srv.DeleteGroup("cn-hangzhou", "sg-gen000001")
		}
	})
	rep := a.Audit(context.Background(), []string{"cn-hangzhou"})
	if g := findGroup(t, rep, "cn-hangzhou", "sg-gen000001"); g.Status != remediation.GroupSkipped || !strings.Contains(g.Reason, "no longer exists") {
		t.Errorf("deleted group: %+v", g)
	}
	if !rep.Clean() || rep.Regions[0].Skip != 1 || rep.Regions[0].Read != 2 {
		t.Errorf("regions %+v", rep.Regions)
	}
}

func TestAuditNothingRisky(t *testing.T) {
	srv, a := newAuditor(t, nil, cloudtest.GenerateGroups(10, []string{"cn-hangzhou"}, nil)...)
	rep := a.Audit(context.Background(), []string{"cn-hangzhou"})
	if !rep.Clean() || len(rep.Event()) != 0 || rep.Regions[0].Read != 10 {
		t.Errorf("clean %v, event %v, regions %+v", rep.Clean(), rep.Event(), rep.Regions)
	}
	assertReadOnly(t, srv)
}

func TestAuditCanceled(t *testing.T) {
	_, a := newAuditor(t, nil, cloudtest.GenerateGroups(20, []string{"cn-hangzhou"}, nil)...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := a.Audit(ctx, []string{"cn-hangzhou"})
	if rep.Clean() || rep.Regions[0].Error == "" {
		t.Errorf("a canceled audit is clean: %+v", rep.Regions)
	}
}

// The audit's RAM actions are its interface's methods and GetCallerIdentity,
// reads only, and none of its listing calls is in the function's interfaces.
func TestAuditActions(t *testing.T) {
	var called []string
	for m := range reflect.TypeFor[remediation.AuditAPI]().Methods() {
		called = append(called, "ecs:"+m.Name)
	}
	called = append(called, "sts:GetCallerIdentity")
	slices.Sort(called)
	declared := slices.Sorted(slices.Values(remediation.AuditActions))
	if !slices.Equal(called, declared) {
		t.Errorf("AuditAPI calls %v, AuditActions declare %v", called, declared)
	}
	for _, a := range declared {
		_, name, _ := strings.Cut(a, ":")
		if !strings.HasPrefix(name, "Describe") && !strings.HasPrefix(name, "Get") {
			t.Errorf("%s is not a read", a)
		}
	}
	for _, m := range []string{"DescribeRegions", "DescribeSecurityGroups"} {
		if _, ok := reflect.TypeFor[remediation.ECSAPI]().MethodByName(m); ok {
			t.Errorf("ECSAPI (the function's policy) has %s", m)
		}
	}
}
