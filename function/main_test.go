package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

var webEvent = filepath.Join(eventsDir, "web-ssh-rdp.json")

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := runCLI(t, env{}, "", args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "replay [flags] EVENT.json") || !strings.Contains(r.stdout, "restore [flags] BACKUP.jsonl") || r.stderr != "" {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
	for _, cmd := range []string{"replay", "restore", "pin"} {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			r := runCLI(t, env{}, "", args...)
			if r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: "+progName+" "+cmd) || !strings.Contains(r.stdout, "-dry-run") || r.stderr != "" {
				t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// help lists every command with every flag, the settings from the
// settings table, under one program name.
func TestHelpListsFlags(t *testing.T) {
	r := runCLI(t, env{}, "", "help")
	for _, want := range []string{
		progName + " replay [flags] EVENT.json", "--live:", "--apply:", "--groups string:", "--timeout duration:",
		progName + " restore [flags] BACKUP.jsonl", "--dry-run:",
		progName + " pin [flags] --region R --group sg-...", "--port int:", "--ip-from string:", "--protocol string:",
		progName + " emulator [flags]", "--listen string:", "--quiet:",
		strings.TrimSpace(remediation.SettingsUsage()),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, cmd := range commands {
		if !strings.Contains(r.stdout, progName+" "+cmd.name+" ") {
			t.Errorf("help lacks the command %s", cmd.name)
		}
	}
	if strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
		t.Errorf("the overview printed a command's full help or to stderr:\n%s\n%s", r.stdout, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Anywhere else it is a command-line tool"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"replay"}, "want one EVENT.json, got 0"},
		{[]string{"replay", "a.json", "b.json"}, "want one EVENT.json, got 2"},
		{[]string{"replay", "--bogus", webEvent}, "flag provided but not defined: -bogus"},
		{[]string{"replay", "--apply", webEvent}, "--apply needs --live"},
		{[]string{"replay", "--live", "--groups", "g.json", webEvent}, "--groups seeds the offline emulator"},
		{[]string{"replay", "-", "--json"}, "needs --groups FILE"},
		{[]string{"replay", filepath.Join(eventsDir, "nonexistent.json")}, "no such file"},
		{[]string{"replay", "--groups", "nonexistent.json", webEvent}, "offline emulator"},
		{[]string{"restore"}, "want one BACKUP.jsonl"},
		{[]string{"pin", "--group", "sg-1"}, "--region and --group are required"},
		{[]string{"pin", "--region", "cn-hangzhou", "--group", "sg-1"}, "no address"},
		{[]string{"pin", "--region", "cn-hangzhou", "--group", "sg-1", "--ip", "1.2.3.4", "--ip-from", "https://x"}, "not both"},
	} {
		r := runCLI(t, env{}, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q on stderr\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, exitUsage, tc.want, r.stdout, r.stderr)
		}
	}
}

// Flags may come before or after the event.
func TestReplayFlagOrder(t *testing.T) {
	for _, args := range [][]string{
		{"replay", webEvent, "--json"},
		{"replay", "--json", webEvent},
		{"replay", "--json", "--", webEvent},
		{"replay", "--timeout=30s", webEvent, "--json", "--log", filepath.Join(t.TempDir(), "log")},
	} {
		r := runCLI(t, env{}, "", args...)
		var rep remediation.Report
		if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Summary[remediation.Revoked] != 1 {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// An invalid setting or event stops the replay before the emulator starts
// (and so before any call).
func TestReplayInvalidInputNoCall(t *testing.T) {
	for _, tc := range []struct {
		env  env
		args []string
		want string
	}{
		{env{"RISKY_PORTS": "99999"}, []string{webEvent}, "RISKY_PORTS"},
		{env{"DRY_RUN": "maybe", "ALLOWED_CIDRS": "0.0.0.0/0"}, []string{webEvent}, "DRY_RUN"},
		{env{"ECS_ENDPOINT": "ftp://x"}, []string{webEvent}, "ECS_ENDPOINT"},
		{env{"MAX_CONCURRENCY": "0"}, []string{"--live", webEvent}, "MAX_CONCURRENCY"},
		{env{}, []string{"--groups", groupsFile, "-"}, "bad event"},
	} {
		started := false
		r := runCLIHook(t, tc.env, `[{"regionId":"cn-hangzhou"}]`, func(*cloudtest.Server) { started = true }, append([]string{"replay"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || started || r.stdout != "" {
			t.Errorf("%v %v: exit %d (emulator started: %v)\nstdout:\n%s\nstderr:\n%s", tc.env, tc.args, r.code, started, r.stdout, r.stderr)
		}
	}
	// Every invalid setting is named, not only the first.
	r := runCLI(t, env{"DRY_RUN": "maybe", "ALLOWED_CIDRS": "0.0.0.0/0"}, "", "replay", webEvent)
	if !strings.Contains(r.stderr, "ALLOWED_CIDRS") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// --live talks to the configured endpoints with the environment's
// credentials, in dry-run unless --apply.
func TestReplayLive(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	e := cloudEnv(emu)

	r := runCLI(t, e, "", "replay", "--live", webEvent)
	if r.code != exitOK || !strings.Contains(r.stderr, "LIVE dry-run") || !strings.Contains(r.stdout, "would-revoke") ||
		!strings.Contains(r.stderr, "reading the endpoints in ECS_ENDPOINT/CONFIG_ENDPOINT (Config "+emu.URL()+", ECS "+emu.URL()+")") || strings.Contains(r.stderr, "real cloud") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if n := emu.CallCount("RevokeSecurityGroup"); n != 0 {
		t.Errorf("%d revokes in a live dry run", n)
	}

	r = runCLI(t, e.with("DRY_RUN=true"), "", "replay", "--live", "--apply", webEvent)
	if r.code != exitOK || !strings.Contains(r.stderr, "LIVE dry-run") || !strings.Contains(r.stderr, "DRY_RUN is set") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, e, "", "replay", "--live", "--apply", webEvent)
	if r.code != exitOK || !strings.Contains(r.stderr, "LIVE APPLY") || !strings.Contains(r.stdout, "1 group: 1 revoked (2 rules)") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if ids := liveIDs(t, emu, webGroup); ids["sgr-bp1web00000000000ssh"] || ids["sgr-bp1web00000000000rdp"] || !ids["sgr-bp1web000000000https"] {
		t.Errorf("live rules after --apply: %v", ids)
	}

	// Wrong credentials: the resource fails, exit 1, the error names it.
	r = runCLI(t, e.with("ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong"), "", "replay", "--live", "--apply", filepath.Join(eventsDir, "database-mysql.json"))
	if r.code != exitFailed || !strings.Contains(r.stderr, dbGroup) || !strings.Contains(r.stdout, "failed") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Half the credentials is a usage error, before any call.
	emu.ResetCalls()
	r = runCLI(t, e.with("ALIBABA_CLOUD_ACCESS_KEY_SECRET="), "", "replay", "--live", webEvent)
	if r.code != exitUsage || !strings.Contains(r.stderr, "ALIBABA_CLOUD_ACCESS_KEY_SECRET") || emu.CallCount("") != 0 {
		t.Errorf("exit %d, %d calls\nstderr:\n%s", r.code, emu.CallCount(""), r.stderr)
	}
}

// An event on stdin, with a resource of another type (skipped, no call).
func TestReplayStdin(t *testing.T) {
	in := `[{"regionId":"cn-hangzhou","resourceId":"sg-bp1web00000000000001"},{"regionId":"cn-hangzhou","resourceId":"i-bp1x","resourceType":"ACS::ECS::Instance"}]`
	r := runCLI(t, env{}, in, "replay", "--groups", groupsFile, "-")
	if r.code != exitOK || !strings.Contains(r.stdout, "2 groups: 1 revoked (2 rules), 0 compliant, 1 skipped, 0 failed") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// A failed resource: exit 1, the table shows the failure and its reason,
// the error names the resource; the other resources are remediated.
func TestReplayFailedResource(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	emu.FailNext("RevokeSecurityGroup", 1, 403, "Forbidden.RAM")
	in := `[{"regionId":"cn-hangzhou","resourceId":"sg-bp1db000000000000002"},{"regionId":"cn-hangzhou","resourceId":"sg-bp1ipv6000000000000006"}]`
	r := runCLI(t, cloudEnv(emu).with("MAX_CONCURRENCY=1"), in, "replay", "--live", "--apply", "-")
	if r.code != exitFailed || !strings.Contains(r.stdout, "2 groups: 1 revoked (1 rule), 0 compliant, 0 skipped, 1 failed") ||
		!strings.Contains(r.stdout, "Forbidden.RAM") || !strings.Contains(r.stderr, "remediation failed for 1 resource(s): "+dbGroup) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
