package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// Sample groups (events/groups.json).
const (
	webGroup     = "sg-bp1web00000000000001"
	dbGroup      = "sg-bp1db000000000000002"
	dropGroup    = "sg-bp1drop00000000000003"
	managedGroup = "sg-bp1managed000000000004"
	exemptGroup  = "sg-bp1exempt0000000000005"
	ipv6Group    = "sg-bp1ipv6000000000000006"
	staleGroup   = "sg-bp1stale00000000000007"
)

// groupWant is the expected result of replaying a sample group: its outcome
// and the action on each rule of the report (rule ID -> action).
type groupWant struct {
	outcome remediation.Outcome
	rules   map[string]string
}

var sampleGroups = map[string]groupWant{
	webGroup: {remediation.Revoked, map[string]string{
		"sgr-bp1web0000000000http": "kept", "sgr-bp1web000000000https": "kept",
		"sgr-bp1web00000000000ssh": "revoked", "sgr-bp1web00000000000rdp": "revoked"}},
	dbGroup: {remediation.Revoked, map[string]string{"sgr-bp1db00000000mysqlany": "revoked"}},
	dropGroup: {remediation.Compliant, map[string]string{
		"sgr-bp1drop0000000accept22": "kept", "sgr-bp1drop00000000drop22": "kept"}},
	managedGroup: {remediation.Skipped, nil},
	exemptGroup:  {remediation.Skipped, nil},
	ipv6Group: {remediation.Revoked, map[string]string{
		"sgr-bp1ipv6000000000ssh6": "revoked", "sgr-bp1ipv600000000https6": "kept"}},
	staleGroup: {remediation.Revoked, map[string]string{
		"sgr-bp1stale000000000ssh": "gone", "sgr-bp1stale0000000range": "revoked"}},
}

// sampleEvents lists the groups of every sample event, in event order.
var sampleEvents = map[string][]string{
	"web-ssh-rdp.json":    {webGroup},
	"database-mysql.json": {dbGroup},
	"drop-protected.json": {dropGroup},
	"managed-group.json":  {managedGroup},
	"exempt-group.json":   {exemptGroup},
	"ipv6.json":           {ipv6Group},
	"stale-snapshot.json": {staleGroup},
	"double-encoded.json": {webGroup, ipv6Group},
	"all-samples.json":    {webGroup, dbGroup, dropGroup, managedGroup, exemptGroup, ipv6Group, staleGroup},
}

// evaluationEvents are the custom rule's sample events (section 9) and the
// verdict each must get.
var evaluationEvents = map[string]string{
	"evaluation-web.json":            remediation.NonCompliant,
	"evaluation-drop-protected.json": remediation.IsCompliant,  // invokingEvent as a JSON string
	"evaluation-oversize.json":       remediation.NonCompliant, // read from Config: the IPv6 group
}

// TestSampleEventsListed makes sure that every event file in events/ has
// its expectations here, and every sample group is in all-samples.json.
func TestSampleEventsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if b := filepath.Base(f); b != "groups.json" {
			names = append(names, b)
		}
	}
	want := slices.Sorted(maps.Keys(sampleEvents))
	want = slices.Sorted(slices.Values(append(want, slices.Collect(maps.Keys(evaluationEvents))...)))
	if got := names; !slices.Equal(got, want) {
		t.Errorf("event files %v, expectations for %v", got, want)
	}
	var fx struct{ Groups []cloudtest.Group }
	data, err := os.ReadFile(groupsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range fx.Groups {
		ids = append(ids, g.SecurityGroupId)
	}
	if got, want := ids, sampleEvents["all-samples.json"]; !slices.Equal(got, want) {
		t.Errorf("groups.json holds %v; all-samples.json lists %v", got, want)
	}
	if got, want := slices.Sorted(slices.Values(ids)), slices.Sorted(maps.Keys(sampleGroups)); !slices.Equal(got, want) {
		t.Errorf("groups.json holds %v; expectations for %v", got, want)
	}
}

// configShape re-encodes resources; Resource.MarshalJSON writes them as
// Cloud Config sends them (the unknown fields beside the known ones).
func configShape(t *testing.T, resources []remediation.Resource) []byte {
	t.Helper()
	b, err := json.Marshal(resources)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeFile(t *testing.T, name string) []remediation.Resource {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := remediation.DecodeEvent(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func TestSampleEventsDecode(t *testing.T) {
	for name, groups := range sampleEvents {
		t.Run(name, func(t *testing.T) {
			res := decodeFile(t, name)
			var ids []string
			for _, r := range res {
				ids = append(ids, r.ResourceID)
				if r.RegionID != "cn-hangzhou" || r.AccountID != "1234567890123456" || r.ResourceType != remediation.SecurityGroupType {
					t.Errorf("resource %+v", r)
				}
				for _, k := range []string{"configRuleId", "configRuleName", "complianceType"} {
					if _, ok := r.Extra[k]; !ok {
						t.Errorf("%s: unknown field %s not kept", r.ResourceID, k)
					}
				}
			}
			if !slices.Equal(ids, groups) {
				t.Errorf("resources %v, want %v", ids, groups)
			}
			// Round trip: decode -> re-encode -> decode.
			again, err := remediation.DecodeEvent(configShape(t, res))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, res) {
				t.Errorf("round trip:\n got %+v\nwant %+v", again, res)
			}
		})
	}
	// The double-encoded event is a JSON string holding an array.
	data, err := os.ReadFile(filepath.Join(eventsDir, "double-encoded.json"))
	if err != nil {
		t.Fatal(err)
	}
	var inner string
	if err := json.Unmarshal(data, &inner); err != nil || !strings.HasPrefix(inner, "[") {
		t.Fatalf("double-encoded.json is not a JSON string holding an array: %v", err)
	}
	// The database event is a single object, not an array.
	data, err = os.ReadFile(filepath.Join(eventsDir, "database-mysql.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
		t.Error("database-mysql.json should be a single object")
	}
}

// originalLive returns the live rule IDs of every sample group as loaded.
func originalLive(t *testing.T) map[string]map[string]bool {
	t.Helper()
	s := newEmulator(t, cloudtest.Options{})
	out := map[string]map[string]bool{}
	for id := range sampleGroups {
		out[id] = liveIDs(t, s, id)
	}
	return out
}

func TestReplaySamples(t *testing.T) {
	orig := originalLive(t)
	for name, groups := range sampleEvents {
		for _, dry := range []bool{false, true} {
			tname := name
			if dry {
				tname += "/dry-run"
			}
			t.Run(tname, func(t *testing.T) {
				t.Parallel()
				e := env{}
				if dry {
					e = e.with("DRY_RUN=true")
				}
				var calls map[string]int
				var live map[string]map[string]bool
				hook := func(s *cloudtest.Server) {
					calls = map[string]int{}
					for _, a := range []string{"GetDiscoveredResource", "DescribeSecurityGroupAttribute", "RevokeSecurityGroup", "AuthorizeSecurityGroup"} {
						calls[a] = s.CallCount(a)
					}
					live = map[string]map[string]bool{}
					for id := range sampleGroups {
						live[id] = liveIDs(t, s, id)
					}
				}
				r := runCLIHook(t, e, "", hook, "replay", "--json", filepath.Join(eventsDir, name))
				if r.code != exitOK {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
				}
				if !strings.Contains(r.stderr, "OFFLINE") {
					t.Errorf("no OFFLINE banner on stderr:\n%s", r.stderr)
				}
				var rep remediation.Report
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
				}
				if rep.DryRun != dry {
					t.Errorf("dryRun %v", rep.DryRun)
				}
				var got []string
				revokedRules, candidateGroups, revokedGroups := 0, 0, 0
				for _, res := range rep.Resources {
					got = append(got, res.ResourceID)
					want := sampleGroups[res.ResourceID]
					wantOutcome, wantRules := want.outcome, maps.Clone(want.rules)
					if dry && wantOutcome == remediation.Revoked {
						wantOutcome = remediation.WouldRevoke
					}
					for id, a := range wantRules {
						if dry && a == "revoked" {
							wantRules[id] = "would-revoke"
						}
					}
					if res.Outcome != wantOutcome {
						t.Errorf("%s: outcome %s (%s), want %s", res.ResourceID, res.Outcome, res.Reason, wantOutcome)
					}
					gotRules := map[string]string{}
					for _, rr := range res.Rules {
						gotRules[rr.RuleID] = rr.Action
					}
					if len(gotRules) == 0 {
						gotRules = nil
					}
					if !maps.Equal(gotRules, wantRules) {
						t.Errorf("%s: rules %v, want %v", res.ResourceID, gotRules, wantRules)
					}
					if res.Reason == "" && res.Outcome != remediation.Compliant {
						t.Errorf("%s: no reason", res.ResourceID)
					}
					// The live group: revoked rules gone, every other rule kept.
					wantLive := maps.Clone(orig[res.ResourceID])
					for id, a := range want.rules {
						if a == "revoked" && !dry {
							delete(wantLive, id)
						}
					}
					if !maps.Equal(live[res.ResourceID], wantLive) {
						t.Errorf("%s: live rules %v, want %v", res.ResourceID, slices.Sorted(maps.Keys(live[res.ResourceID])), slices.Sorted(maps.Keys(wantLive)))
					}
					n := 0
					for _, a := range want.rules {
						if a == "revoked" {
							n++
						}
					}
					if n > 0 {
						revokedGroups++
						revokedRules += n
					}
					if want.outcome == remediation.Revoked {
						candidateGroups++
					}
				}
				if !slices.Equal(got, groups) {
					t.Errorf("report resources %v, want %v", got, groups)
				}
				if rep.Summary[remediation.Failed] != 0 {
					t.Errorf("summary %v", rep.Summary)
				}
				// Call budget: one Config call per group; ECS only for groups
				// with candidates; one revoke per group with risky rules.
				wantRevokes := revokedGroups
				backups := backupLines(t, r.stderr)
				wantBackups := revokedRules
				if dry {
					wantRevokes, wantBackups = 0, 0
				}
				if calls["GetDiscoveredResource"] != len(groups) || calls["DescribeSecurityGroupAttribute"] != candidateGroups ||
					calls["RevokeSecurityGroup"] != wantRevokes || calls["AuthorizeSecurityGroup"] != 0 {
					t.Errorf("calls %v; want %d GetDiscoveredResource, %d Describe, %d Revoke", calls, len(groups), candidateGroups, wantRevokes)
				}
				if len(backups) != wantBackups {
					t.Errorf("%d backup lines in the log, want %d:\n%s", len(backups), wantBackups, r.stderr)
				}
				for _, b := range backups {
					if sampleGroups[b.GroupID].rules[b.Rule.SecurityGroupRuleId] != "revoked" || b.Region != "cn-hangzhou" {
						t.Errorf("unexpected backup %+v", b)
					}
				}
			})
		}
	}
}

// TestReplayTable checks the human output of the default replay.
func TestReplayTable(t *testing.T) {
	r := runCLI(t, env{}, "", "replay", filepath.Join(eventsDir, "all-samples.json"), "--log", filepath.Join(t.TempDir(), "log.jsonl"))
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for _, col := range []string{"GROUP", "RULE", "PORTS", "SOURCE", "DECISION", "REASON"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > tableWidth {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	if got, want := lines[len(lines)-1], "7 groups: 4 revoked (5 rules), 1 compliant, 2 skipped, 0 failed"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// Rows, by their cells (the column widths depend on the content).
	var rows []string
	for _, l := range lines {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	table := strings.Join(rows, "\n")
	for _, want := range []string{
		"sg-bp1web00000000000001 sgr-bp1web0000000000http tcp 80/80 0.0.0.0/0 kept port range",
		"sgr-bp1web00000000000ssh tcp 22/22 0.0.0.0/0 revoked exposes 22/tcp to 0.0.0.0/0",
		"sg-bp1managed000000000004 - - - skipped managed security group",
		"sgr-bp1ipv6000000000ssh6 tcp 22/22 ::/0 revoked exposes 22/tcp to ::/0",
		"sgr-bp1stale000000000ssh - - gone no longer in the live group",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stderr, `"msg"`) {
		t.Errorf("log lines on stderr despite --log:\n%s", r.stderr)
	}
}
