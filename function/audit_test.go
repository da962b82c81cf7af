package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// The sample groups (events/groups.json, all in cn-hangzhou) whose
// attributes the audit must never read, and its risky rules.
const (
	sampleManaged = "sg-bp1managed000000000004"
	sampleExempt  = "sg-bp1exempt0000000000005"
)

var sampleRisky = []string{
	"sgr-bp1web00000000000ssh", "sgr-bp1web00000000000rdp", "sgr-bp1db00000000mysqlany",
	"sgr-bp1ipv6000000000ssh6", "sgr-bp1stale0000000range",
}

// beijingGroups are two more groups in a second region: one risky, one clean.
func beijingGroups() []cloudtest.Group {
	return []cloudtest.Group{
		{SecurityGroupId: "sg-2zebj0000000000000001", RegionId: "cn-beijing", Permissions: []cloudtest.Rule{
			{SecurityGroupRuleId: "sgr-2zebjrdp", IpProtocol: "TCP", PortRange: "3000/4000", SourceCidrIp: "0.0.0.0/0"},
			{SecurityGroupRuleId: "sgr-2zebjweb", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0"},
		}},
		{SecurityGroupId: "sg-2zebj0000000000000002", RegionId: "cn-beijing", Permissions: []cloudtest.Rule{
			{SecurityGroupRuleId: "sgr-2zebjvpc", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"},
		}},
	}
}

// auditEmulator is the sample groups plus beijingGroups, and the
// environment pointing the command line at it.
func auditEmulator(t *testing.T) (*cloudtest.Server, env) {
	t.Helper()
	srv := newEmulator(t, cloudtest.Options{})
	if err := srv.AddGroups(beijingGroups()...); err != nil {
		t.Fatal(err)
	}
	return srv, cloudEnv(srv).with("STS_ENDPOINT=" + srv.URL())
}

// jsonLines decodes --json output by line type.
func jsonLines(t *testing.T, out string) map[string][]map[string]any {
	t.Helper()
	lines := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		typ, _ := m["type"].(string)
		lines[typ] = append(lines[typ], m)
	}
	return lines
}

func ruleIDs(lines []map[string]any, status string) []string {
	var out []string
	for _, l := range lines {
		if l["status"] == status {
			out = append(out, l["ruleId"].(string))
		}
	}
	slices.Sort(out)
	return out
}

// hasRow reports whether a line of out starts with these fields.
func hasRow(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func assertNoWrite(t *testing.T, srv *cloudtest.Server) {
	t.Helper()
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c.Action, "Describe") && c.Action != "GetCallerIdentity" {
			t.Errorf("the audit made a %s call", c.Action)
		}
	}
}

func TestAuditTwoRegionsTable(t *testing.T) {
	srv, e := auditEmulator(t)
	r := runCLI(t, e, "", "audit", "--region", "cn-hangzhou,cn-beijing")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want 1 (risky rules)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"REGION", "GROUP", "RULE", "PROTOCOL", "PORTS", "SOURCE", "STATUS", "REASON", "RISKY RULES", "FOUND: 6 risky rules in 5 groups (nothing changed)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q\n%s", want, r.stdout)
		}
	}
	for _, row := range [][]string{
		{"cn-hangzhou", "sg-bp1web00000000000001", "sgr-bp1web00000000000ssh", "tcp", "22/22", "0.0.0.0/0", "risky", "exposes", "22/tcp", "to", "0.0.0.0/0"},
		{"cn-hangzhou", "sg-bp1web00000000000001", "sgr-bp1web00000000000rdp", "tcp", "3389/3389", "0.0.0.0/0", "risky"},
		{"cn-hangzhou", "sg-bp1ipv6000000000000006", "sgr-bp1ipv6000000000ssh6", "tcp", "22/22", "::/0", "risky"},
		{"cn-beijing", "sg-2zebj0000000000000001", "sgr-2zebjrdp", "tcp", "3000/4000", "0.0.0.0/0", "risky", "exposes", "3306/tcp,", "3389/tcp", "to", "0.0.0.0/0"},
		{"cn-hangzhou", sampleManaged, "-", "-", "-", "-", "skipped", "managed", "security", "group", "(ServiceManaged)"},
		{"cn-hangzhou", sampleExempt, "-", "-", "-", "-", "skipped", "exempt:", "carries", "tag", "sg-remediation=exempt"},
	} {
		if !hasRow(r.stdout, row...) {
			t.Errorf("no row %v\n%s", row, r.stdout)
		}
	}
	if hasRow(r.stdout, "cn-hangzhou", "sg-bp1drop00000000000003") || hasRow(r.stdout, "cn-beijing", "sg-2zebj0000000000000002") {
		t.Errorf("a group without finding has a row\n%s", r.stdout)
	}
	// The summary rows: groups, read, skipped, unreadable, risky, excepted, unreadable rules.
	for _, want := range [][]string{
		{"cn-hangzhou", "7", "5", "2", "0", "5", "0", "0"},
		{"cn-beijing", "2", "2", "0", "0", "1", "0", "0"},
		{"total", "9", "7", "2", "0", "6", "0", "0"},
	} {
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			if slices.Equal(strings.Fields(line), want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no summary row %v\n%s", want, r.stdout)
		}
	}
	for _, c := range srv.Calls() {
		if c.Action == "DescribeSecurityGroupAttribute" {
			if id := c.Params.Get("SecurityGroupId"); id == sampleManaged || id == sampleExempt {
				t.Errorf("the attributes of %s were read", id)
			}
		}
		if c.Action == "DescribeRegions" || c.Action == "GetCallerIdentity" {
			t.Errorf("a %s call without --all-regions / --event-out", c.Action)
		}
	}
	if n := srv.CallCount("DescribeSecurityGroupAttribute"); n != 7 {
		t.Errorf("%d attribute reads, want 7 (9 groups less the managed and the exempt one)", n)
	}
	assertNoWrite(t, srv)
}

func TestAuditAllRegionsJSON(t *testing.T) {
	srv, e := auditEmulator(t)
	srv.SetRegions("ap-southeast-1")
	r := runCLI(t, e, "", "audit", "--all-regions", "--json")
	if r.code != exitFailed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := jsonLines(t, r.stdout)
	var regions []string
	for _, l := range lines["region"] {
		regions = append(regions, l["regionId"].(string))
	}
	if want := []string{"ap-southeast-1", "cn-beijing", "cn-hangzhou"}; !slices.Equal(regions, want) {
		t.Errorf("regions %v, want %v", regions, want)
	}
	if got, want := ruleIDs(lines["rule"], "risky"), sortedCopy(append(slices.Clone(sampleRisky), "sgr-2zebjrdp")); !slices.Equal(got, want) {
		t.Errorf("risky %v, want %v", got, want)
	}
	var skipped []string
	for _, l := range lines["group"] {
		if l["status"] == "skipped" {
			skipped = append(skipped, l["groupId"].(string))
		}
	}
	if want := []string{sampleExempt, sampleManaged}; !slices.Equal(skipped, want) { // by group id
		t.Errorf("skipped groups %v, want %v", skipped, want)
	}
	if tot := lines["total"]; len(tot) != 1 || tot[0]["clean"] != false || tot[0]["groups"] != 9.0 || tot[0]["risky"] != 6.0 {
		t.Errorf("total %v", tot)
	}
	if n := srv.CallCount("DescribeRegions"); n != 1 {
		t.Errorf("%d DescribeRegions calls", n)
	}
	assertNoWrite(t, srv)
}

func TestAuditNothingRiskyExit0(t *testing.T) {
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroups(beijingGroups()[1]); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "findings.json")
	r := runCLI(t, cloudEnv(srv).with("STS_ENDPOINT="+srv.URL()), "", "audit", "--region", "cn-beijing", "--event-out", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "OK: 1 groups in 1 regions") || strings.Contains(r.stdout, "STATUS") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) || !strings.Contains(r.stderr, "not written") {
		t.Errorf("event file with nothing risky: %v\nstderr:\n%s", err, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// An excepted rule is shown as excepted and is not risky; the event names
// the risky groups, and replay --live --apply on it revokes exactly the
// risky rules the audit found. A second audit then finds nothing.
func TestAuditEventOutThenReplayApply(t *testing.T) {
	srv, e := auditEmulator(t)
	until := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)
	e = e.with(`EXCEPTIONS=[{"group":"sg-bp1web00000000000001","rule":"sgr-bp1web00000000000rdp","until":"` + until + `","owner":"carol","reason":"build box until the VPN is up"}]`)
	path := filepath.Join(t.TempDir(), "findings.json")
	r := runCLI(t, e, "", "audit", "--region", "cn-hangzhou,cn-beijing", "--json", "--event-out", path)
	if r.code != exitFailed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := jsonLines(t, r.stdout)
	risky := ruleIDs(lines["rule"], "risky")
	if want := sortedCopy([]string{"sgr-bp1web00000000000ssh", "sgr-bp1db00000000mysqlany", "sgr-bp1ipv6000000000ssh6", "sgr-bp1stale0000000range", "sgr-2zebjrdp"}); !slices.Equal(risky, want) {
		t.Errorf("risky %v, want %v", risky, want)
	}
	if got := ruleIDs(lines["rule"], "excepted"); !slices.Equal(got, []string{"sgr-bp1web00000000000rdp"}) {
		t.Errorf("excepted %v", got)
	}
	if n := srv.CallCount("GetCallerIdentity"); n != 1 {
		t.Errorf("%d GetCallerIdentity calls", n)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, r.stderr)
	}
	event, err := remediation.DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, res := range event {
		if res.AccountID != cloudtest.DefaultAccountID || res.ResourceType != remediation.SecurityGroupType {
			t.Errorf("event resource %+v", res)
		}
		named = append(named, res.RegionID+"/"+res.ResourceID)
	}
	want := []string{"cn-hangzhou/sg-bp1web00000000000001", "cn-hangzhou/sg-bp1db000000000000002", "cn-hangzhou/sg-bp1ipv6000000000000006",
		"cn-hangzhou/sg-bp1stale00000000000007", "cn-beijing/sg-2zebj0000000000000001"}
	if !slices.Equal(sortedCopy(named), sortedCopy(want)) {
		t.Errorf("event names %v, want %v", named, want)
	}
	assertNoWrite(t, srv)

	before := allRuleIDs(t, srv)
	srv.ResetCalls()
	rp := runCLI(t, e, "", "replay", "--live", "--apply", path, "--log", filepath.Join(t.TempDir(), "log"))
	if rp.code != exitOK {
		t.Fatalf("replay: exit %d\nstdout:\n%s\nstderr:\n%s", rp.code, rp.stdout, rp.stderr)
	}
	after := allRuleIDs(t, srv)
	var revoked []string
	for id := range before {
		if !after[id] {
			revoked = append(revoked, id)
		}
	}
	slices.Sort(revoked)
	if !slices.Equal(revoked, risky) {
		t.Errorf("replay revoked %v, the audit found %v", revoked, risky)
	}

	r2 := runCLI(t, e, "", "audit", "--region", "cn-hangzhou,cn-beijing")
	if r2.code != exitOK || !strings.Contains(r2.stdout, "excepted") || !strings.Contains(r2.stdout, "OK:") {
		t.Errorf("second audit: exit %d\nstdout:\n%s\nstderr:\n%s", r2.code, r2.stdout, r2.stderr)
	}
}

// allRuleIDs returns the live rule IDs of every group of the emulator.
func allRuleIDs(t *testing.T, srv *cloudtest.Server) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range append(sampleGroupIDs(t), beijingGroups()...) {
		live, ok := srv.Group(g.RegionId, g.SecurityGroupId)
		if !ok {
			t.Fatalf("group %s is gone", g.SecurityGroupId)
		}
		for _, r := range live.Permissions {
			out[r.SecurityGroupRuleId] = true
		}
	}
	return out
}

func sampleGroupIDs(t *testing.T) []cloudtest.Group {
	t.Helper()
	data, err := os.ReadFile(groupsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Groups []cloudtest.Group }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Groups
}

func TestAuditPagingPast100(t *testing.T) {
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroups(cloudtest.GenerateGroups(230, []string{"cn-shanghai"}, nil)...); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, cloudEnv(srv), "", "audit", "--region", "cn-shanghai", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	reg := jsonLines(t, r.stdout)["region"]
	if len(reg) != 1 || reg[0]["groups"] != 230.0 || reg[0]["read"] != 230.0 {
		t.Errorf("region %v", reg)
	}
	if n := srv.CallCount("DescribeSecurityGroups"); n != 3 {
		t.Errorf("%d DescribeSecurityGroups calls, want 3 pages of at most 100", n)
	}
	if n := srv.CallCount("DescribeSecurityGroupAttribute"); n != 230 {
		t.Errorf("%d attribute reads, want 230", n)
	}
}

func TestAuditThrottledCLI(t *testing.T) {
	srv, e := auditEmulator(t)
	srv.FailNext("DescribeSecurityGroups", 2, 400, "Throttling.User")
	srv.FailNext("DescribeSecurityGroupAttribute", 3, 429, "Throttling")
	r := runCLI(t, e, "", "audit", "--region", "cn-hangzhou,cn-beijing", "--json")
	lines := jsonLines(t, r.stdout)
	if r.code != exitFailed || len(lines["total"]) != 1 || lines["total"][0]["failed"] != 0.0 || lines["total"][0]["risky"] != 6.0 {
		t.Errorf("exit %d, total %v\nstderr:\n%s", r.code, lines["total"], r.stderr)
	}
	for _, l := range lines["region"] {
		if l["error"] != nil {
			t.Errorf("region %v", l)
		}
	}
}

func TestAuditUnreadableGroupCLI(t *testing.T) {
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroups(cloudtest.GenerateGroups(5, []string{"cn-hangzhou"}, nil)...); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("DescribeSecurityGroupAttribute", 1, 403, "Forbidden.RAM")
	r := runCLI(t, cloudEnv(srv), "", "audit", "--region", "cn-hangzhou")
	var denied string
	for _, c := range srv.Calls() {
		if c.Code == "Forbidden.RAM" {
			denied = c.Params.Get("SecurityGroupId")
		}
	}
	if r.code != exitFailed || denied == "" || !strings.Contains(r.stdout, "FOUND: 1 groups that could not be read") {
		t.Fatalf("exit %d, denied %q\nstdout:\n%s\nstderr:\n%s", r.code, denied, r.stdout, r.stderr)
	}
	if !hasRow(r.stdout, "cn-hangzhou", denied, "-", "-", "-", "-", "unreadable") || !strings.Contains(r.stdout, "Forbidden.RAM") {
		t.Errorf("no unreadable row for %s naming the error\n%s", denied, r.stdout)
	}
}

// A rule whose port range cannot be read is a finding: listed as
// unreadable, exit 1, and not in the event (the remediation would fail it).
func TestAuditUnreadableRangeCLI(t *testing.T) {
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.AddGroups(cloudtest.Group{SecurityGroupId: "sg-odd", RegionId: "cn-hangzhou", Permissions: []cloudtest.Rule{
		{SecurityGroupRuleId: "sgr-odd", IpProtocol: "TCP", PortRange: "22", SourceCidrIp: "0.0.0.0/0"},
	}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "findings.json")
	r := runCLI(t, cloudEnv(srv).with("STS_ENDPOINT="+srv.URL()), "", "audit", "--region", "cn-hangzhou", "--json", "--event-out", path)
	lines := jsonLines(t, r.stdout)
	if r.code != exitFailed || !slices.Equal(ruleIDs(lines["rule"], "unreadable"), []string{"sgr-odd"}) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("event written for an unreadable rule only: %v", err)
	}
}

func TestAuditProgress(t *testing.T) {
	old := stderrIsTerminal
	stderrIsTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { stderrIsTerminal = old })
	srv, e := auditEmulator(t)
	_ = srv
	r := runCLI(t, e, "", "audit", "--region", "cn-hangzhou,cn-beijing")
	if !strings.HasPrefix(r.stderr, "\raudit: ") || !strings.HasSuffix(r.stderr, "\raudit: 9/9 groups read\n") {
		t.Errorf("stderr %q", r.stderr)
	}
	if strings.Contains(r.stdout, "\r") {
		t.Error("progress on stdout")
	}
	stderrIsTerminal = old
	if r := runCLI(t, e, "", "audit", "--region", "cn-hangzhou"); strings.Contains(r.stderr, "audit: ") {
		t.Errorf("progress when stderr is not a terminal: %q", r.stderr)
	}
}

// Usage errors: exit 2 and not a single call.
func TestAuditUsageNoCall(t *testing.T) {
	srv, e := auditEmulator(t)
	for _, tc := range []struct {
		env  env
		args []string
		want string
	}{
		{e, nil, "give --region R[,R...] or --all-regions"},
		{e, []string{"--region", "cn-hangzhou", "--all-regions"}, "not both"},
		{e, []string{"--region", "cn-hangzhou,,cn-beijing"}, "empty region"},
		{e, []string{"--region", "CN Hangzhou"}, "not a region id"},
		{e, []string{"--region", "cn-hangzhou", "extra"}, `unexpected argument "extra"`},
		{e, []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{e.with("RISKY_PORTS=ssh"), []string{"--region", "cn-hangzhou"}, "RISKY_PORTS"},
		{e.with("MAX_CONCURRENCY=0"), []string{"--all-regions"}, "MAX_CONCURRENCY"},
		{e.with("ALIBABA_CLOUD_ACCESS_KEY_SECRET="), []string{"--region", "cn-hangzhou"}, "set both"},
		{e, []string{"--region", "cn-hangzhou", "--event-out", filepath.Join(t.TempDir(), "missing", "f.json")}, "--event-out"},
		{e, []string{"--region", "cn-hangzhou", "--event-out", t.TempDir()}, "is a directory"},
	} {
		srv.ResetCalls()
		r := runCLI(t, tc.env, "", append([]string{"audit"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
		if n := srv.CallCount(""); n != 0 {
			t.Errorf("%v: %d calls on a usage error", tc.args, n)
		}
	}
	if r := runCLI(t, e, "", "audit", "--help"); r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: "+progName+" audit") || !strings.Contains(r.stdout, "-event-out") {
		t.Errorf("--help: exit %d\n%s", r.code, r.stdout)
	}
}

func TestParseRegions(t *testing.T) {
	got, err := parseRegions(" cn-hangzhou, cn-beijing ,cn-hangzhou")
	if err != nil || !reflect.DeepEqual(got, []string{"cn-hangzhou", "cn-beijing"}) {
		t.Errorf("%v %v", got, err)
	}
}

// When the account or the region list cannot be learned, nothing is read:
// exit 1, the error named, not a single listing call.
func TestAuditFailsBeforeReading(t *testing.T) {
	for _, tc := range []struct {
		action string
		args   []string
	}{
		{"GetCallerIdentity", []string{"--region", "cn-hangzhou", "--event-out", filepath.Join(t.TempDir(), "f.json")}},
		{"DescribeRegions", []string{"--all-regions"}},
	} {
		srv, e := auditEmulator(t)
		srv.FailNext(tc.action, 1, 403, "Forbidden.RAM")
		r := runCLI(t, e, "", append([]string{"audit"}, tc.args...)...)
		if r.code != exitFailed || !strings.Contains(r.stderr, "nothing read") || !strings.Contains(r.stderr, tc.action) || !strings.Contains(r.stderr, "Forbidden.RAM") {
			t.Errorf("%s refused: exit %d\nstdout:\n%s\nstderr:\n%s", tc.action, r.code, r.stdout, r.stderr)
		}
		if n := srv.CallCount("DescribeSecurityGroups") + srv.CallCount("DescribeSecurityGroupAttribute"); n != 0 {
			t.Errorf("%s refused: %d reads made", tc.action, n)
		}
	}
}
