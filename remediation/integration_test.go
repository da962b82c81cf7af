package remediation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const region = "cn-hangzhou"

// env is one emulator plus a Remediator wired to it with the real SDK clients.
type env struct {
	srv      *cloudtest.Server
	settings remediation.Settings
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB, groups ...cloudtest.Group) *env {
	t.Helper()
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	srv, err := cloudtest.New(cloudtest.Options{AccessKeyID: "ak-test", AccessKeySecret: "secret-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, g := range groups {
		if err := srv.AddGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	s := remediation.DefaultSettings()
	s.ConfigEndpoint, s.ECSEndpoint = srv.URL(), srv.URL()
	return &env{srv: srv, settings: s, logs: &syncBuffer{}}
}

// cloudAs is the SDK adapter on the env's emulator, signing with key.
func (e *env) cloudAs(t testing.TB, key cloudtest.Key) *remediation.Cloud {
	t.Helper()
	cred, err := remediation.StaticCredential(key.AccessKeyID, key.AccessKeySecret, key.SecurityToken)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := remediation.NewCloud(cred, e.settings)
	if err != nil {
		t.Fatal(err)
	}
	return cloud
}

// cloud is cloudAs with the env's own key.
func (e *env) cloud(t testing.TB) *remediation.Cloud {
	return e.cloudAs(t, cloudtest.Key{AccessKeyID: "ak-test", AccessKeySecret: "secret-test"})
}

func (e *env) remediator(t testing.TB, secret string) *remediation.Remediator {
	t.Helper()
	cloud := e.cloudAs(t, cloudtest.Key{AccessKeyID: "ak-test", AccessKeySecret: secret})
	r, err := remediation.New(e.settings, cloud, cloud, slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Retry = remediation.RetryPolicy{Base: time.Millisecond, Ceiling: 20 * time.Millisecond, TransientAttempts: 3}
	return r
}

func (e *env) run(t testing.TB, ids ...string) (*remediation.Report, error) {
	t.Helper()
	return e.runCtx(context.Background(), t, ids...)
}

func (e *env) runCtx(ctx context.Context, t testing.TB, ids ...string) (*remediation.Report, error) {
	t.Helper()
	res := make([]remediation.Resource, len(ids))
	for i, id := range ids {
		res[i] = remediation.Resource{RegionID: region, ResourceID: id, ResourceType: remediation.SecurityGroupType}
	}
	return e.remediator(t, "secret-test").Execute(ctx, res)
}

func (e *env) liveIDs(t testing.TB, id string) []string {
	t.Helper()
	g, ok := e.srv.Group(region, id)
	if !ok {
		t.Fatalf("group %s not found", id)
	}
	var out []string
	for _, r := range g.Permissions {
		out = append(out, r.SecurityGroupRuleId)
	}
	slices.Sort(out)
	return out
}

func rule(id, proto, ports, cidr string, mods ...func(*cloudtest.Rule)) cloudtest.Rule {
	r := cloudtest.Rule{SecurityGroupRuleId: id, Direction: "ingress", Policy: "Accept", Priority: 1,
		IpProtocol: proto, PortRange: ports, NicType: "intranet"}
	if strings.Contains(cidr, ":") {
		r.Ipv6SourceCidrIp = cidr
	} else {
		r.SourceCidrIp = cidr
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func group(id string, rules ...cloudtest.Rule) cloudtest.Group {
	return cloudtest.Group{SecurityGroupId: id, RegionId: region, Permissions: rules}
}

// mixed is a web group: 80/443 and a narrow SSH rule stay; SSH, RDP and an
// IPv6 MySQL exposure go.
func mixed(id string) cloudtest.Group {
	return group(id,
		rule("sgr-http", "TCP", "80/80", "0.0.0.0/0"),
		rule("sgr-https", "TCP", "443/443", "0.0.0.0/0"),
		rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0", func(r *cloudtest.Rule) { r.Description = "temporary ssh" }),
		rule("sgr-rdp", "TCP", "3389/3389", "0.0.0.0/0", func(r *cloudtest.Rule) { r.Priority = 10 }),
		rule("sgr-mysql6", "TCP", "3306/3306", "::/0"),
		rule("sgr-ssh-office", "TCP", "22/22", "203.0.113.0/24"),
		rule("sgr-ping", "ICMP", "-1/-1", "0.0.0.0/0"),
	)
}

func outcomes(rep *remediation.Report) map[string]remediation.Outcome {
	m := map[string]remediation.Outcome{}
	for _, r := range rep.Resources {
		m[r.ResourceID] = r.Outcome
	}
	return m
}

func TestRemediateMixedGroup(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Revoked {
		t.Fatalf("outcome %s: %+v", got, rep.Resources[0])
	}
	want := []string{"sgr-http", "sgr-https", "sgr-ping", "sgr-ssh-office"}
	if got := e.liveIDs(t, "sg-web"); !slices.Equal(got, want) {
		t.Errorf("live rules %v, want %v", got, want)
	}
	// The call budget: one of each, nothing else.
	for action, n := range map[string]int{"GetDiscoveredResource": 1, "DescribeSecurityGroupAttribute": 1, "RevokeSecurityGroup": 1, "": 3} {
		if got := e.srv.CallCount(action); got != n {
			t.Errorf("%q calls = %d, want %d", action, got, n)
		}
	}
	// Revoked by rule id, never by attributes.
	for _, c := range e.srv.Calls() {
		if c.Action == "RevokeSecurityGroup" {
			if c.Params.Get("IpProtocol") != "" || c.Params.Get("SecurityGroupRuleId.1") == "" {
				t.Errorf("revoke not by rule id: %v", c.Params)
			}
		}
	}
	// One backup line per revoked rule, before the revoke.
	backups, err := remediation.ReadBackups(strings.NewReader(e.logs.String()))
	if err != nil || len(backups) != 3 {
		t.Fatalf("backups: %d, %v\n%s", len(backups), err, e.logs)
	}
	// Every rule reported with a reason.
	actions := map[string]string{}
	for _, r := range rep.Resources[0].Rules {
		if r.Reason == "" {
			t.Errorf("rule %s has no reason", r.RuleID)
		}
		actions[r.RuleID] = r.Action
	}
	for id, want := range map[string]string{"sgr-ssh": "revoked", "sgr-rdp": "revoked", "sgr-mysql6": "revoked", "sgr-http": "kept", "sgr-https": "kept", "sgr-ping": "kept"} {
		if actions[id] != want {
			t.Errorf("rule %s: action %q, want %q", id, actions[id], want)
		}
	}
}

func TestIdempotentRerun(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	if _, err := e.run(t, "sg-web"); err != nil {
		t.Fatal(err)
	}
	// Config has not re-recorded yet: the snapshot still shows the rules.
	e.srv.ResetCalls()
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Compliant {
		t.Errorf("second run outcome %s: %s", got, rep.Resources[0].Reason)
	}
	if n := e.srv.CallCount("RevokeSecurityGroup"); n != 0 {
		t.Errorf("second run revoked %d times", n)
	}
}

func TestStaleSnapshot(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	live, _ := e.srv.Group(region, "sg-web")
	var rules []cloudtest.Rule
	for _, r := range live.Permissions {
		switch r.SecurityGroupRuleId {
		case "sgr-rdp": // already gone live
			continue
		case "sgr-ssh": // same rule id, narrowed live: must not be revoked
			r.SourceCidrIp = "198.51.100.0/24"
		case "sgr-mysql6": // a Drop rule added since the snapshot shadows it
			rules = append(rules, rule("sgr-drop6", "TCP", "3306/3306", "::/0", func(r *cloudtest.Rule) { r.Policy = "Drop" }))
		}
		rules = append(rules, r)
	}
	if err := e.srv.SetLiveRules(region, "sg-web", rules); err != nil {
		t.Fatal(err)
	}
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Compliant {
		t.Errorf("outcome %s (%s)", got, rep.Resources[0].Reason)
	}
	if n := e.srv.CallCount("RevokeSecurityGroup"); n != 0 {
		t.Errorf("revoked %d times", n)
	}
	if got := e.liveIDs(t, "sg-web"); !slices.Contains(got, "sgr-ssh") || !slices.Contains(got, "sgr-mysql6") {
		t.Errorf("live rules %v lost a rule that is no longer risky", got)
	}
}

func TestRuleVanishesBeforeRevoke(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	var once sync.Once
	e.srv.Before("RevokeSecurityGroup", func(url.Values) {
		once.Do(func() {
			g, _ := e.srv.Group(region, "sg-web")
			rules := slices.DeleteFunc(g.Permissions, func(r cloudtest.Rule) bool { return r.SecurityGroupRuleId == "sgr-rdp" })
			if err := e.srv.SetLiveRules(region, "sg-web", rules); err != nil {
				t.Error(err)
			}
		})
	})
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Revoked {
		t.Fatalf("outcome %s (%s)", got, rep.Resources[0].Reason)
	}
	// First call fails as a whole, the group is re-read, the rest revoked.
	if n := e.srv.CallCount("RevokeSecurityGroup"); n != 2 {
		t.Errorf("revoke calls = %d, want 2", n)
	}
	if n := e.srv.CallCount("DescribeSecurityGroupAttribute"); n != 2 {
		t.Errorf("describe calls = %d, want 2", n)
	}
	if got := e.liveIDs(t, "sg-web"); slices.Contains(got, "sgr-ssh") || slices.Contains(got, "sgr-mysql6") {
		t.Errorf("live rules %v", got)
	}
	for _, r := range rep.Resources[0].Rules {
		if r.RuleID == "sgr-rdp" && r.Action != "gone" {
			t.Errorf("vanished rule reported as %s", r.Action)
		}
	}
}

func TestThrottlingThenSuccess(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	e.srv.FailNext("RevokeSecurityGroup", 5, 400, "Throttling.User")
	e.srv.FailNext("DescribeSecurityGroupAttribute", 2, 503, "ServiceUnavailable")
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Revoked {
		t.Fatalf("outcome %s (%s)", got, rep.Resources[0].Reason)
	}
	if n := e.srv.CallCount("RevokeSecurityGroup"); n != 6 {
		t.Errorf("revoke calls = %d, want 6 (5 throttled + 1)", n)
	}
}

func TestPersistentForbiddenFailsFast(t *testing.T) {
	e := newEnv(t, mixed("sg-web"), mixed("sg-two"))
	e.srv.FailNext("GetDiscoveredResource", 100, 403, "Forbidden.RAM")
	rep, err := e.run(t, "sg-web", "sg-two")
	var fe *remediation.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 2 {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []string{"sg-web", "sg-two"} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error does not name %s: %v", id, err)
		}
	}
	if !strings.Contains(rep.Resources[0].Reason, "Forbidden.RAM") || strings.Contains(err.Error(), "secret-test") {
		t.Errorf("reason %q", rep.Resources[0].Reason)
	}
	if n := e.srv.CallCount(""); n != 2 {
		t.Errorf("%d calls, want 2 (no retry on 403)", n)
	}
}

func TestWrongSecretIsNotRetried(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	res := []remediation.Resource{{RegionID: region, ResourceID: "sg-web"}}
	_, err := e.remediator(t, "wrong").Execute(context.Background(), res)
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("err = %v", err)
	}
	if n := e.srv.CallCount(""); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestPagingPast1000Rules(t *testing.T) {
	var rules []cloudtest.Rule
	for i := range 2500 {
		rules = append(rules, rule(fmt.Sprintf("sgr-%05d", i), "TCP", fmt.Sprintf("%d/%d", 10000+i, 10000+i), "10.0.0.0/8"))
	}
	rules = append(rules, rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"), rule("sgr-all", "ALL", "-1/-1", "::/0"))
	e := newEnv(t, group("sg-big", rules...))
	rep, err := e.run(t, "sg-big")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-big"]; got != remediation.Revoked {
		t.Fatalf("outcome %s (%s)", got, rep.Resources[0].Reason)
	}
	if n := e.srv.CallCount("DescribeSecurityGroupAttribute"); n != 3 {
		t.Errorf("describe calls = %d, want 3 pages", n)
	}
	for _, c := range e.srv.Calls() {
		if c.Action == "DescribeSecurityGroupAttribute" && (c.Params.Get("MaxResults") != "1000" || c.Params.Get("Direction") != "ingress") {
			t.Errorf("describe params %v", c.Params)
		}
	}
	if n := len(e.liveIDs(t, "sg-big")); n != 2500 {
		t.Errorf("%d rules left, want 2500", n)
	}
}

func TestDryRunRevokesNothing(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	e.settings.DryRun = true
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.WouldRevoke || !rep.DryRun {
		t.Fatalf("outcome %s", got)
	}
	if n := e.srv.CallCount("RevokeSecurityGroup") + e.srv.CallCount("AuthorizeSecurityGroup"); n != 0 {
		t.Errorf("%d write calls in dry run", n)
	}
	if len(e.liveIDs(t, "sg-web")) != 7 {
		t.Error("dry run changed the group")
	}
}

func TestBadEventMakesNoCall(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	for _, payload := range []string{"", "nope", `[{"resourceId":"sg-web"}]`, `[]`} {
		if _, err := remediation.DecodeEvent([]byte(payload)); !errors.Is(err, remediation.ErrBadEvent) {
			t.Errorf("%q: err = %v", payload, err)
		}
	}
	if n := e.srv.CallCount(""); n != 0 {
		t.Errorf("%d calls", n)
	}
}

func TestSkips(t *testing.T) {
	managed := mixed("sg-managed")
	managed.ServiceManaged = true
	exempt := mixed("sg-exempt")
	exempt.Tags = map[string]string{"sg-remediation": "exempt"}
	deleted := mixed("sg-deleted")
	deleted.Deleted = true
	e := newEnv(t, managed, exempt, deleted, mixed("sg-gone"), mixed("sg-product"))
	if err := e.srv.DeleteGroup(region, "sg-gone"); err != nil {
		t.Fatal(err)
	}
	e.srv.FailNext("RevokeSecurityGroup", 1, 403, "InvalidOperation.ResourceManagedByCloudProduct")
	res := []remediation.Resource{
		{RegionID: region, ResourceID: "sg-managed"}, {RegionID: region, ResourceID: "sg-exempt"},
		{RegionID: region, ResourceID: "sg-deleted"}, {RegionID: region, ResourceID: "sg-gone"},
		{RegionID: region, ResourceID: "sg-product"}, {RegionID: region, ResourceID: "sg-unknown"},
		{RegionID: region, ResourceID: "i-instance", ResourceType: "ACS::ECS::Instance"},
		{RegionID: region, ResourceID: "sg-exempt"}, // listed twice: handled once
	}
	e.settings.MaxConcurrency = 1
	rep, err := e.remediator(t, "secret-test").Execute(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Resources) != 7 {
		t.Errorf("%d resources reported, want 7 (duplicate handled once)", len(rep.Resources))
	}
	for id, o := range outcomes(rep) {
		if o != remediation.Skipped {
			t.Errorf("%s: %s", id, o)
		}
	}
	// Managed, exempt, deleted, unknown: the Config call only. Instance: none.
	for _, c := range e.srv.Calls() {
		id := c.Params.Get("ResourceId") + c.Params.Get("SecurityGroupId")
		if id != "sg-gone" && id != "sg-product" && c.Action != "GetDiscoveredResource" {
			t.Errorf("unexpected %s on %s", c.Action, id)
		}
		if id == "i-instance" {
			t.Errorf("call for a non-security-group resource")
		}
	}
	if len(e.liveIDs(t, "sg-product")) != 7 {
		t.Error("a product-managed group was changed")
	}
}

func TestConcurrencyBound(t *testing.T) {
	var groups []cloudtest.Group
	var ids []string
	for i := range 24 {
		id := fmt.Sprintf("sg-%02d", i)
		groups, ids = append(groups, mixed(id)), append(ids, id)
	}
	e := newEnv(t, groups...)
	e.srv.SetLatency(5 * time.Millisecond)
	e.settings.MaxConcurrency = 3
	rep, err := e.run(t, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary[remediation.Revoked] != 24 {
		t.Errorf("summary %v", rep.Summary)
	}
	if got := e.srv.MaxInFlight(); got > 3 || got < 2 {
		t.Errorf("max in flight = %d, want 2..3", got)
	}
}

func TestDeadlineFailsUnfinished(t *testing.T) {
	var groups []cloudtest.Group
	var ids []string
	for i := range 30 {
		id := fmt.Sprintf("sg-%02d", i)
		groups, ids = append(groups, mixed(id)), append(ids, id)
	}
	e := newEnv(t, groups...)
	e.srv.SetLatency(40 * time.Millisecond)
	e.settings.MaxConcurrency = 2
	deadline := time.Now().Add(time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	rep, err := e.runCtx(ctx, t, ids...)
	if time.Now().After(deadline) {
		t.Errorf("Execute returned after the deadline")
	}
	var fe *remediation.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	if rep.Summary[remediation.Failed] == 0 || rep.Summary[remediation.Revoked] == 0 {
		t.Errorf("summary %v: want some done, some failed", rep.Summary)
	}
	for _, r := range rep.Resources {
		if r.Outcome == remediation.Failed && !strings.Contains(err.Error(), r.ResourceID+" ") {
			t.Errorf("error does not name %s", r.ResourceID)
		}
	}
}

func TestRestrictMode(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	var err error
	e.settings.AllowedCIDRs, err = remediation.ParseAllowedCIDRs("203.0.113.0/24,198.51.100.0/24,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.run(t, "sg-web")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep)["sg-web"]; got != remediation.Revoked {
		t.Fatalf("outcome %s (%s)", got, rep.Resources[0].Reason)
	}
	// Authorize before revoke.
	var order []string
	for _, c := range e.srv.Calls() {
		if c.Action == "AuthorizeSecurityGroup" || c.Action == "RevokeSecurityGroup" {
			order = append(order, c.Action)
		}
	}
	if !slices.Equal(order, []string{"AuthorizeSecurityGroup", "RevokeSecurityGroup"}) {
		t.Errorf("write calls %v", order)
	}
	g, _ := e.srv.Group(region, "sg-web")
	narrow := map[string]bool{}
	for _, r := range g.Permissions {
		if r.SourceCidrIp == "0.0.0.0/0" && r.PortRange != "80/80" && r.PortRange != "443/443" && r.IpProtocol != "ICMP" {
			t.Errorf("wide rule left: %+v", r)
		}
		if strings.HasPrefix(r.Description, "sg-remediation: narrowed from ") {
			narrow[r.PortRange+" "+r.SourceCidrIp+r.Ipv6SourceCidrIp] = true
			if r.SecurityGroupRuleId == "" || r.IpProtocol == "" {
				t.Errorf("narrow rule %+v", r)
			}
		}
	}
	// ssh and rdp for two IPv4 CIDRs (the existing office rule has another
	// description but is the same rule, so it is not duplicated), mysql for one IPv6.
	for _, want := range []string{"22/22 198.51.100.0/24", "3389/3389 203.0.113.0/24", "3389/3389 198.51.100.0/24", "3306/3306 2001:db8::/32"} {
		if !narrow[want] {
			t.Errorf("missing narrow rule %s; have %v", want, narrow)
		}
	}
	if len(narrow) != 4 {
		t.Errorf("narrow rules %v", narrow)
	}
	for _, r := range rep.Resources[0].Rules {
		if r.RuleID == "sgr-rdp" && len(r.Replacements) != 2 {
			t.Errorf("rdp replacements %v", r.Replacements)
		}
	}

	// A re-run after Config re-records converges with no writes.
	if err := e.srv.Resnapshot(region, "sg-web"); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCalls()
	if _, err := e.run(t, "sg-web"); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.CallCount("AuthorizeSecurityGroup") + e.srv.CallCount("RevokeSecurityGroup"); n != 0 {
		t.Errorf("re-run made %d write calls", n)
	}
}

func TestRestrictModeAuthorizeFails(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	e.settings.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	e.srv.FailNext("AuthorizeSecurityGroup", 1, 400, "QuotaExceeded.SecurityGroupRule")
	rep, err := e.run(t, "sg-web")
	if err == nil || outcomes(rep)["sg-web"] != remediation.Failed {
		t.Fatalf("err = %v, outcome %s", err, outcomes(rep)["sg-web"])
	}
	if n := e.srv.CallCount("RevokeSecurityGroup"); n != 0 {
		t.Errorf("revoked after a failed authorize")
	}
	if len(e.liveIDs(t, "sg-web")) != 7 {
		t.Error("group changed")
	}
}

func TestRestrictModeRevokeFailsThenConverges(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	e.settings.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	e.srv.FailNext("RevokeSecurityGroup", 1, 400, "IncorrectSecurityGroupStatus")
	if _, err := e.run(t, "sg-web"); err == nil {
		t.Fatal("want a failure")
	}
	e.srv.ResetCalls()
	rep, err := e.run(t, "sg-web")
	if err != nil || outcomes(rep)["sg-web"] != remediation.Revoked {
		t.Fatalf("re-run: %v %v", err, outcomes(rep))
	}
	if n := e.srv.CallCount("AuthorizeSecurityGroup"); n != 0 {
		t.Errorf("re-run authorized again (%d calls): narrow rules already exist", n)
	}
	g, _ := e.srv.Group(region, "sg-web")
	seen := map[string]int{}
	for _, r := range g.Permissions {
		seen[r.PortRange+r.SourceCidrIp+r.Ipv6SourceCidrIp]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("duplicate rule %s", k)
		}
	}
}

// ruleKey is a rule's identity without its id and create time.
func ruleKey(r cloudtest.Rule) string {
	return fmt.Sprintf("%s|%s|%d|%s|%s|%s|%s|%s|%s|%s", r.Direction, strings.ToLower(r.Policy), r.Priority, strings.ToLower(r.IpProtocol),
		r.PortRange, r.SourceCidrIp, r.Ipv6SourceCidrIp, r.SourcePortRange, r.NicType, r.Description)
}

func TestRestoreRoundTrip(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	before, _ := e.srv.Group(region, "sg-web")
	if _, err := e.run(t, "sg-web"); err != nil {
		t.Fatal(err)
	}
	backups, err := remediation.ReadBackups(strings.NewReader(e.logs.String()))
	if err != nil || len(backups) != 3 {
		t.Fatalf("%d backups, %v", len(backups), err)
	}
	cred, _ := remediation.StaticCredential("ak-test", "secret-test", "")
	cloud, _ := remediation.NewCloud(cred, e.settings)
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))

	// Dry run first: nothing written.
	e.srv.ResetCalls()
	res, err := remediation.Restore(context.Background(), remediation.OneAccount{API: cloud}, backups, true, log)
	if err != nil || res[0].Action != "would-create" || e.srv.CallCount("AuthorizeSecurityGroup") != 0 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := remediation.Restore(context.Background(), remediation.OneAccount{API: cloud}, backups, false, log); err != nil {
		t.Fatal(err)
	}
	after, _ := e.srv.Group(region, "sg-web")
	var want, got []string
	for _, r := range before.Permissions {
		want = append(want, ruleKey(r))
	}
	for _, r := range after.Permissions {
		got = append(got, ruleKey(r))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("restored group differs:\n got %v\nwant %v", got, want)
	}
	e.srv.ResetCalls()
	res, err = remediation.Restore(context.Background(), remediation.OneAccount{API: cloud}, backups, false, log)
	if err != nil || e.srv.CallCount("AuthorizeSecurityGroup") != 0 {
		t.Errorf("second restore: %v, %d authorize calls", err, e.srv.CallCount("AuthorizeSecurityGroup"))
	}
	for _, r := range res {
		if r.Action != "exists" {
			t.Errorf("second restore: %+v", r)
		}
	}
}

// An HTTP_PROXY in the environment must not capture calls to a loopback
// endpoint override (the emulator).
func TestLoopbackEndpointIgnoresProxy(t *testing.T) {
	e := newEnv(t, mixed("sg-web"))
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	if _, err := e.run(t, "sg-web"); err != nil {
		t.Fatal(err)
	}
}
