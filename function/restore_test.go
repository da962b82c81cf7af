package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// TestRestore revokes the sample groups' risky rules with a replay, then
// restores them from the backup lines of its log.
func TestRestore(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	e := cloudEnv(emu)
	before := map[string][]string{}
	for id := range sampleGroups {
		g, _ := emu.Group("cn-hangzhou", id)
		before[id] = ruleKeys(g.Permissions)
	}
	same := func() []string {
		var differ []string
		for id := range sampleGroups {
			g, _ := emu.Group("cn-hangzhou", id)
			if !slices.Equal(ruleKeys(g.Permissions), before[id]) {
				differ = append(differ, id)
			}
		}
		slices.Sort(differ)
		return differ
	}

	r := runCLI(t, e, "", "replay", "--live", "--apply", filepath.Join(eventsDir, "all-samples.json"))
	if r.code != exitOK {
		t.Fatalf("replay: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	log := r.stderr // the banner, then the function's JSON lines
	if n := len(backupLines(t, log)); n != 5 {
		t.Fatalf("%d backup lines, want 5:\n%s", n, log)
	}
	if got, want := same(), []string{dbGroup, ipv6Group, staleGroup, webGroup}; !slices.Equal(got, want) {
		t.Fatalf("groups changed by the replay: %v, want %v", got, want)
	}
	logFile := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(logFile, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}

	// A dry run creates nothing.
	emu.ResetCalls()
	r = runCLI(t, e, "", "restore", "--dry-run", logFile)
	if r.code != exitOK || !strings.Contains(r.stdout, "5 rules: 5 would-create, 0 already exist, 0 failed (dry run: nothing changed)") {
		t.Fatalf("restore --dry-run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := emu.CallCount("AuthorizeSecurityGroup"); n != 0 {
		t.Errorf("%d AuthorizeSecurityGroup calls in a dry run", n)
	}

	// The restore re-creates the rules: every group is as before (by
	// attributes; the new rules have new IDs).
	r = runCLI(t, e, log, "restore", "-", "--log", filepath.Join(t.TempDir(), "restore.log"))
	if r.code != exitOK || !strings.Contains(r.stdout, "5 rules: 5 created, 0 already exist, 0 failed") {
		t.Fatalf("restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if differ := same(); len(differ) != 0 {
		for _, id := range differ {
			g, _ := emu.Group("cn-hangzhou", id)
			t.Errorf("%s after restore:\n%s\nwant\n%s", id, strings.Join(ruleKeys(g.Permissions), "\n"), strings.Join(before[id], "\n"))
		}
	}
	if strings.Contains(r.stderr, `"msg"`) {
		t.Errorf("log lines on stderr despite --log:\n%s", r.stderr)
	}

	// A second restore changes nothing: no AuthorizeSecurityGroup call. The
	// log here is wrapped as Log Service exports it.
	var export strings.Builder
	for _, line := range strings.Split(log, "\n") {
		b, _ := json.Marshal(map[string]string{"__time__": "1764072000", "content": line})
		fmt.Fprintf(&export, "2026-11-25 12:00:00\t%s\n", b)
	}
	emu.ResetCalls()
	r = runCLI(t, e, export.String(), "restore", "--json", "-")
	var results []remediation.RestoreResult
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &results) != nil || len(results) != 5 {
		t.Fatalf("second restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range results {
		if res.Action != "exists" {
			t.Errorf("second restore: %+v", res)
		}
	}
	if n := emu.CallCount("AuthorizeSecurityGroup"); n != 0 {
		t.Errorf("%d AuthorizeSecurityGroup calls in the second restore", n)
	}
	if differ := same(); len(differ) != 0 {
		t.Errorf("groups changed by the second restore: %v", differ)
	}
}

func TestRestoreErrors(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	e := cloudEnv(emu)
	backup := `{"time":"2026-11-25T12:00:00Z","level":"INFO","msg":"rule backup","backup":{"groupId":"sg-bp1web00000000000001","regionId":"cn-hangzhou","rule":{"SecurityGroupRuleId":"sgr-x","Direction":"ingress","Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"8080/8080","SourceCidrIp":"0.0.0.0/0","SourcePortRange":"-1/-1","NicType":"intranet","Description":"x"}}}`

	// An invalid setting: exit 2 before any call.
	r := runCLI(t, e.with("ECS_ENDPOINT=ftp://x"), backup, "restore", "-")
	if r.code != exitUsage || !strings.Contains(r.stderr, "ECS_ENDPOINT") || emu.CallCount("") != 0 {
		t.Errorf("exit %d, %d calls\n%s", r.code, emu.CallCount(""), r.stderr)
	}
	// No backup record: exit 1, nothing called.
	r = runCLI(t, e, `{"msg":"resource"}`+"\nplain text\n", "restore", "-")
	if r.code != exitFailed || !strings.Contains(r.stderr, "no backup record") || emu.CallCount("") != 0 {
		t.Errorf("exit %d, %d calls\n%s", r.code, emu.CallCount(""), r.stderr)
	}
	// A missing file.
	r = runCLI(t, e, "", "restore", filepath.Join(t.TempDir(), "missing.jsonl"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	// The API refuses: exit 1, the table and the error name the group.
	emu.FailNext("AuthorizeSecurityGroup", 1, 403, "Forbidden.RAM")
	r = runCLI(t, e, backup, "restore", "-")
	if r.code != exitFailed || !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stderr, "Forbidden.RAM") || !strings.Contains(r.stderr, webGroup) {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The failure is logged at ERROR with its error, the row is one line.
	var logged struct{ Level, Msg, Action, Error string }
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, `"msg":"restore"`) {
			if err := json.Unmarshal([]byte(line), &logged); err != nil {
				t.Fatal(err)
			}
		}
	}
	if logged.Level != "ERROR" || logged.Action != "failed" || !strings.Contains(logged.Error, "Forbidden.RAM") {
		t.Errorf("restore log line %+v\n%s", logged, r.stderr)
	}
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Errorf("%d lines, want header, one row, summary:\n%s", n, r.stdout)
	}
	// A successful one is INFO.
	r = runCLI(t, e, backup, "restore", "-")
	if r.code != exitOK || !strings.Contains(r.stderr, `"level":"INFO","msg":"restore"`) || strings.Contains(r.stderr, "ERROR") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// No credentials: one line that says what to do, not the SDK chain's
	// text; the dry run of a replay's log needs them too (the emulator
	// gives some).
	r = runCLI(t, env{}, backup, "restore", "--dry-run", "-")
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID") ||
		!strings.Contains(r.stderr, progName+" emulator") || strings.Contains(r.stderr, "enviroment") || strings.Contains(r.stderr, "fileopen") {
		t.Errorf("no credentials: exit %d\n%s", r.code, r.stderr)
	}
	// Flags after the file work too (the rule exists since the restore
	// above).
	r = runCLI(t, e, backup, "restore", "-", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "1 rule: 0 would-create, 1 already exist") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
