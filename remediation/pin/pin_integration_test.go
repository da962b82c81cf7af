package pin_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

// TestPinIntegration runs Pin through the real SDK adapter against the
// local emulator (127.0.0.1 only).
func TestPinIntegration(t *testing.T) {
	// The SDK honours HTTP_PROXY even for 127.0.0.1; keep the calls local.
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "")
	}
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const region, group = "cn-hangzhou", "sg-pinit1"
	err = srv.AddGroup(cloudtest.Group{SecurityGroupId: group, RegionId: region, Permissions: []cloudtest.Rule{
		{SecurityGroupRuleId: "sgr-admin", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "192.0.2.9/32", SourcePortRange: "-1/-1", Description: "bastion"},
		{SecurityGroupRuleId: "sgr-web", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", SourcePortRange: "-1/-1"},
	}})
	if err != nil {
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
	ctx := context.Background()
	o := func(ip string) pin.Options {
		op := opts(ip)
		op.Region, op.GroupID = region, group
		return op
	}
	live := func() []string {
		g, ok := srv.Group(region, group)
		if !ok {
			t.Fatal("group gone")
		}
		var out []string
		for _, r := range g.Permissions {
			src := r.SourceCidrIp + r.Ipv6SourceCidrIp
			if strings.HasPrefix(r.Description, pin.Marker+" ") {
				out = append(out, "pin "+src)
			} else {
				out = append(out, r.SecurityGroupRuleId+" "+src)
			}
		}
		slices.Sort(out)
		return out
	}
	actions := func() []string {
		var out []string
		for _, c := range srv.Calls() {
			out = append(out, c.Action)
		}
		return out
	}
	run := func(name string, op pin.Options, wantOutcome pin.Outcome, wantActions, wantLive []string) (pin.Result, error) {
		t.Helper()
		srv.ResetCalls()
		res, err := pin.Pin(ctx, cloud, op, nil)
		if res.Outcome != wantOutcome {
			t.Errorf("%s: outcome %q, want %q (err %v)\n%s", name, res.Outcome, wantOutcome, err, res)
		}
		if got := actions(); !slices.Equal(got, wantActions) {
			t.Errorf("%s: calls %q, want %q", name, got, wantActions)
		}
		if got := live(); !slices.Equal(got, wantLive) {
			t.Errorf("%s: rules %q, want %q", name, got, wantLive)
		}
		return res, err
	}
	const describe, authorize, revoke = "DescribeSecurityGroupAttribute", "AuthorizeSecurityGroup", "RevokeSecurityGroup"
	untouched := []string{"sgr-admin 192.0.2.9/32", "sgr-web 0.0.0.0/0"}
	with := func(extra ...string) []string {
		out := append(slices.Clone(untouched), extra...)
		slices.Sort(out)
		return out
	}

	if _, err := run("first pin", o("203.0.113.7"), pin.Created, []string{describe, authorize}, with("pin 203.0.113.7/32")); err != nil {
		t.Fatal(err)
	}
	g, _ := srv.Group(region, group)
	for _, r := range g.Permissions {
		if strings.HasPrefix(r.Description, pin.Marker) {
			if r.Policy != "Accept" || r.Priority != 1 || r.NicType != "intranet" || r.PortRange != "22/22" || (r.SourcePortRange != "" && r.SourcePortRange != "-1/-1") ||
				r.Description != "sg-remediation:pin tcp/22 2026-11-25T10:00Z managed by pin, do not edit" {
				t.Errorf("created rule %+v", r)
			}
		}
	}
	res, err := run("same IP", o("203.0.113.7"), pin.Unchanged, []string{describe}, with("pin 203.0.113.7/32"))
	if err != nil || len(res.NotManaged) != 1 || res.NotManaged[0].SecurityGroupRuleId != "sgr-admin" {
		t.Errorf("same IP: %v, not managed %v", err, sources(res.NotManaged))
	}
	if srv.CallCount(authorize)+srv.CallCount(revoke) != 0 {
		t.Error("writes for an unchanged IP")
	}
	if _, err := run("new IP", o("198.51.100.4"), pin.Replaced, []string{describe, authorize, revoke}, with("pin 198.51.100.4/32")); err != nil {
		t.Fatal(err)
	}

	dry := o("2001:db8::7")
	dry.DryRun = true
	if _, err := run("dry run", dry, pin.WouldReplace, []string{describe}, with("pin 198.51.100.4/32")); err != nil {
		t.Fatal(err)
	}

	srv.FailNext(authorize, 1, 403, "Forbidden.RAM")
	_, err = run("authorize fails", o("2001:db8::7"), pin.Failed, []string{describe, authorize}, with("pin 198.51.100.4/32"))
	if err == nil || remediation.ErrorCode(err) != "Forbidden.RAM" || !strings.Contains(err.Error(), "nothing was revoked") {
		t.Errorf("authorize fails: %v", err)
	}

	srv.FailNext(revoke, 1, 403, "Forbidden.RAM")
	_, err = run("revoke fails", o("2001:db8::7"), pin.Failed, []string{describe, authorize, revoke}, with("pin 198.51.100.4/32", "pin 2001:db8::7/128"))
	if err == nil || !strings.Contains(err.Error(), "is in place") || remediation.ErrorCode(err) != "Forbidden.RAM" {
		t.Errorf("revoke fails: %v", err)
	}
	if _, err := run("re-run converges", o("2001:db8::7"), pin.Cleaned, []string{describe, revoke}, with("pin 2001:db8::7/128")); err != nil {
		t.Fatal(err)
	}
	if _, err := run("then unchanged", o("2001:db8::7"), pin.Unchanged, []string{describe}, with("pin 2001:db8::7/128")); err != nil {
		t.Fatal(err)
	}
}
