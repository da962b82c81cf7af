package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// exportLine is the exact form of the emulator's lines for the shell.
var exportLine = regexp.MustCompile(`^export ([A-Z_]+)=([^\s'"$\x60\\;&|<>()]+)$`)

// emulatorProcess is the built binary running "emulator".
type emulatorProcess struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan error
	// vars are the NAME=VALUE pairs of its export lines, in order.
	vars  []string
	names []string
}

// startEmulatorBinary starts the built binary's emulator command and reads
// its stdout up to "# ready", checking every line before it is an export
// line.
func startEmulatorBinary(t *testing.T, args ...string) *emulatorProcess {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"emulator"}, args...)...)
	cmd.Dir = ".." // the repository's root: the default events/groups.json
	cmd.Env = []string{"HOME=" + t.TempDir(), "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &emulatorProcess{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
		p.exited <- cmd.Wait()
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout ended before \"# ready\"; stderr:\n%s", p.stderr)
			}
			if line == "# ready" {
				go func() {
					for range lines {
						t.Errorf("stdout after # ready")
					}
				}()
				return p
			}
			m := exportLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("stdout line %q is not of the form export NAME=VALUE", line)
			}
			p.vars = append(p.vars, m[1]+"="+m[2])
			p.names = append(p.names, m[1])
		case <-timeout:
			t.Fatalf("no \"# ready\" within 30s; stderr:\n%s", p.stderr)
		}
	}
}

func (p *emulatorProcess) get(name string) string {
	for _, kv := range p.vars {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// stop sends sig and returns the exit code.
// cloud is a Cloud pointed at the emulator with the endpoints and key it
// printed, as a user's shell would have them after eval.
func (p *emulatorProcess) cloud(t *testing.T) *remediation.Cloud {
	t.Helper()
	s := remediation.DefaultSettings()
	s.ConfigEndpoint, s.ECSEndpoint, s.STSEndpoint = p.get("CONFIG_ENDPOINT"), p.get("ECS_ENDPOINT"), p.get("STS_ENDPOINT")
	cred, err := remediation.StaticCredential(p.get(envAccessKeyID), p.get(envAccessKeySecret), "")
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		t.Fatal(err)
	}
	return cloud
}

func (p *emulatorProcess) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatalf("the emulator did not stop on %v", sig)
	}
	return -1
}

// runBinary runs the built binary with exactly env (no credentials but those
// given) and returns its exit code and output.
func runBinary(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Dir = ".."
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{code, stdout.String(), stderr.String()}
}

// TestEmulatorFlow is the README's "try everything offline" with the built
// binary: start the emulator, take its lines, replay --live (dry run, then
// --apply), restore --dry-run, restore, see the rules back, pin; then
// SIGINT stops it with exit 0.
func TestEmulatorFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	emu := startEmulatorBinary(t)
	wantNames := []string{"ECS_ENDPOINT", "CONFIG_ENDPOINT", "STS_ENDPOINT", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}
	if !slices.Equal(emu.names, wantNames) {
		t.Fatalf("export lines name %v, want %v", emu.names, wantNames)
	}
	url := emu.get("ECS_ENDPOINT")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(url) || emu.get("CONFIG_ENDPOINT") != url || emu.get("STS_ENDPOINT") != url {
		t.Fatalf("endpoints %v", emu.vars)
	}
	e := emu.vars
	log := filepath.Join(t.TempDir(), "replay.jsonl")
	allSamples := filepath.Join("events", "all-samples.json")

	r := runBinary(t, e, "replay", "--live", allSamples)
	if r.code != exitOK || !strings.Contains(r.stdout, "4 would-revoke (5 rules)") || !strings.Contains(r.stderr, "the endpoints in ECS_ENDPOINT/CONFIG_ENDPOINT") || strings.Contains(r.stderr, "real cloud") {
		t.Fatalf("replay --live: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, e, "replay", "--live", "--apply", "--log", log, allSamples)
	if r.code != exitOK || !strings.Contains(r.stdout, "7 groups: 4 revoked (5 rules), 1 compliant, 2 skipped, 0 failed") {
		t.Fatalf("replay --live --apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The emulator keeps its state between commands: a second replay finds
	// the rules gone.
	r = runBinary(t, e, "replay", "--live", filepath.Join("events", "web-ssh-rdp.json"))
	if r.code != exitOK || strings.Count(r.stdout, " gone ") != 2 {
		t.Fatalf("second replay: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = runBinary(t, e, "restore", "--dry-run", log)
	if r.code != exitOK || !strings.Contains(r.stdout, "5 rules: 5 would-create, 0 already exist, 0 failed (dry run: nothing changed)") {
		t.Fatalf("restore --dry-run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, e, "restore", log)
	if r.code != exitOK || !strings.Contains(r.stdout, "5 rules: 5 created, 0 already exist, 0 failed") {
		t.Fatalf("restore: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The rules are back: restoring again finds every one.
	r = runBinary(t, e, "restore", "--dry-run", log)
	if r.code != exitOK || !strings.Contains(r.stdout, "5 rules: 0 would-create, 5 already exist, 0 failed") {
		t.Fatalf("restore after restore: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = runBinary(t, e, "pin", "--region", "cn-hangzhou", "--group", dropGroup, "--ip", "203.0.113.7")
	if r.code != exitOK || !strings.Contains(r.stdout, "tcp/22 pinned to 203.0.113.7/32: created") {
		t.Fatalf("pin: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, e, "pin", "--region", "cn-hangzhou", "--group", dropGroup, "--ip", "203.0.113.7")
	if r.code != exitOK || !strings.Contains(r.stdout, "unchanged") {
		t.Fatalf("pin again: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// STS on the same listener, for the commands that ask who they are
	// (audit) or assume roles (account groups).
	cloud := emu.cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := cloud.GetCallerIdentity(ctx)
	if err != nil || id.AccountID != cloudtest.DefaultAccountID {
		t.Errorf("GetCallerIdentity: %+v, %v", id, err)
	}

	// One line per call on stderr. The pipe from the child is copied by a
	// goroutine of os/exec, so the last lines may still be on their way.
	logged := func() bool {
		got := emu.stderr.String()
		return strings.Contains(got, "RevokeSecurityGroup") && strings.Contains(got, "GetCallerIdentity")
	}
	for end := time.Now().Add(10 * time.Second); !logged() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("emulator stderr lacks the calls:\n%s", emu.stderr)
	}
	if code := emu.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit %d after SIGINT; stderr:\n%s", code, emu.stderr)
	}
	if !strings.Contains(emu.stderr.String(), "emulator: stopped") {
		t.Errorf("stderr:\n%s", emu.stderr)
	}
}

// SIGTERM stops it cleanly too; --quiet logs no call; --listen takes a
// port; --aggregator and --member-role set up account-group mode.
func TestEmulatorBinaryOptions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	port := freePort(t)
	// A group of a member account, besides the management account's.
	dir := t.TempDir()
	groups := filepath.Join(dir, "groups.json")
	writeFile(t, groups, `{"groups":[
	  {"SecurityGroupId":"sg-member0000000000000001","RegionId":"cn-hangzhou","AccountId":"2222222222222222",
	   "Permissions":[{"SecurityGroupRuleId":"sgr-member00000000000ssh","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0"}]},
	  {"SecurityGroupId":"sg-own00000000000000000001","RegionId":"cn-hangzhou","AccountId":"`+cloudtest.DefaultAccountID+`",
	   "Permissions":[{"SecurityGroupRuleId":"sgr-own0000000000000rdp","IpProtocol":"TCP","PortRange":"3389/3389","SourceCidrIp":"0.0.0.0/0"}]}]}`)
	event := filepath.Join(dir, "event.json")
	writeFile(t, event, `[{"regionId":"cn-hangzhou","accountId":"2222222222222222","resourceId":"sg-member0000000000000001","resourceType":"ACS::ECS::SecurityGroup"},
	  {"regionId":"cn-hangzhou","accountId":"`+cloudtest.DefaultAccountID+`","resourceId":"sg-own00000000000000000001","resourceType":"ACS::ECS::SecurityGroup"}]`)
	emu := startEmulatorBinary(t, "--quiet", "--listen", "localhost:"+port, "--groups", groups,
		"--aggregator", "ca-emulator", "--member-role", "sg-remediation-member")
	if got, want := emu.get("ECS_ENDPOINT"), "http://127.0.0.1:"+port; got != want {
		t.Errorf("ECS_ENDPOINT %q, want %q", got, want)
	}
	if emu.get("AGGREGATOR_ID") != "ca-emulator" || emu.get("MEMBER_ROLE_NAME") != "sg-remediation-member" {
		t.Errorf("export lines %v", emu.vars)
	}
	// What account-group mode needs from it: the member group read
	// through the aggregator, the member role assumed with the printed
	// key, the member's group read with the assumed credentials.
	cloud := emu.cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const member, memberGroup = "2222222222222222", "sg-member0000000000000001"
	det, err := cloud.GetAggregateDiscoveredResource(ctx, emu.get("AGGREGATOR_ID"), member, "cn-hangzhou", memberGroup, remediation.SecurityGroupType)
	if err != nil || det.Deleted || !strings.Contains(string(det.Configuration), "sgr-member00000000000ssh") {
		t.Errorf("aggregate read: %+v, %v", det, err)
	}
	assumed, err := cloud.AssumeRole(ctx, remediation.RoleArn(member, emu.get("MEMBER_ROLE_NAME")), "sg-remediation", 3600)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	memberCloud, err := cloud.ForCredentials(assumed)
	if err != nil {
		t.Fatal(err)
	}
	if page, err := memberCloud.DescribeSecurityGroupAttribute(ctx, "cn-hangzhou", memberGroup, ""); err != nil || len(page.Rules) != 1 {
		t.Errorf("member group with the assumed key: %+v, %v", page, err)
	}
	if _, err := cloud.DescribeSecurityGroupAttribute(ctx, "cn-hangzhou", memberGroup, ""); err == nil {
		t.Error("the management key read a member account's group")
	}
	if _, err := cloud.AssumeRole(ctx, remediation.RoleArn(member, "no-such-role"), "sg-remediation", 3600); err == nil {
		t.Error("AssumeRole of a role that does not exist succeeded")
	}
	// An ordinary replay of the management account's group works as well.
	r := runBinary(t, emu.vars[:5], "replay", "--live", "--apply", event)
	if r.code != exitOK || !strings.Contains(r.stdout, "sgr-own0000000000000rdp") || !strings.Contains(r.stdout, "revoked") {
		t.Errorf("replay: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if code := emu.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM; stderr:\n%s", code, emu.stderr)
	}
	if strings.Contains(emu.stderr.String(), "cloudtest:") {
		t.Errorf("--quiet logged calls:\n%s", emu.stderr)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	s, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(s.Endpoint(), ":")
	s.Close()
	return port
}

// Usage errors of the emulator command: exit 2, nothing served.
func TestEmulatorUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, `"0.0.0.0" is not a loopback address`},
		{[]string{"--listen", "192.0.2.1:8080"}, "not a loopback address"},
		{[]string{"--listen", ":9000"}, "not a loopback address"},
		{[]string{"--listen", "127.0.0.1"}, "want 127.0.0.1:PORT"},
		{[]string{"--listen", "127.0.0.1:http"}, "want a number"},
		{[]string{"--groups", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{[]string{"--groups", webEvent}, "fixture"},
		{[]string{"extra"}, "unexpected arguments: extra"},
	} {
		r := runCLI(t, env{}, "", append([]string{"emulator"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" || strings.Count(r.stderr, "\n") > 2 {
			t.Errorf("%v: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, exitUsage, tc.want, r.stdout, r.stderr)
		}
	}
}

// In-process: the lines come before "# ready", the emulator serves until
// the context ends (the signal in main), then the command returns 0.
func TestEmulatorInProcess(t *testing.T) {
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	c := &cli{prog: progName, getenv: env{}.get, stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- c.run(ctx, []string{"emulator", "--groups", groupsFile}) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(stdout.String(), "# ready\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no # ready:\n%s\n%s", stdout, stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e := env{}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "# ready\n"), "\n") {
		if line == "" {
			continue
		}
		m := exportLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q", line)
		}
		e[m[1]] = m[2]
	}
	r := runCLI(t, e, "", "replay", "--live", "--apply", webEvent)
	if r.code != exitOK || !strings.Contains(r.stdout, "1 group: 1 revoked (2 rules)") {
		t.Errorf("replay against it: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Wrong key: refused by the emulator's signature check.
	r = runCLI(t, e.with(envAccessKeySecret+"=wrong"), "", "replay", "--live", filepath.Join(eventsDir, "database-mysql.json"))
	if r.code != exitFailed {
		t.Errorf("wrong key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	// Stopped: the endpoint refuses connections.
	r = runCLI(t, e.with("MAX_CONCURRENCY=1"), "", "replay", "--live", "--timeout", "5s", webEvent)
	if r.code != exitFailed {
		t.Errorf("after stop: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
