package remediation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// Exceptions through the whole remediation: the excepted rule stays, the
// rest of the exposure is revoked, and the report says who accepted what.
func TestRemediationWithExceptions(t *testing.T) {
	e := newEnv(t,
		group("sg-vpn", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"), rule("sgr-rdp", "TCP", "3389/3389", "0.0.0.0/0")),
		group("sg-all", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0")),
		group("sg-expired", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0")),
	)
	now := time.Now().UTC()
	future, past := now.AddDate(0, 0, 30).Format(time.DateOnly), now.AddDate(0, 0, -1).Format(time.DateOnly)
	var err error
	e.settings.Exceptions, err = remediation.ParseExceptions(`[
	 {"group":"sg-vpn","rule":"sgr-ssh","owner":"alice","reason":"vendor VPN","until":"`+future+`"},
	 {"group":"sg-all","owner":"bob","reason":"migration","until":"`+future+`"},
	 {"group":"sg-expired","owner":"carol","reason":"old","until":"`+past+`"}]`, now, 90)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.run(t, "sg-vpn", "sg-all", "sg-expired")
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(rep)
	if got["sg-vpn"] != remediation.Revoked || got["sg-all"] != remediation.Excepted || got["sg-expired"] != remediation.Revoked {
		t.Fatalf("outcomes %v", got)
	}
	if ids := e.liveIDs(t, "sg-vpn"); strings.Join(ids, ",") != "sgr-ssh" {
		t.Errorf("sg-vpn live rules %v", ids)
	}
	if ids := e.liveIDs(t, "sg-all"); strings.Join(ids, ",") != "sgr-ssh" {
		t.Errorf("sg-all live rules %v", ids)
	}
	for _, res := range rep.Resources {
		for _, r := range res.Rules {
			switch {
			case res.ResourceID == "sg-vpn" && r.RuleID == "sgr-ssh", res.ResourceID == "sg-all":
				if r.Action != "excepted" || !strings.Contains(r.Reason, "until "+future+" by") {
					t.Errorf("%s %s: %s %q", res.ResourceID, r.RuleID, r.Action, r.Reason)
				}
			case res.ResourceID == "sg-expired":
				if r.Action != "revoked" || !strings.Contains(r.Reason, "expired "+past) {
					t.Errorf("%s %s: %s %q", res.ResourceID, r.RuleID, r.Action, r.Reason)
				}
			}
		}
	}
	if n := e.srv.CallCount("DescribeSecurityGroupAttribute"); n != 2 {
		t.Errorf("%d live reads: the fully excepted group needs none", n)
	}
}

// An exemption tag with an end date in the past no longer protects.
func TestExemptionTagEndDate(t *testing.T) {
	exempt := func(id, until string) cloudtest.Group {
		g := group(id, rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"))
		g.Tags = map[string]string{"sg-remediation": "exempt", "sg-remediation-until": until}
		return g
	}
	future := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	e := newEnv(t, exempt("sg-future", future), exempt("sg-past", "2020-01-01"), exempt("sg-junk", "someday"))
	rep, err := e.run(t, "sg-future", "sg-past", "sg-junk")
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(rep)
	if got["sg-future"] != remediation.Skipped || got["sg-past"] != remediation.Revoked || got["sg-junk"] != remediation.Revoked {
		t.Fatalf("outcomes %v", got)
	}
	for _, res := range rep.Resources {
		if res.ResourceID == "sg-junk" && !strings.Contains(res.Reason, "void") || res.ResourceID == "sg-past" && !strings.Contains(res.Reason, "expired") {
			t.Errorf("%s: %q", res.ResourceID, res.Reason)
		}
	}
}
