package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
)

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"short", 10, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"averyveryverylongword x", 5, []string{"averyveryverylongword", "x"}},
	} {
		if got := wrap(tc.text, tc.width); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
		}
	}
}

func TestWriteReport(t *testing.T) {
	long := "Drop rule sgr-bp1drop00000000drop22 priority 1 blocks 22/tcp from 0.0.0.0/0 and a lot more words to wrap"
	rep := &remediation.Report{
		Resources: []remediation.ResourceReport{
			{ResourceID: "sg-a", Region: "cn-hangzhou", Outcome: remediation.Revoked, Reason: "revoked 1 risky rule(s)", Rules: []remediation.RuleReport{
				{RuleID: "sgr-1", Protocol: "TCP", PortRange: "22/22", Source: "0.0.0.0/0", Action: "revoked", Reason: "exposes 22/tcp to 0.0.0.0/0",
					Replacements: []string{"10.0.0.0/8"}},
				{RuleID: "sgr-2", Protocol: "TCP", PortRange: "22/22", Source: "0.0.0.0/0", Action: "kept", Reason: long},
			}},
			{ResourceID: "sg-b", Region: "cn-shanghai", Outcome: remediation.Failed, Reason: "RevokeSecurityGroup sg-b: Forbidden.RAM", Rules: []remediation.RuleReport{
				{RuleID: "sgr-3", Protocol: "ALL", PortRange: "-1/-1", Source: "::/0", Action: "failed", Reason: "exposes 1-65535/tcp to ::/0"},
			}},
			{ResourceID: "sg-c", Region: "cn-hangzhou", Outcome: remediation.Skipped, Reason: "managed security group (ServiceManaged)"},
		},
		Summary: map[remediation.Outcome]int{remediation.Revoked: 1, remediation.Failed: 1, remediation.Skipped: 1},
	}
	var b bytes.Buffer
	writeReport(&b, rep, 80)
	out := b.String()
	t.Logf("\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if len(l) > 80 && !strings.HasSuffix(l, " sgr-bp1drop00000000drop22") { // a word longer than the column stays whole
			t.Errorf("line longer than 80: %q", l)
		}
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"cn-hangzhou/sg-a sgr-1 tcp 22/22 0.0.0.0/0 revoked exposes", // several regions: the region is shown
		"replaced by 10.0.0.0/8",
		"cn-shanghai/sg-b - - - failed RevokeSecurityGroup sg-b: Forbidden.RAM sgr-3 all -1/-1 ::/0 failed",
		"cn-hangzhou/sg-c - - - skipped managed security group",
		"and a lot more words to wrap",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The long reason is wrapped onto continuation rows, all words kept.
	if got, want := lines[len(lines)-1], "3 groups: 1 revoked (1 rule), 0 compliant, 1 skipped, 1 failed"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		rep  remediation.Report
		want string
	}{
		{remediation.Report{Resources: make([]remediation.ResourceReport, 1), Summary: map[remediation.Outcome]int{remediation.Compliant: 1}},
			"1 group: 0 revoked (0 rules), 1 compliant, 0 skipped, 0 failed"},
		{remediation.Report{DryRun: true, Resources: []remediation.ResourceReport{{Outcome: remediation.WouldRevoke, Rules: []remediation.RuleReport{{Action: "would-revoke"}, {Action: "would-revoke"}, {Action: "kept"}}}},
			Summary: map[remediation.Outcome]int{remediation.WouldRevoke: 1}},
			"1 group: 1 would-revoke (2 rules), 0 compliant, 0 skipped, 0 failed (dry run: nothing changed)"},
	} {
		if got := summary(&tc.rep); got != tc.want {
			t.Errorf("summary %q, want %q", got, tc.want)
		}
	}
}

// A dry run in restrict mode shows everything a real run would do: the
// replacements (table and --json), the rule that is only closed because no
// allowed CIDR is of its family, and the rules kept without judging.
func TestReplayDryRunShowsReplacements(t *testing.T) {
	e := env{"DRY_RUN": "true", "ALLOWED_CIDRS": "203.0.113.0/24"}
	all := filepath.Join(eventsDir, "all-samples.json")
	r := runCLI(t, e, "", "replay", all)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	flat := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{
		"sgr-bp1web00000000000ssh tcp 22/22 0.0.0.0/0 would-revoke exposes 22/tcp to 0.0.0.0/0; would replace by 203.0.113.0/24",
		"sgr-bp1web00000000000rdp tcp 3389/3389 0.0.0.0/0 would-revoke exposes 3389/tcp to 0.0.0.0/0; would replace by 203.0.113.0/24",
		"sgr-bp1db00000000mysqlany tcp 3306/3306 0.0.0.0/0 would-revoke exposes 3306/tcp to 0.0.0.0/0; would replace by 203.0.113.0/24",
		"sgr-bp1ipv6000000000ssh6 tcp 22/22 ::/0 would-revoke exposes 22/tcp to ::/0; no allowed CIDR of its address family: the port is only closed",
		// database-mysql: 3306 from 10.0.0.0/8 stays, out of scope.
		"sgr-bp1db00000000mysqlany tcp 3306/3306 0.0.0.0/0 would-revoke exposes 3306/tcp to 0.0.0.0/0; would replace by 203.0.113.0/24 1 other rule - - kept not open to the internet",
		"4 would-revoke (5 rules), 1 compliant, 2 skipped, 0 failed (dry run: nothing changed)",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(flat, " replaced by") {
		t.Errorf("a dry run says replaced:\n%s", r.stdout)
	}

	r = runCLI(t, e, "", "replay", "--json", all)
	var rep remediation.Report
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("--json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := map[string][]string{}
	others := map[string]int{}
	for _, res := range rep.Resources {
		others[res.ResourceID] = res.OtherRules
		for _, rule := range res.Rules {
			if rule.Action == "would-revoke" {
				got[rule.RuleID] = rule.Replacements
			}
		}
	}
	want := map[string][]string{
		"sgr-bp1web00000000000ssh":  {"203.0.113.0/24"},
		"sgr-bp1web00000000000rdp":  {"203.0.113.0/24"},
		"sgr-bp1db00000000mysqlany": {"203.0.113.0/24"},
		"sgr-bp1stale0000000range":  {"203.0.113.0/24"},
		"sgr-bp1ipv6000000000ssh6":  nil,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("--json replacements %v, want %v", got, want)
	}
	if others[dbGroup] < 1 || others[dropGroup] < 1 {
		t.Errorf("otherRules %v: the 10.0.0.0/8 and office rules are not counted", others)
	}
	if !rep.DryRun || rep.Summary[remediation.WouldRevoke] != 4 {
		t.Errorf("report dryRun %v summary %v", rep.DryRun, rep.Summary)
	}
}

// A real run in restrict mode says "replaced by"; a rule kept without
// judging gets one line per group.
func TestWriteReportRestrictAndOtherRules(t *testing.T) {
	rep := &remediation.Report{
		Resources: []remediation.ResourceReport{{ResourceID: "sg-a", Region: "cn-hangzhou", Outcome: remediation.Revoked, OtherRules: 3,
			Rules: []remediation.RuleReport{{RuleID: "sgr-1", Protocol: "TCP", PortRange: "22/22", Source: "0.0.0.0/0", Action: "revoked", Reason: "exposes 22/tcp to 0.0.0.0/0",
				Replacements: []string{"203.0.113.0/24", "198.51.100.0/24"}}}}},
		Summary: map[remediation.Outcome]int{remediation.Revoked: 1},
	}
	var b bytes.Buffer
	writeReport(&b, rep, 200)
	flat := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"sgr-1 tcp 22/22 0.0.0.0/0 revoked exposes 22/tcp to 0.0.0.0/0; replaced by 203.0.113.0/24, 198.51.100.0/24",
		"3 other rules - - kept not open to the internet",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	rep.Resources[0].OtherRules = 0
	b.Reset()
	writeReport(&b, rep, 200)
	if strings.Contains(b.String(), "other rule") {
		t.Errorf("an other-rules line with none:\n%s", b.String())
	}
}

// Restore's error column keeps each error on one line, a URL in it whole.
func TestWriteRestoreOneLineErrors(t *testing.T) {
	msg := "AuthorizeSecurityGroup: Forbidden.RAM (HTTP 403): code: 403, User not authorized to operate on the specified resource.\nrequest id: 5E0C Recommend: https://api.aliyun.com/troubleshoot?q=Forbidden.RAM&product=Ecs&requestId=5E0C"
	results := []remediation.RestoreResult{{Backup: remediation.Backup{GroupID: "sg-a", Region: "cn-hangzhou",
		Rule: remediation.Rule{SecurityGroupRuleId: "sgr-1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}}, Action: "failed", Error: msg}}
	var b bytes.Buffer
	writeRestore(&b, results, false, 120)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "https://api.aliyun.com/troubleshoot?q=Forbidden.RAM&product=Ecs&requestId=5E0C") ||
		!strings.Contains(lines[1], "operate on the specified resource. request id") {
		t.Errorf("want header, one row, summary:\n%s", b.String())
	}
}
