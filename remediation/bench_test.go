package remediation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// benchGroups builds n groups of 50 rules, 3 of them risky.
func benchGroups(n int) ([]cloudtest.Group, []remediation.Resource) {
	var groups []cloudtest.Group
	var res []remediation.Resource
	for g := range n {
		id := fmt.Sprintf("sg-bench%05d", g)
		var rules []cloudtest.Rule
		for i := range 47 {
			rules = append(rules, rule(fmt.Sprintf("sgr-%05d-%02d", g, i), "TCP", fmt.Sprintf("%d/%d", 8000+i, 8000+i), "0.0.0.0/0"))
		}
		rules = append(rules,
			rule(fmt.Sprintf("sgr-%05d-ssh", g), "TCP", "22/22", "0.0.0.0/0"),
			rule(fmt.Sprintf("sgr-%05d-rdp", g), "TCP", "3389/3389", "0.0.0.0/0"),
			rule(fmt.Sprintf("sgr-%05d-my6", g), "TCP", "3306/3306", "::/0"))
		groups = append(groups, group(id, rules...))
		res = append(res, remediation.Resource{RegionID: region, ResourceID: id, ResourceType: remediation.SecurityGroupType})
	}
	return groups, res
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLargeEvent is one event of 500 groups x 50 rules through the
// emulator with 2 ms latency per call. "sequential-no-live-check" is the
// naive approach (read the snapshot, revoke, one group after the other) for
// comparison. cpu-ms/call counts client and emulator together (one process).
func BenchmarkLargeEvent(b *testing.B) {
	groups, res := benchGroups(500)
	for _, tc := range []struct {
		name        string
		concurrency int
		naive       bool
	}{{"sequential-no-live-check", 1, true}, {"concurrency-8", 8, false}, {"concurrency-16", 16, false}, {"concurrency-32", 32, false}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, groups...)
			e.settings.MaxConcurrency = tc.concurrency
			e.srv.SetLatency(2 * time.Millisecond)
			cred, _ := remediation.StaticCredential("ak-test", "secret-test", "")
			cloud, _ := remediation.NewCloud(cred, e.settings)
			sel, _ := remediation.NewSelector()
			var calls int
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				for _, g := range groups {
					if err := e.srv.SetLiveRules(region, g.SecurityGroupId, g.Permissions); err != nil {
						b.Fatal(err)
					}
				}
				e.srv.ResetCalls()
				start := cpuTime()
				b.StartTimer()
				if tc.naive {
					naive(b, cloud, sel, res)
				} else {
					r, _ := remediation.New(e.settings, cloud, cloud, slog.New(slog.NewJSONHandler(io.Discard, nil)))
					rep, err := r.Execute(context.Background(), res)
					if err != nil || rep.Summary[remediation.Revoked] != 500 {
						b.Fatalf("%v %v", err, rep.Summary)
					}
				}
				b.StopTimer()
				cpu += cpuTime() - start
				calls += e.srv.CallCount("")
				b.StartTimer()
			}
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(calls), "cpu-ms/call")
		})
	}
}

// naive is the public sample's approach: snapshot, select, revoke, in turn.
func naive(b *testing.B, cloud *remediation.Cloud, sel *remediation.Selector, res []remediation.Resource) {
	ports, _ := remediation.ParsePorts(remediation.DefaultRiskyPorts)
	ctx := context.Background()
	for _, r := range res {
		det, err := cloud.GetDiscoveredResource(ctx, r.RegionID, r.ResourceID, remediation.SecurityGroupType)
		if err != nil {
			b.Fatal(err)
		}
		cfg, err := sel.ParseConfiguration(det.Configuration)
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for _, d := range remediation.Decide(cfg.Candidates, ports) {
			if d.Risky {
				ids = append(ids, d.Rule.SecurityGroupRuleId)
			}
		}
		if err := cloud.RevokeSecurityGroup(ctx, r.RegionID, r.ResourceID, ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeCall is the client-side cost of one
// DescribeSecurityGroupAttribute of a 1000-rule page: the adapter's
// decode-once call against the typed SDK call, which decodes twice.
func BenchmarkDescribeCall(b *testing.B) {
	var rules []cloudtest.Rule
	for i := range 1000 {
		rules = append(rules, rule(fmt.Sprintf("sgr-%05d", i), "TCP", fmt.Sprintf("%d/%d", 1000+i, 1000+i), "10.0.0.0/8"))
	}
	e := newEnv(b, group("sg-big", rules...))
	b.Run("adapter", func(b *testing.B) {
		cred, _ := remediation.StaticCredential("ak-test", "secret-test", "")
		cloud, _ := remediation.NewCloud(cred, e.settings)
		for b.Loop() {
			page, err := cloud.DescribeSecurityGroupAttribute(context.Background(), region, "sg-big", "")
			if err != nil || len(page.Rules) != 1000 {
				b.Fatal(err, len(page.Rules))
			}
		}
	})
	b.Run("typed-sdk", func(b *testing.B) {
		cl, err := ecs.NewClient(&openapi.Config{AccessKeyId: tea.String("ak-test"), AccessKeySecret: tea.String("secret-test"),
			Endpoint: tea.String(e.srv.Endpoint()), Protocol: tea.String("http"), RegionId: tea.String(region)})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			resp, err := cl.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{
				RegionId: tea.String(region), SecurityGroupId: tea.String("sg-big"), Direction: tea.String("ingress"), MaxResults: tea.Int32(1000)})
			if err != nil || len(resp.Body.Permissions.Permission) != 1000 {
				b.Fatal(err)
			}
		}
	})
}

// The benchmarks below run the emulator in a child process (this test
// binary, started again with benchEmulatorEnv set), so that the CPU time
// measured with getrusage in this process is the client's alone, as in the
// product, where the cloud is elsewhere.
const benchEmulatorEnv = "SGR_BENCH_EMULATOR"

func TestMain(m *testing.M) {
	if os.Getenv(benchEmulatorEnv) != "" {
		os.Exit(serveBenchEmulator())
	}
	os.Exit(m.Run())
}

// emuStats is what the child emulator reports when its stdin closes.
type emuStats struct {
	Calls, Throttled, MaxInFlight int
}

// serveBenchEmulator is the child: SGR_EMU_GROUPS groups of benchGroups,
// SGR_EMU_LATENCY per call, SGR_EMU_QUOTA calls a second (0: none). It
// prints its endpoint, serves until stdin closes, then prints emuStats.
func serveBenchEmulator() int {
	n, _ := strconv.Atoi(os.Getenv("SGR_EMU_GROUPS"))
	latency, _ := time.ParseDuration(os.Getenv("SGR_EMU_LATENCY"))
	quota, _ := strconv.Atoi(os.Getenv("SGR_EMU_QUOTA"))
	srv, err := cloudtest.New(cloudtest.Options{AccessKeyID: "ak-test", AccessKeySecret: "secret-test", Latency: latency})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	groups, _ := benchGroups(n)
	for _, g := range groups {
		if err := srv.AddGroup(g); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	srv.SetQuota(quota)
	fmt.Println(srv.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	st := emuStats{Calls: srv.CallCount(""), MaxInFlight: srv.MaxInFlight()}
	for _, c := range srv.Calls() {
		if strings.HasPrefix(c.Code, "Throttling") {
			st.Throttled++
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(st)
	return 0
}

// emuProc is a running child emulator.
type emuProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	URL   string
}

func startEmulator(tb testing.TB, groups int, latency time.Duration, quota int) *emuProc {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchEmulatorEnv+"=1", fmt.Sprintf("SGR_EMU_GROUPS=%d", groups),
		"SGR_EMU_LATENCY="+latency.String(), fmt.Sprintf("SGR_EMU_QUOTA=%d", quota), "HTTP_PROXY=", "http_proxy=")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &emuProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		tb.Fatalf("emulator did not start: %v", err)
	}
	p.URL = strings.TrimSpace(line)
	return p
}

// stop ends the child and returns its call statistics.
func (p *emuProc) stop(tb testing.TB) emuStats {
	tb.Helper()
	_ = p.stdin.Close()
	var st emuStats
	err := json.NewDecoder(p.out).Decode(&st)
	if werr := p.cmd.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		tb.Fatalf("emulator: %v", err)
	}
	return st
}

// benchRun is one event of n groups against a child emulator: it returns
// the client's CPU time, the wall time of Execute and the emulator's counts.
func benchRun(b *testing.B, n int, latency time.Duration, quota, concurrency int) (cpu, wall time.Duration, st emuStats) {
	cpu, wall, _, st = benchRunAlloc(b, n, latency, quota, concurrency)
	return cpu, wall, st
}

// benchRunAlloc is benchRun that also returns the bytes allocated.
func benchRunAlloc(b *testing.B, n int, latency time.Duration, quota, concurrency int) (cpu, wall time.Duration, alloc uint64, st emuStats) {
	b.Helper()
	b.StopTimer()
	b.Setenv("HTTP_PROXY", "")
	b.Setenv("http_proxy", "")
	p := startEmulator(b, n, latency, quota)
	s := remediation.DefaultSettings()
	s.ConfigEndpoint, s.ECSEndpoint = p.URL, p.URL
	s.MaxConcurrency = concurrency
	cred, _ := remediation.StaticCredential("ak-test", "secret-test", "")
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		b.Fatal(err)
	}
	r, err := remediation.New(s, cloud, cloud, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	_, res := benchGroups(n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc0 := ms.TotalAlloc
	b.StartTimer()
	start, cpu0 := time.Now(), cpuTime()
	rep, err := r.Execute(context.Background(), res)
	cpu, wall = cpuTime()-cpu0, time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	alloc = ms.TotalAlloc - alloc0
	st = p.stop(b)
	if testing.Verbose() {
		for _, rs := range cloud.RateStats() {
			b.Logf("%+v", rs)
		}
	}
	if err != nil || rep.Summary[remediation.Revoked] != n {
		b.Fatalf("%v %v", err, rep.Summary)
	}
	b.StartTimer()
	return cpu, wall, alloc, st
}

// BenchmarkCallCPU is the client's CPU time per cloud call (issue #18):
// 200 groups x 50 rules, 20 ms per call, 32 in flight, the emulator in
// another process.
func BenchmarkCallCPU(b *testing.B) {
	var cpu time.Duration
	var calls int
	var alloc uint64
	for b.Loop() {
		c, _, a, st := benchRunAlloc(b, 200, 20*time.Millisecond, 0, 32)
		cpu += c
		alloc += a
		calls += st.Calls
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(calls), "cpu-ms/call")
	b.ReportMetric(float64(alloc)/1024/float64(calls), "alloc-KB/call")
}

// BenchmarkQuota is 500 groups x 50 rules, 20 ms per call, 32 in flight,
// against a server-side quota (issue #16): the share of calls answered
// Throttling and the wall time against the least possible, useful calls /
// quota. quota-5000 is the check that nothing got slower without a quota
// to learn.
func BenchmarkQuota(b *testing.B) {
	for _, quota := range []int{200, 5000} {
		b.Run(fmt.Sprintf("quota-%d", quota), func(b *testing.B) {
			var wall time.Duration
			var calls, throttled int
			for b.Loop() {
				_, w, st := benchRun(b, 500, 20*time.Millisecond, quota, 32)
				wall += w
				calls += st.Calls
				throttled += st.Throttled
			}
			useful := float64(calls-throttled) / float64(b.N)
			ideal := useful / float64(quota)
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(100*float64(throttled)/float64(calls), "throttled-%")
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
			b.ReportMetric(wall.Seconds()/float64(b.N)/ideal, "wall/ideal")
		})
	}
}
