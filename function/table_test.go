package main

import (
	"bytes"
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
