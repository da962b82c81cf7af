package pin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

// fakeECS is an in-memory security group that records every call. Like ECS
// it refuses an identical second rule and revokes by ID all or nothing.
type fakeECS struct {
	mu       sync.Mutex
	rules    []remediation.Rule
	next     int
	pageSize int // 0 means 1000
	calls    []string
	// Injected errors, consumed one per call; a nil entry lets the call run.
	describeErrs, authorizeErrs, revokeErrs []error
	// beforeRevoke runs (under the lock) before each revoke call.
	beforeRevoke func(f *fakeECS)
}

func newFake(rules ...remediation.Rule) *fakeECS {
	f := &fakeECS{}
	for _, r := range rules {
		f.add(r)
	}
	return f
}

func (f *fakeECS) add(r remediation.Rule) remediation.Rule {
	f.next++
	if r.SecurityGroupRuleId == "" {
		r.SecurityGroupRuleId = "sgr-" + strconv.Itoa(f.next)
	}
	if r.Direction == "" {
		r.Direction = "ingress"
	}
	f.rules = append(f.rules, r)
	return r
}

func pop(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

func apiErr(action, code string, status int) error {
	return &remediation.APIError{Action: action, Code: code, StatusCode: status, Message: "injected"}
}

func (f *fakeECS) DescribeSecurityGroupAttribute(ctx context.Context, region, groupID, token string) (remediation.RulePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "describe "+token)
	if err := pop(&f.describeErrs); err != nil {
		return remediation.RulePage{}, err
	}
	size := f.pageSize
	if size == 0 {
		size = 1000
	}
	start := 0
	if token != "" {
		start, _ = strconv.Atoi(token)
	}
	var ingress []remediation.Rule
	for _, r := range f.rules {
		if r.Direction == "ingress" {
			ingress = append(ingress, r)
		}
	}
	end := min(start+size, len(ingress))
	page := remediation.RulePage{Rules: slices.Clone(ingress[start:end])}
	if end < len(ingress) {
		page.NextToken = strconv.Itoa(end)
	}
	return page, nil
}

func sameAsECS(a, b remediation.Rule) bool {
	return strings.EqualFold(a.Policy, b.Policy) && a.Priority.Effective() == b.Priority.Effective() &&
		strings.EqualFold(a.IpProtocol, b.IpProtocol) && a.PortRange == b.PortRange &&
		a.SourceCidrIp == b.SourceCidrIp && a.Ipv6SourceCidrIp == b.Ipv6SourceCidrIp &&
		strings.EqualFold(a.NicType, b.NicType)
}

func (f *fakeECS) AuthorizeSecurityGroup(ctx context.Context, region, groupID string, rules []remediation.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var srcs []string
	for _, r := range rules {
		srcs = append(srcs, r.Source())
	}
	f.calls = append(f.calls, "authorize "+strings.Join(srcs, ","))
	if err := pop(&f.authorizeErrs); err != nil {
		return err
	}
	for _, r := range rules {
		for _, l := range f.rules {
			if sameAsECS(l, r) {
				return apiErr("AuthorizeSecurityGroup", "InvalidPermission.Duplicate", 400)
			}
		}
	}
	for _, r := range rules {
		r.SecurityGroupRuleId = ""
		f.add(r)
	}
	return nil
}

func (f *fakeECS) RevokeSecurityGroup(ctx context.Context, region, groupID string, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "revoke "+strings.Join(ids, ","))
	if f.beforeRevoke != nil {
		f.beforeRevoke(f)
	}
	if err := pop(&f.revokeErrs); err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.ContainsFunc(f.rules, func(r remediation.Rule) bool { return r.SecurityGroupRuleId == id }) {
			return apiErr("RevokeSecurityGroup", "InvalidParam.SecurityGroupRuleId", 400)
		}
	}
	f.rules = slices.DeleteFunc(f.rules, func(r remediation.Rule) bool { return slices.Contains(ids, r.SecurityGroupRuleId) })
	return nil
}

func (f *fakeECS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// writes returns the authorize and revoke calls in order.
func (f *fakeECS) writes() []string {
	var out []string
	for _, c := range f.Calls() {
		if !strings.HasPrefix(c, "describe") {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeECS) Rules() []remediation.Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules)
}

func (f *fakeECS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

var now = time.Date(2026, 11, 25, 10, 0, 42, 0, time.UTC)

func opts(ip string) pin.Options {
	return pin.Options{
		Region: "cn-hangzhou", GroupID: "sg-test1", IP: netip.MustParseAddr(ip),
		Now:   func() time.Time { return now },
		Retry: remediation.RetryPolicy{Base: time.Millisecond, Ceiling: 5 * time.Millisecond, TransientAttempts: 3},
	}
}

// managed is a rule as a previous run of pin left it.
func managed(id, cidr string) remediation.Rule {
	r := remediation.Rule{
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

func unmanaged(id, cidr, desc string) remediation.Rule {
	r := managed(id, cidr)
	r.Description = desc
	return r
}

func sources(rules []remediation.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.SecurityGroupRuleId+"="+r.Source())
	}
	slices.Sort(out)
	return out
}

func logger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

func countLines(buf *bytes.Buffer, msg string) int {
	return strings.Count(buf.String(), `"msg":"`+msg+`"`)
}

func TestPinScenarios(t *testing.T) {
	unrelated := []remediation.Rule{
		{SecurityGroupRuleId: "sgr-web", Policy: "Accept", Priority: 1, IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", NicType: "intranet"},
		{SecurityGroupRuleId: "sgr-out", Direction: "egress", Policy: "Accept", Priority: 1, IpProtocol: "ALL", PortRange: "-1/-1", SourceCidrIp: "0.0.0.0/0"},
	}
	tests := []struct {
		name        string
		rules       []remediation.Rule
		ip          string
		mutate      func(*pin.Options)
		outcome     pin.Outcome
		writes      []string
		wantRules   []string // rule id=source of the group afterwards (ingress and egress)
		notManaged  int
		wantCreated int
		wantRevoked []string
	}{
		{
			name: "first pin creates one rule", rules: unrelated, ip: "203.0.113.7",
			outcome: pin.Created, writes: []string{"authorize 203.0.113.7/32"},
			wantRules: []string{"sgr-3=203.0.113.7/32", "sgr-out=0.0.0.0/0", "sgr-web=0.0.0.0/0"}, wantCreated: 1,
		},
		{
			name: "same IP again is unchanged", rules: append(slices.Clone(unrelated), managed("sgr-pin", "203.0.113.7/32")), ip: "203.0.113.7",
			outcome:   pin.Unchanged,
			wantRules: []string{"sgr-out=0.0.0.0/0", "sgr-pin=203.0.113.7/32", "sgr-web=0.0.0.0/0"},
		},
		{
			name: "new IP authorizes the new rule, then revokes the old", rules: []remediation.Rule{managed("sgr-old", "198.51.100.1/32")}, ip: "203.0.113.7",
			outcome: pin.Replaced, writes: []string{"authorize 203.0.113.7/32", "revoke sgr-old"},
			wantRules: []string{"sgr-2=203.0.113.7/32"}, wantCreated: 1, wantRevoked: []string{"sgr-old"},
		},
		{
			name: "stale managed rules are cleaned", rules: []remediation.Rule{
				managed("sgr-a", "198.51.100.1/32"), managed("sgr-pin", "203.0.113.7/32"), managed("sgr-b", "2001:db8::1/128"),
			}, ip: "203.0.113.7",
			outcome: pin.Cleaned, writes: []string{"revoke sgr-a,sgr-b"},
			wantRules: []string{"sgr-pin=203.0.113.7/32"}, wantRevoked: []string{"sgr-a", "sgr-b"},
		},
		{
			name: "an unmanaged identical rule is never touched and no duplicate is created",
			rules: []remediation.Rule{
				unmanaged("sgr-admin", "203.0.113.7/32", "office VPN"),
				managed("sgr-old", "198.51.100.1/32"),
			},
			ip: "203.0.113.7", outcome: pin.Cleaned, writes: []string{"revoke sgr-old"}, notManaged: 1,
			wantRules: []string{"sgr-admin=203.0.113.7/32"}, wantRevoked: []string{"sgr-old"},
		},
		{
			name:  "an unmanaged identical rule alone: unchanged",
			rules: []remediation.Rule{unmanaged("sgr-admin", "203.0.113.7/32", "")},
			ip:    "203.0.113.7", outcome: pin.Unchanged, notManaged: 1,
			wantRules: []string{"sgr-admin=203.0.113.7/32"},
		},
		{
			name: "rules that only look managed are left alone",
			rules: []remediation.Rule{
				unmanaged("sgr-x1", "198.51.100.1/32", "sg-remediation:pinned tcp/22"), // not the marker
				unmanaged("sgr-x2", "198.51.100.2/32", "admin; "+pin.Marker),           // marker not at the start
				func() remediation.Rule {
					r := managed("sgr-x3", "198.51.100.3/32")
					r.PortRange = "2222/2222"
					return r
				}(), // other port
				func() remediation.Rule { r := managed("sgr-x4", "198.51.100.4/32"); r.IpProtocol = "UDP"; return r }(),  // other protocol
				func() remediation.Rule { r := managed("sgr-x5", "198.51.100.5/32"); r.Policy = "Drop"; return r }(),     // a Drop rule
				func() remediation.Rule { r := managed("sgr-x6", "198.51.100.6/32"); r.PortRange = "20/30"; return r }(), // a range
			},
			ip: "203.0.113.7", outcome: pin.Created, writes: []string{"authorize 203.0.113.7/32"}, notManaged: 2, wantCreated: 1,
			wantRules: []string{"sgr-7=203.0.113.7/32", "sgr-x1=198.51.100.1/32", "sgr-x2=198.51.100.2/32", "sgr-x3=198.51.100.3/32",
				"sgr-x4=198.51.100.4/32", "sgr-x5=198.51.100.5/32", "sgr-x6=198.51.100.6/32"},
		},
		{
			name: "a managed rule for the same source with another priority is kept",
			rules: []remediation.Rule{func() remediation.Rule {
				r := managed("sgr-pin", "203.0.113.7")
				r.Priority = 5
				return r
			}()},
			ip: "203.0.113.7", outcome: pin.Unchanged, wantRules: []string{"sgr-pin=203.0.113.7"},
		},
		{
			name: "udp/500 only manages udp/500", rules: []remediation.Rule{managed("sgr-ssh", "198.51.100.1/32")}, ip: "203.0.113.7",
			mutate:  func(o *pin.Options) { o.Protocol, o.Port = "UDP", 500 },
			outcome: pin.Created, writes: []string{"authorize 203.0.113.7/32"}, wantCreated: 1,
			wantRules: []string{"sgr-2=203.0.113.7/32", "sgr-ssh=198.51.100.1/32"},
		},
		{
			name: "IPv6 first pin", ip: "2001:db8::7", outcome: pin.Created, writes: []string{"authorize 2001:db8::7/128"},
			wantRules: []string{"sgr-1=2001:db8::7/128"}, wantCreated: 1,
		},
		{
			name: "IPv6 new address replaces the old one", rules: []remediation.Rule{managed("sgr-old", "2001:db8::1/128")}, ip: "2001:db8::7",
			outcome: pin.Replaced, writes: []string{"authorize 2001:db8::7/128", "revoke sgr-old"}, wantCreated: 1, wantRevoked: []string{"sgr-old"},
			wantRules: []string{"sgr-2=2001:db8::7/128"},
		},
		{
			name: "IPv6 same address written differently is unchanged", rules: []remediation.Rule{managed("sgr-pin", "2001:DB8:0:0::7/128")}, ip: "2001:db8::7",
			outcome: pin.Unchanged, wantRules: []string{"sgr-pin=2001:DB8:0:0::7/128"},
		},
		{
			name: "IPv4-mapped IPv6 address is pinned as IPv4", rules: []remediation.Rule{managed("sgr-pin", "203.0.113.7/32")}, ip: "::ffff:203.0.113.7",
			outcome: pin.Unchanged, wantRules: []string{"sgr-pin=203.0.113.7/32"},
		},
		{
			name: "dry run first pin", ip: "203.0.113.7", mutate: func(o *pin.Options) { o.DryRun = true },
			outcome: pin.WouldCreate, wantCreated: 1,
		},
		{
			name: "dry run new IP", rules: []remediation.Rule{managed("sgr-old", "198.51.100.1/32")}, ip: "203.0.113.7",
			mutate:  func(o *pin.Options) { o.DryRun = true },
			outcome: pin.WouldReplace, wantCreated: 1, wantRevoked: []string{"sgr-old"}, wantRules: []string{"sgr-old=198.51.100.1/32"},
		},
		{
			name: "dry run stale rule", rules: []remediation.Rule{managed("sgr-old", "198.51.100.1/32"), managed("sgr-pin", "203.0.113.7/32")}, ip: "203.0.113.7",
			mutate:  func(o *pin.Options) { o.DryRun = true },
			outcome: pin.WouldClean, wantRevoked: []string{"sgr-old"}, wantRules: []string{"sgr-old=198.51.100.1/32", "sgr-pin=203.0.113.7/32"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(tc.rules...)
			o := opts(tc.ip)
			if tc.mutate != nil {
				tc.mutate(&o)
			}
			log, buf := logger()
			res, err := pin.Pin(context.Background(), f, o, log)
			if err != nil {
				t.Fatalf("Pin: %v", err)
			}
			if res.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q\n%s", res.Outcome, tc.outcome, res)
			}
			if res.Unchanged() != (tc.outcome == pin.Unchanged) {
				t.Errorf("Unchanged() = %v", res.Unchanged())
			}
			if got := f.writes(); !slices.Equal(got, tc.writes) {
				t.Errorf("write calls %q, want %q", got, tc.writes)
			}
			if got := sources(f.Rules()); !slices.Equal(got, tc.wantRules) && tc.wantRules != nil {
				t.Errorf("rules afterwards %q, want %q", got, tc.wantRules)
			}
			if len(res.NotManaged) != tc.notManaged {
				t.Errorf("not managed %d, want %d: %v", len(res.NotManaged), tc.notManaged, sources(res.NotManaged))
			}
			if len(res.Created) != tc.wantCreated {
				t.Errorf("created %d, want %d", len(res.Created), tc.wantCreated)
			}
			var revoked []string
			for _, r := range res.Revoked {
				revoked = append(revoked, r.SecurityGroupRuleId)
			}
			if !slices.Equal(revoked, tc.wantRevoked) {
				t.Errorf("revoked %q, want %q", revoked, tc.wantRevoked)
			}
			if res.DryRun != o.DryRun {
				t.Errorf("DryRun %v", res.DryRun)
			}
			// One log line per write action.
			if n := countLines(buf, "pin: authorize"); n != strings.Count(strings.Join(tc.writes, "\n"), "authorize") {
				t.Errorf("%d authorize log lines for writes %q\n%s", n, tc.writes, buf)
			}
			if n := countLines(buf, "pin: found"); n != 1 {
				t.Errorf("%d 'found' log lines", n)
			}
			s := res.String()
			if !strings.Contains(s, string(tc.outcome)) || !strings.Contains(s, "sg-test1") {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func TestPinNewRuleFields(t *testing.T) {
	f := newFake()
	res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rules := f.Rules()
	if len(rules) != 1 {
		t.Fatalf("rules %v", rules)
	}
	r := rules[0]
	want := remediation.Rule{
		SecurityGroupRuleId: "sgr-1", Direction: "ingress", Policy: "Accept", Priority: 1, IpProtocol: "TCP", PortRange: "22/22",
		SourceCidrIp: "203.0.113.7/32", NicType: "intranet",
		Description: "sg-remediation:pin tcp/22 2026-11-25T10:00Z managed by pin, do not edit",
	}
	if r != want {
		t.Errorf("created rule\n%+v\nwant\n%+v", r, want)
	}
	if len(res.Created) != 1 || res.Created[0].Description != want.Description || res.Source != "203.0.113.7/32" {
		t.Errorf("result %+v", res)
	}
	// The next run recognises the rule it created.
	f.reset()
	res, err = pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil || !res.Unchanged() || len(f.writes()) != 0 || len(res.Managed) != 1 || res.Current == nil {
		t.Fatalf("second run: %v, %+v, writes %q", err, res, f.writes())
	}
	// Zero write calls: exactly one describe.
	if got := f.Calls(); !slices.Equal(got, []string{"describe "}) {
		t.Errorf("calls %q", got)
	}
}

func TestPinAuthorizeFailsRevokesNothing(t *testing.T) {
	f := newFake(managed("sgr-old", "198.51.100.1/32"))
	f.authorizeErrs = []error{apiErr("AuthorizeSecurityGroup", "Forbidden.RAM", 403)}
	log, buf := logger()
	res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), log)
	if err == nil {
		t.Fatal("no error")
	}
	if remediation.ErrorCode(err) != "Forbidden.RAM" {
		t.Errorf("error does not wrap the API error: %v", err)
	}
	for _, s := range []string{"sg-test1", "authorize", "nothing was revoked"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if got := f.writes(); !slices.Equal(got, []string{"authorize 203.0.113.7/32"}) {
		t.Errorf("write calls %q: nothing may be revoked", got)
	}
	if got := sources(f.Rules()); !slices.Equal(got, []string{"sgr-old=198.51.100.1/32"}) {
		t.Errorf("rules %q", got)
	}
	if res.Outcome != pin.Failed || len(res.Revoked) != 0 {
		t.Errorf("result %+v", res)
	}
	if countLines(buf, "pin: authorize") != 1 || !strings.Contains(buf.String(), `"level":"ERROR"`) {
		t.Errorf("log:\n%s", buf)
	}
}

func TestPinRevokeFailsThenReRunConverges(t *testing.T) {
	f := newFake(managed("sgr-old", "198.51.100.1/32"))
	f.revokeErrs = []error{apiErr("RevokeSecurityGroup", "Forbidden.RAM", 403)}
	res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	var ae *remediation.APIError
	if !errors.As(err, &ae) || ae.Code != "Forbidden.RAM" {
		t.Errorf("error does not wrap the API error: %v", err)
	}
	for _, s := range []string{"sg-test1", "203.0.113.7/32", "is in place", "sgr-old", "remain", "run pin again"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if res.Outcome != pin.Failed || len(res.Created) != 1 || len(res.Revoked) != 0 {
		t.Errorf("result %+v", res)
	}
	if got := f.writes(); !slices.Equal(got, []string{"authorize 203.0.113.7/32", "revoke sgr-old"}) {
		t.Errorf("write calls %q", got)
	}
	if got := sources(f.Rules()); !slices.Equal(got, []string{"sgr-2=203.0.113.7/32", "sgr-old=198.51.100.1/32"}) {
		t.Fatalf("after the failed run: %q", got)
	}

	f.reset()
	res, err = pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil || res.Outcome != pin.Cleaned {
		t.Fatalf("re-run: %v %+v", err, res)
	}
	if got := f.writes(); !slices.Equal(got, []string{"revoke sgr-old"}) {
		t.Errorf("re-run write calls %q", got)
	}
	f.reset()
	res, err = pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil || !res.Unchanged() || len(f.writes()) != 0 {
		t.Fatalf("third run: %v %+v %q", err, res, f.writes())
	}
	if got := sources(f.Rules()); !slices.Equal(got, []string{"sgr-2=203.0.113.7/32"}) {
		t.Errorf("converged to %q", got)
	}
}

func TestPinDuplicateAuthorizeCountsAsDone(t *testing.T) {
	// Someone created the identical rule between the read and the authorize.
	for _, code := range []string{"InvalidPermission.Duplicate", "InvalidSecurityGroupRule.RuleDuplicate"} {
		t.Run(code, func(t *testing.T) {
			f := newFake(managed("sgr-old", "198.51.100.1/32"))
			f.authorizeErrs = []error{apiErr("AuthorizeSecurityGroup", code, 400)}
			res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
			if err != nil || res.Outcome != pin.Replaced {
				t.Fatalf("%v %+v", err, res)
			}
			if got := f.writes(); !slices.Equal(got, []string{"authorize 203.0.113.7/32", "revoke sgr-old"}) {
				t.Errorf("write calls %q", got)
			}
		})
	}
}

func TestPinStaleRuleAlreadyGone(t *testing.T) {
	f := newFake(managed("sgr-a", "198.51.100.1/32"), managed("sgr-b", "198.51.100.2/32"))
	// sgr-a disappears between the read and the revoke: the two-ID call is
	// refused as a whole, the group is read again and the ID that remains is
	// revoked (remediation.RevokeRules, shared with the remediation).
	f.beforeRevoke = func(f *fakeECS) {
		f.rules = slices.DeleteFunc(f.rules, func(r remediation.Rule) bool { return r.SecurityGroupRuleId == "sgr-a" })
	}
	res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil || res.Outcome != pin.Replaced {
		t.Fatalf("%v %+v", err, res)
	}
	if !slices.Equal(res.Gone, []string{"sgr-a"}) || len(res.Revoked) != 1 || res.Revoked[0].SecurityGroupRuleId != "sgr-b" {
		t.Errorf("gone %q revoked %v", res.Gone, sources(res.Revoked))
	}
	if got := f.writes(); !slices.Equal(got, []string{"authorize 203.0.113.7/32", "revoke sgr-a,sgr-b", "revoke sgr-b"}) {
		t.Errorf("write calls %q", got)
	}
	if got := sources(f.Rules()); !slices.Equal(got, []string{"sgr-3=203.0.113.7/32"}) {
		t.Errorf("rules %q", got)
	}
	if !strings.Contains(res.String(), "already gone  sgr-a") {
		t.Errorf("String():\n%s", res)
	}
}

func TestPinPagesAndRetries(t *testing.T) {
	var rules []remediation.Rule
	for i := range 5 {
		rules = append(rules, unmanaged(fmt.Sprintf("sgr-u%d", i), fmt.Sprintf("10.0.0.%d/32", i), "admin"))
	}
	rules = append(rules, managed("sgr-pin", "203.0.113.7/32"))
	f := newFake(rules...)
	f.pageSize = 2
	// Throttling and a 503 are retried by the retry policy.
	f.describeErrs = []error{apiErr("DescribeSecurityGroupAttribute", "Throttling.User", 400), nil, apiErr("DescribeSecurityGroupAttribute", "ServiceUnavailable", 503)}
	res, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err != nil || !res.Unchanged() {
		t.Fatalf("%v %+v", err, res)
	}
	if len(res.NotManaged) != 5 || len(res.Managed) != 1 {
		t.Errorf("managed %v not managed %v", sources(res.Managed), sources(res.NotManaged))
	}
	want := []string{"describe ", "describe ", "describe 2", "describe 2", "describe 4"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestPinReadErrors(t *testing.T) {
	f := newFake()
	f.describeErrs = []error{apiErr("DescribeSecurityGroupAttribute", "InvalidSecurityGroupId.NotFound", 404)}
	_, err := pin.Pin(context.Background(), f, opts("203.0.113.7"), nil)
	if err == nil || remediation.ErrorCode(err) != "InvalidSecurityGroupId.NotFound" || !strings.Contains(err.Error(), "sg-test1") {
		t.Fatalf("err %v", err)
	}
	if len(f.writes()) != 0 {
		t.Errorf("writes %q", f.writes())
	}
}

func TestPinValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*pin.Options)
		want   string
	}{
		{"no region", func(o *pin.Options) { o.Region = "" }, "no region"},
		{"bad region", func(o *pin.Options) { o.Region = "CN Hangzhou" }, "not a region id"},
		{"no group", func(o *pin.Options) { o.GroupID = "" }, "no security group"},
		{"group without sg-", func(o *pin.Options) { o.GroupID = "bp1abc" }, "not a security group id"},
		{"group sg- only", func(o *pin.Options) { o.GroupID = "sg-" }, "not a security group id"},
		{"port negative", func(o *pin.Options) { o.Port = -1 }, "outside 1..65535"},
		{"port too large", func(o *pin.Options) { o.Port = 65536 }, "outside 1..65535"},
		{"protocol icmp", func(o *pin.Options) { o.Protocol = "icmp" }, "want tcp or udp"},
		{"protocol all", func(o *pin.Options) { o.Protocol = "all" }, "want tcp or udp"},
		{"no IP", func(o *pin.Options) { o.IP = netip.Addr{} }, "no valid IP"},
		{"unspecified IPv4", func(o *pin.Options) { o.IP = netip.MustParseAddr("0.0.0.0") }, "unspecified"},
		{"unspecified IPv6", func(o *pin.Options) { o.IP = netip.MustParseAddr("::") }, "unspecified"},
		{"multicast", func(o *pin.Options) { o.IP = netip.MustParseAddr("239.1.2.3") }, "multicast"},
		{"zone", func(o *pin.Options) { o.IP = netip.MustParseAddr("fe80::1%eth0") }, "zone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			o := opts("203.0.113.7")
			tc.mutate(&o)
			_, err := pin.Pin(context.Background(), f, o, nil)
			if err == nil || !errors.Is(err, pin.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
			if c := f.Calls(); len(c) != 0 {
				t.Errorf("calls %q, want none", c)
			}
		})
	}
	// Every problem is reported at once.
	_, err := pin.Pin(context.Background(), newFake(), pin.Options{Port: 70000}, nil)
	for _, s := range []string{"region", "security group", "port", "IP"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("err %v does not mention %s", err, s)
		}
	}
	// Defaults: tcp/22.
	f := newFake()
	res, err := pin.Pin(context.Background(), f, pin.Options{Region: "cn-hangzhou", GroupID: "sg-x", IP: netip.MustParseAddr("192.0.2.1")}, nil)
	if err != nil || res.Protocol != "tcp" || res.Port != 22 || f.Rules()[0].PortRange != "22/22" || !strings.HasPrefix(f.Rules()[0].Description, pin.Marker+" tcp/22 ") {
		t.Errorf("defaults: %v %+v %+v", err, res, f.Rules())
	}
}

func TestResultString(t *testing.T) {
	f := newFake(managed("sgr-old", "198.51.100.1/32"), unmanaged("sgr-admin", "192.0.2.9/32", "bastion"))
	o := opts("203.0.113.7")
	o.DryRun = true
	res, err := pin.Pin(context.Background(), f, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := res.String()
	for _, want := range []string{
		"sg-test1 (cn-hangzhou) tcp/22 pinned to 203.0.113.7/32: would-replace (dry run)",
		"would create  (new) 203.0.113.7/32",
		"would revoke  sgr-old 198.51.100.1/32",
		`not managed   sgr-admin 192.0.2.9/32 priority 1 "bastion" (left alone)`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}

// The README's RAM policy grants exactly the actions Pin calls, on one group.
func TestReadmePolicy(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "```json\n")
	if i < 0 {
		t.Fatal("README has no JSON policy")
	}
	text = text[i+len("```json\n"):]
	text = text[:strings.Index(text, "```")]
	var policy struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal([]byte(text), &policy); err != nil {
		t.Fatalf("policy: %v\n%s", err, text)
	}
	if len(policy.Statement) != 1 {
		t.Fatalf("statements %+v", policy.Statement)
	}
	st := policy.Statement[0]
	if !slices.Equal(st.Action, pin.Actions) || st.Effect != "Allow" || st.Resource != "acs:ecs:<region>:<account-id>:securitygroup/<sg-id>" {
		t.Errorf("policy %+v, want actions %q", st, pin.Actions)
	}
}
