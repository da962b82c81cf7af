package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// eventsDir holds the sample events and groups.
const eventsDir = "../events"

var groupsFile = filepath.Join(eventsDir, "groups.json")

func TestMain(m *testing.M) {
	// The SDK sends plain-HTTP traffic through HTTP_PROXY when it is set,
	// even to 127.0.0.1: keep every call of these tests on the loopback.
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		os.Unsetenv(k)
	}
	// The credentials-go chain, consulted when a test gives no key, reads
	// the process environment: no key there, no profile file, and no
	// request to the ECS metadata address (100.100.100.200), which is not
	// the loopback. The built binaries inherit this environment.
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_ROLE_ARN",
		"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_ECS_METADATA"} {
		os.Unsetenv(k)
	}
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	credDir, err := os.MkdirTemp("", "sg-remediation-cred-")
	if err != nil {
		panic(err)
	}
	// No ~/.alibabacloud/credentials profile (HOME stays: go build needs it).
	os.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", filepath.Join(credDir, "none"))
	// No name resolves: a test that forgot an endpoint override fails
	// instead of reaching a real cloud endpoint.
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("DNS is disabled in these tests: every call must go to 127.0.0.1")
	}}
	code := m.Run()
	os.RemoveAll(credDir)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// env is a fake environment for cli.getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// with returns a copy of e with the pairs "K=V" added.
func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		out[k] = v
	}
	return out
}

// cliResult is what one in-process run of the command line printed.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in-process with a fake environment.
func runCLI(t testing.TB, e env, stdin string, args ...string) cliResult {
	t.Helper()
	return runCLIHook(t, e, stdin, nil, args...)
}

func runCLIHook(t testing.TB, e env, stdin string, hook func(*cloudtest.Server), args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := &cli{prog: progName, getenv: e.get, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, emulatorHook: hook}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := c.run(ctx, args)
	return cliResult{code, stdout.String(), stderr.String()}
}

// newEmulator starts an emulator seeded with the sample groups.
func newEmulator(t testing.TB, opts cloudtest.Options) *cloudtest.Server {
	t.Helper()
	s, err := cloudtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.LoadFile(groupsFile); err != nil {
		t.Fatal(err)
	}
	return s
}

// cloudEnv is the environment of a command line pointed at an emulator
// started with the default credentials.
func cloudEnv(s *cloudtest.Server) env {
	return env{
		"CONFIG_ENDPOINT":                 s.URL(),
		"ECS_ENDPOINT":                    s.URL(),
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "test-ak",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "test-secret",
	}
}

// ruleKey identifies a rule by its attributes, description included, not
// by its ID.
func ruleKey(r cloudtest.Rule) string {
	nic, srcPorts := r.NicType, r.SourcePortRange
	if nic == "" {
		nic = "intranet"
	}
	if srcPorts == "" {
		srcPorts = "-1/-1" // absent means any
	}
	return strings.ToLower(fmt.Sprintf("%s|%s|%d|%s|%s|%s|%s|%s|%s|%s|%s",
		r.Direction, r.Policy, r.Priority, r.IpProtocol, r.PortRange, r.SourceCidrIp, r.Ipv6SourceCidrIp, r.DestCidrIp, srcPorts, nic, r.Description))
}

func ruleKeys(rules []cloudtest.Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = ruleKey(r)
	}
	sort.Strings(out)
	return out
}

// liveIDs returns the live rule IDs of a group.
func liveIDs(t testing.TB, s *cloudtest.Server, id string) map[string]bool {
	t.Helper()
	g, ok := s.Group("cn-hangzhou", id)
	if !ok {
		t.Fatalf("group %s is not in the emulator", id)
	}
	out := map[string]bool{}
	for _, r := range g.Permissions {
		out[r.SecurityGroupRuleId] = true
	}
	return out
}

// backupLines returns the backup records in a log.
func backupLines(t testing.TB, log string) []remediation.Backup {
	t.Helper()
	b, err := remediation.ReadBackups(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lockedBuffer is a bytes.Buffer safe for a child process's output copier
// and a test reading it concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// buildBinary builds the function as FC runs it (CGO disabled) once per
// test binary and returns its path.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "sg-remediation-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "main")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}
