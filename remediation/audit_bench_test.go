package remediation_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// BenchmarkAudit audits 2000 groups in 4 regions (--all-regions) through
// the real SDK adapter against the emulator answering every call after
// 20 ms. The floor is calls x latency / MAX_CONCURRENCY: the audit should
// stay within 1.25x of it, since listing and reading overlap and every
// call slot is kept busy. Reported per audit: wall-s, floor-s, wall/floor
// and calls/group.
//
//	go test -run '^$' -bench BenchmarkAudit -benchtime 3x ./remediation/
func BenchmarkAudit(b *testing.B) {
	const (
		groups  = 2000
		latency = 20 * time.Millisecond
	)
	regions := []string{"cn-hangzhou", "cn-beijing", "cn-shanghai", "cn-shenzhen"}
	for _, conc := range []int{8, 32} {
		b.Run("MAX_CONCURRENCY="+strconv.Itoa(conc), func(b *testing.B) {
			gs := cloudtest.GenerateGroups(groups, regions, func(i int, g *cloudtest.Group) {
				switch i % 10 {
				case 0: // a risky rule besides the generated one
					g.Permissions = append(g.Permissions, auditRule("", "TCP", "22/22", "0.0.0.0/0"))
				case 1: // a Drop rule that protects
					g.Permissions = append(g.Permissions, auditRule("", "TCP", "3306/3306", "0.0.0.0/0"),
						cloudtest.Rule{Direction: "ingress", Policy: "Drop", Priority: 1, IpProtocol: "TCP", PortRange: "1/65535", SourceCidrIp: "0.0.0.0/0"})
				}
			})
			srv, a := newAuditor(b, map[string]string{"MAX_CONCURRENCY": strconv.Itoa(conc)}, gs...)
			srv.SetLatency(latency)
			ctx := context.Background()
			var wall time.Duration
			calls := 0
			for b.Loop() {
				srv.ResetCalls()
				start := time.Now()
				regs, err := a.Regions(ctx)
				if err != nil {
					b.Fatal(err)
				}
				rep := a.Audit(ctx, regs)
				wall += time.Since(start)
				calls += srv.CallCount("")
				if tot := total(rep); tot.Groups != groups || tot.Read != groups || tot.Risky != groups/10 {
					b.Fatalf("audit read %+v", tot)
				}
			}
			n := float64(b.N)
			floor := time.Duration(float64(calls) / n * float64(latency) / float64(conc))
			perOp := time.Duration(float64(wall) / n)
			b.ReportMetric(perOp.Seconds(), "wall-s")
			b.ReportMetric(floor.Seconds(), "floor-s")
			b.ReportMetric(perOp.Seconds()/floor.Seconds(), "wall/floor")
			b.ReportMetric(float64(calls)/n/groups, "calls/group")
			if m := srv.MaxInFlight(); m > conc {
				b.Errorf("%d calls in flight, MAX_CONCURRENCY %d", m, conc)
			}
		})
	}
}

func total(rep *remediation.AuditReport) remediation.RegionAudit {
	var t remediation.RegionAudit
	for _, r := range rep.Regions {
		t.Groups += r.Groups
		t.Read += r.Read
		t.Risky += r.Risky
	}
	return t
}
