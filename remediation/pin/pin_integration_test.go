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

// TestPinIntegration runs one group through a sequence of Pin calls (first
// pin, same IP, new IP, dry run, failures, convergence), as an operator
// would, through the real SDK adapter against the local emulator.
func TestPinIntegration(t *testing.T) {
	e := newEmu(t, cloudtest.Options{},
		cloudtest.Rule{SecurityGroupRuleId: "sgr-admin", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "192.0.2.9/32", SourcePortRange: "-1/-1", Description: "bastion"},
		cloudtest.Rule{SecurityGroupRuleId: "sgr-web", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", SourcePortRange: "-1/-1"},
	)
	srv, cloud := e.srv, e.ecs
	ctx := context.Background()
	live := func() []string {
		var out []string
		for _, r := range e.live() {
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
	untouched := []string{"sgr-admin 192.0.2.9/32", "sgr-web 0.0.0.0/0"}
	with := func(extra ...string) []string {
		out := append(slices.Clone(untouched), extra...)
		slices.Sort(out)
		return out
	}

	if _, err := run("first pin", opts("203.0.113.7"), pin.Created, []string{describe, authorize}, with("pin 203.0.113.7/32")); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.live() {
		if strings.HasPrefix(r.Description, pin.Marker) {
			if r.Policy != "Accept" || r.Priority != 1 || r.NicType != "intranet" || r.PortRange != "22/22" || (r.SourcePortRange != "" && r.SourcePortRange != "-1/-1") ||
				r.Description != "sg-remediation:pin tcp/22 2026-11-25T10:00Z managed by pin, do not edit" {
				t.Errorf("created rule %+v", r)
			}
		}
	}
	res, err := run("same IP", opts("203.0.113.7"), pin.Unchanged, []string{describe}, with("pin 203.0.113.7/32"))
	if err != nil || len(res.NotManaged) != 1 || res.NotManaged[0].SecurityGroupRuleId != "sgr-admin" {
		t.Errorf("same IP: %v, not managed %v", err, sources(res.NotManaged))
	}
	if srv.CallCount(authorize)+srv.CallCount(revoke) != 0 {
		t.Error("writes for an unchanged IP")
	}
	if _, err := run("new IP", opts("198.51.100.4"), pin.Replaced, []string{describe, authorize, revoke}, with("pin 198.51.100.4/32")); err != nil {
		t.Fatal(err)
	}

	dry := opts("2001:db8::7")
	dry.DryRun = true
	if _, err := run("dry run", dry, pin.WouldReplace, []string{describe}, with("pin 198.51.100.4/32")); err != nil {
		t.Fatal(err)
	}

	srv.FailNext(authorize, 1, 403, "Forbidden.RAM")
	_, err = run("authorize fails", opts("2001:db8::7"), pin.Failed, []string{describe, authorize}, with("pin 198.51.100.4/32"))
	if err == nil || remediation.ErrorCode(err) != "Forbidden.RAM" || !strings.Contains(err.Error(), "nothing was revoked") {
		t.Errorf("authorize fails: %v", err)
	}

	srv.FailNext(revoke, 1, 403, "Forbidden.RAM")
	_, err = run("revoke fails", opts("2001:db8::7"), pin.Failed, []string{describe, authorize, revoke}, with("pin 198.51.100.4/32", "pin 2001:db8::7/128"))
	if err == nil || !strings.Contains(err.Error(), "is in place") || remediation.ErrorCode(err) != "Forbidden.RAM" {
		t.Errorf("revoke fails: %v", err)
	}
	if _, err := run("re-run converges", opts("2001:db8::7"), pin.Cleaned, []string{describe, revoke}, with("pin 2001:db8::7/128")); err != nil {
		t.Fatal(err)
	}
	if _, err := run("then unchanged", opts("2001:db8::7"), pin.Unchanged, []string{describe}, with("pin 2001:db8::7/128")); err != nil {
		t.Fatal(err)
	}
}
