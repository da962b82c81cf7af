package remediation_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const (
	own        = cloudtest.DefaultAccountID
	memberA    = "2000000000000001"
	memberB    = "2000000000000002"
	memberC    = "2000000000000003" // trusts nobody: AssumeRole is refused
	memberRole = "sg-remediation-member"
	aggregator = "ca-test"
)

// orgEnv is an emulated Resource Directory: the function's account and
// three members, each with a risky group, read through an account group.
func orgEnv(t testing.TB) *env {
	t.Helper()
	e := newEnv(t)
	for _, m := range []string{memberA, memberB, memberC} {
		if err := e.srv.AddAccount(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{memberA, memberB} {
		if err := e.srv.AddRole(m, memberRole, own); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.AddRole(memberC, memberRole); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddAggregator(aggregator, own, memberA, memberB, memberC); err != nil {
		t.Fatal(err)
	}
	// The invocation's credentials are STS credentials, as FC hands them.
	if err := e.srv.AddKey(own, "STS.invocation", "inv-secret", "inv-token"); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{own, memberA, memberB, memberC} {
		for _, id := range []string{"sg-" + acct + "-1", "sg-" + acct + "-2"} {
			if err := e.srv.AddGroupFor(acct, group(id, rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"), rule("sgr-web", "TCP", "443/443", "0.0.0.0/0"))); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.settings.AggregatorID, e.settings.MemberRoleName, e.settings.STSEndpoint = aggregator, memberRole, e.srv.URL()
	return e
}

// orgRemediator wires the remediation of one invocation signed with key.
func (e *env) orgRemediator(t testing.TB, key cloudtest.Key) *remediation.Remediator {
	t.Helper()
	cloud := e.cloudAs(t, key)
	accounts := remediation.NewMemberAccounts(own, cloud, e.settings.MemberRoleName, cloud, remediation.DefaultRetryPolicy,
		func(cr remediation.AssumedCredentials) (remediation.ECSAPI, error) { return cloud.ForCredentials(cr) })
	r, err := remediation.NewForAccounts(e.settings, cloud, accounts, slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Retry = remediation.RetryPolicy{Base: time.Millisecond, Ceiling: 20 * time.Millisecond, TransientAttempts: 3}
	return r
}

var invocationKey = cloudtest.Key{AccessKeyID: "STS.invocation", AccessKeySecret: "inv-secret", SecurityToken: "inv-token", AccountID: own}

func orgResources(accounts ...string) []remediation.Resource {
	var out []remediation.Resource
	for i := range 2 {
		for _, acct := range accounts { // interleaved: the accounts' groups alternate
			out = append(out, remediation.Resource{RegionID: region, AccountID: acct, ResourceID: "sg-" + acct + "-" + string(rune('1'+i)),
				ResourceType: remediation.SecurityGroupType})
		}
	}
	return out
}

// Own account: no AssumeRole. Two members: one AssumeRole each, whatever the
// number of their groups. A refusal fails only that member's groups, is
// tried once, and names them. Every call is signed by the owner of its group.
func TestAccountGroupRemediation(t *testing.T) {
	e := orgEnv(t)
	e.srv.SetLatency(5 * time.Millisecond) // the accounts' calls overlap
	rep, err := e.orgRemediator(t, invocationKey).Execute(context.Background(), orgResources(own, memberA, memberB, memberC))
	got := outcomes(rep)
	for _, acct := range []string{own, memberA, memberB} {
		for _, n := range []string{"1", "2"} {
			if id := "sg-" + acct + "-" + n; got[id] != remediation.Revoked {
				t.Errorf("%s: %s", id, got[id])
			}
		}
	}
	for _, id := range []string{"sg-" + memberC + "-1", "sg-" + memberC + "-2"} {
		if got[id] != remediation.Failed {
			t.Errorf("%s: %s, want failed", id, got[id])
		}
		if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "NoPermission") {
			t.Errorf("error does not name %s and the refusal: %v", id, err)
		}
	}
	assumed := map[string]int{}
	for _, c := range e.srv.Calls() {
		switch {
		case c.Action == "AssumeRole":
			assumed[strings.Split(c.Params.Get("RoleArn"), ":")[3]]++
			if c.AccountID != own {
				t.Errorf("AssumeRole signed by %s", c.AccountID)
			}
		case c.Action == "GetAggregateDiscoveredResource":
			if c.AccountID != own || c.Params.Get("AggregatorId") != aggregator || c.Params.Get("ResourceAccountId") == "" {
				t.Errorf("aggregate read %v by %s", c.Params, c.AccountID)
			}
		case c.Action == "GetDiscoveredResource":
			t.Errorf("account group mode read %s without the aggregator", c.Params.Get("ResourceId"))
		case strings.HasPrefix(c.Action, "DescribeSecurityGroupAttribute"), strings.HasPrefix(c.Action, "RevokeSecurityGroup"):
			// The group id names its owner: sg-<account>-n.
			owner := strings.Split(c.Params.Get("SecurityGroupId"), "-")[1]
			if c.AccountID != owner {
				t.Errorf("%s on %s signed by account %s", c.Action, c.Params.Get("SecurityGroupId"), c.AccountID)
			}
			if owner == memberC {
				t.Errorf("ECS call on a group of the refused account: %s", c.Action)
			}
		}
	}
	if assumed[own] != 0 || assumed[memberA] != 1 || assumed[memberB] != 1 || assumed[memberC] != 1 {
		t.Errorf("AssumeRole per account: %v", assumed)
	}
}

// Without MEMBER_ROLE_NAME a member's groups fail with a clear reason and
// no ECS call; the own account's are remediated.
func TestAccountGroupWithoutMemberRole(t *testing.T) {
	e := orgEnv(t)
	e.settings.MemberRoleName = ""
	rep, err := e.orgRemediator(t, invocationKey).Execute(context.Background(), orgResources(own, memberA))
	got := outcomes(rep)
	if got["sg-"+own+"-1"] != remediation.Revoked || got["sg-"+memberA+"-1"] != remediation.Failed {
		t.Fatalf("outcomes %v", got)
	}
	if err == nil || !strings.Contains(err.Error(), "MEMBER_ROLE_NAME is not set") {
		t.Errorf("err = %v", err)
	}
	for _, c := range e.srv.Calls() {
		if c.Action == "AssumeRole" || c.AccountID == memberA {
			t.Errorf("call %s as %s", c.Action, c.AccountID)
		}
	}
}

// FC rotates the invocation's credentials: the next invocation assumes the
// member roles again with the new ones (nothing is cached across
// invocations; the keys assumed with the old ones are dead).
func TestAccountGroupRotatedCredentials(t *testing.T) {
	e := orgEnv(t)
	if _, err := e.orgRemediator(t, invocationKey).Execute(context.Background(), orgResources(memberA)[:1]); err != nil {
		t.Fatal(err)
	}
	next, err := e.srv.RotateKey(invocationKey.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCalls()
	rep, err := e.orgRemediator(t, next).Execute(context.Background(), orgResources(memberA)[1:2])
	if err != nil || rep.Resources[0].Outcome != remediation.Revoked {
		t.Fatalf("%v %+v", err, rep)
	}
	if n := e.srv.CallCount("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls in the second invocation, want 1", n)
	}
	for _, c := range e.srv.Calls() {
		if c.Action == "AssumeRole" && c.AccessKeyID != next.AccessKeyID {
			t.Errorf("AssumeRole signed with %s, want the rotated key", c.AccessKeyID)
		}
	}
}
