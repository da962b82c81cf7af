package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// BenchmarkColdStart measures the time from starting the binary under FC
// (FC_RUNTIME_API set) to its first GET invocation/next. Target: < 50 ms.
func BenchmarkColdStart(b *testing.B) {
	bin := buildBinary(b)
	rt := newFakeRuntime(b)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(bin)
		cmd.Env = []string{"FC_RUNTIME_API=" + rt.addr(), "HOME=" + b.TempDir()}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-rt.nexts:
			total += at.Sub(start)
		case <-time.After(10 * time.Second):
			b.Fatal("no GET next within 10 s")
		}
		b.StopTimer()
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-next")
}

// Size of the generated large event: 500 groups of 50 ingress rules, two
// of them risky (SSH and RDP open to the internet).
const (
	largeGroups = 500
	largeRules  = 50
)

// writeLargeEvent writes a groups fixture and an event of n groups to dir.
func writeLargeEvent(b *testing.B, dir string) (groups, event string) {
	b.Helper()
	type rule = cloudtest.Rule
	var fx struct {
		Groups []cloudtest.Group `json:"groups"`
	}
	var ev []map[string]any
	for g := range largeGroups {
		id := fmt.Sprintf("sg-bp1large%013d", g)
		grp := cloudtest.Group{SecurityGroupId: id, RegionId: "cn-hangzhou", SecurityGroupName: fmt.Sprintf("large-%d", g), VpcId: "vpc-bp1large"}
		for r := range largeRules {
			ru := rule{SecurityGroupRuleId: fmt.Sprintf("sgr-%s%04d", id[3:], r), Direction: "ingress", Policy: "Accept", Priority: 1, IpProtocol: "TCP",
				Description: fmt.Sprintf("generated rule %d", r)}
			switch {
			case r == 0:
				ru.PortRange, ru.SourceCidrIp = "22/22", "0.0.0.0/0"
			case r == 1:
				ru.PortRange, ru.SourceCidrIp = "3389/3389", "0.0.0.0/0"
			case r%5 == 0:
				ru.PortRange, ru.SourceCidrIp = fmt.Sprintf("%d/%d", 8000+r, 8000+r), "0.0.0.0/0"
			default:
				ru.PortRange, ru.SourceCidrIp = fmt.Sprintf("%d/%d", 9000+r, 9000+r), fmt.Sprintf("10.%d.%d.0/24", g%256, r)
			}
			grp.Permissions = append(grp.Permissions, ru)
		}
		fx.Groups = append(fx.Groups, grp)
		ev = append(ev, map[string]any{"regionId": "cn-hangzhou", "accountId": "1234567890123456", "resourceId": id,
			"resourceType": "ACS::ECS::SecurityGroup", "configRuleName": "sg-risky-ports-restricted", "complianceType": "NON_COMPLIANT"})
	}
	write := func(name string, v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	return write("groups.json", fx), write("large-event.json", ev)
}

// vmHWM returns the peak resident set size of a running process in KiB
// (VmHWM of /proc/PID/status), 0 when it cannot be read (the process is
// gone, or this is not Linux).
//
// ProcessState.SysUsage's Maxrss is not used: Go starts a child with
// vfork+exec, and Linux carries the parent's (the test binary's, tens of
// MB) RSS high-water mark over the exec into the child's ru_maxrss.
func vmHWM(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// watchHWM polls vmHWM of pid every millisecond until stop is called, and
// returns the last value read: the peak, short of what the process does in
// its last millisecond.
func watchHWM(pid int) (stop func() int) {
	done := make(chan struct{})
	result := make(chan int)
	go func() {
		peak := 0
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, vmHWM(pid))
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int {
		close(done)
		return <-result
	}
}

func rusageMaxRSS(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss)
	}
	return 0
}

// BenchmarkReplayMaxRSS runs `replay` on the generated 500-group event
// and reports the child's peak RSS. The offline emulator, with all 25,000
// rules, runs inside the same process, so this is an upper bound for the
// function itself (see BenchmarkServeMaxRSS).
func BenchmarkReplayMaxRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	bin := buildBinary(b)
	groups, event := writeLargeEvent(b, b.TempDir())
	var rss, rusage float64
	for range b.N {
		cmd := exec.Command(bin, "replay", "--groups", groups, "--json", "--log", os.DevNull, event)
		cmd.Env = []string{"HOME=" + b.TempDir()}
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		stop := watchHWM(cmd.Process.Pid)
		err := cmd.Wait()
		rss = max(rss, float64(stop()))
		rusage = max(rusage, rusageMaxRSS(cmd.ProcessState))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rss, "maxRSS-KB")
	b.ReportMetric(rusage, "rusage-maxRSS-KB")
}

// BenchmarkServeMaxRSS serves one invocation of the generated 500-group
// event under the fake FC runtime, the emulator in the test process, and
// reports the function process's max RSS. Target: < 30 MB.
func BenchmarkServeMaxRSS(b *testing.B) {
	buildBinary(b)
	groups, event := writeLargeEvent(b, b.TempDir())
	payload, err := os.ReadFile(event)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	var rss, rusage float64
	var took time.Duration
	for i := range b.N {
		b.StopTimer()
		emu, err := cloudtest.New(cloudtest.Options{AccessKeyID: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken})
		if err != nil {
			b.Fatal(err)
		}
		if err := emu.LoadFile(groups); err != nil {
			b.Fatal(err)
		}
		rt := newFakeRuntime(b)
		p := startFunction(b, rt, "CONFIG_ENDPOINT="+emu.URL(), "ECS_ENDPOINT="+emu.URL())
		b.StartTimer()
		start := time.Now()
		res := rt.invoke(b, fmt.Sprintf("req-large-%d", i), payload, fcCred{fcAK, fcSecret, fcToken}, 120*time.Second)
		took += time.Since(start)
		b.StopTimer()
		if res.kind != "response" {
			b.Fatalf("answer %s: %.500s", res.kind, res.body)
		}
		if n := emu.CallCount("RevokeSecurityGroup"); n != largeGroups {
			b.Fatalf("%d revokes, want %d", n, largeGroups)
		}
		rss = max(rss, float64(vmHWM(p.cmd.Process.Pid))) // the process is alive: exact
		p.kill()
		rusage = max(rusage, rusageMaxRSS(p.cmd.ProcessState))
		rt.close()
		emu.Close()
		b.StartTimer()
	}
	b.ReportMetric(rss, "maxRSS-KB")
	b.ReportMetric(rusage, "rusage-maxRSS-KB")
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms/invocation")
}
