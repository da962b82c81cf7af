package remediation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
