package remediation

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Remediator closes the risky rules of the resources of one event: the
// steps of section 3, composed. It is safe for concurrent use; build one per
// invocation, since its clients carry the invocation's credentials.
type Remediator struct {
	steps
	accounts Accounts
	// Timeout is the invocation's configured timeout, used to size the
	// deadline reserve (10% of it, at least MinReserve). Zero means the
	// time left when Execute starts.
	Timeout time.Duration
}

// MinReserve is the least time kept free before the invocation deadline so
// that the answer reaches FC.
const MinReserve = 500 * time.Millisecond

// New returns a Remediator whose ECS calls all go through ecs (one
// account). log receives the backup lines and one line per resource.
func New(s Settings, config ConfigAPI, ecs ECSAPI, log *slog.Logger) (*Remediator, error) {
	return NewForAccounts(s, config, OneAccount{ecs}, log)
}

// NewForAccounts returns a Remediator whose ECS calls on each resource are
// signed for the account that owns it (section 6).
func NewForAccounts(s Settings, config ConfigAPI, accounts Accounts, log *slog.Logger) (*Remediator, error) {
	st, err := newSteps(s, config, log)
	if err != nil {
		return nil, err
	}
	return &Remediator{steps: st, accounts: accounts}, nil
}

// Execute processes the resources concurrently (at most MaxConcurrency at
// once, so never more cloud calls in flight) and returns the report. The
// error is a *FailedError naming every failed resource, or nil.
func (r *Remediator) Execute(ctx context.Context, resources []Resource) (*Report, error) {
	ctx, cancel := WithReserve(ctx, r.Timeout)
	defer cancel()

	resources = dedupe(resources)
	report := &Report{DryRun: r.settings.DryRun, Resources: make([]ResourceReport, len(resources)), Summary: map[Outcome]int{}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(r.settings.MaxConcurrency, len(resources)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res := resources[i]
				if ctx.Err() != nil {
					report.Resources[i] = failed(res, "not started: the invocation deadline (less its reserve) was reached")
				} else {
					report.Resources[i] = r.process(ctx, res)
				}
				r.logResult(report.Resources[i])
			}
		}()
	}
	for i := range resources {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	for _, res := range report.Resources {
		report.Summary[res.Outcome]++
	}
	if f := report.Failed(); len(f) > 0 {
		return report, &FailedError{Failed: f}
	}
	return report, nil
}

// WithReserve returns a context whose deadline is the invocation deadline
// less the reserve (section 3): no call starts after it and no call's
// timeout runs past it. timeout is the invocation's configured timeout (0:
// the time left).
func WithReserve(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	if timeout <= 0 {
		timeout = time.Until(deadline)
	}
	return context.WithDeadline(ctx, deadline.Add(-max(MinReserve, timeout/10)))
}

func dedupe(in []Resource) []Resource {
	seen := make(map[[3]string]bool, len(in))
	out := make([]Resource, 0, len(in))
	for _, res := range in {
		k := [3]string{res.AccountID, res.RegionID, res.ResourceID}
		if !seen[k] {
			seen[k] = true
			out = append(out, res)
		}
	}
	return out
}

func newReport(res Resource, o Outcome, reason string) ResourceReport {
	return ResourceReport{ResourceID: res.ResourceID, Region: res.RegionID, AccountID: res.AccountID, ResourceType: res.ResourceType, Outcome: o, Reason: reason}
}

func failed(res Resource, reason string) ResourceReport { return newReport(res, Failed, reason) }

func (r *Remediator) logResult(rep ResourceReport) {
	level := slog.LevelInfo
	if rep.Outcome == Failed {
		level = slog.LevelError
	}
	r.log.Log(context.Background(), level, "resource", "resourceId", rep.ResourceID, "regionId", rep.Region,
		"accountId", rep.AccountID, "outcome", rep.Outcome, "reason", rep.Reason, "rules", rep.Rules)
}

// process runs the steps of section 3 for one resource.
func (r *Remediator) process(ctx context.Context, res Resource) ResourceReport {
	if res.ResourceType != "" && !strings.EqualFold(res.ResourceType, SecurityGroupType) {
		return newReport(res, Skipped, fmt.Sprintf("resource type %s is not %s", res.ResourceType, SecurityGroupType))
	}
	snap, err := r.readSnapshot(ctx, res)
	if err != nil {
		return failed(res, err.Error())
	} else if snap.Deleted {
		return newReport(res, Skipped, "the resource is deleted, or Cloud Config has no record of it")
	}
	j := r.judge(res, snap.Managed, snap.Tags, snap.Rules)
	if j.Skip != "" {
		return newReport(res, j.Skip, j.Note)
	}
	rep := newReport(res, Compliant, "")
	rep.OtherRules = max(snap.Count-len(j.Decisions), 0)
	var candidates []string
	var excepted []Decision
	for _, d := range j.Decisions {
		if d.Risky || d.Unreadable {
			candidates = append(candidates, d.Rule.SecurityGroupRuleId)
			continue
		}
		rep.Rules = append(rep.Rules, ruleReport(d, keptAction(d)))
		if d.Excepted != nil {
			excepted = append(excepted, d)
		}
	}
	switch {
	case len(candidates) == 0 && len(excepted) > 0:
		rep.Outcome = Excepted
		rep.Reason = joinNotes(fmt.Sprintf("%d risky rule(s) kept: excepted %s", len(excepted), excepted[0].Excepted), j.Note)
		return rep
	case len(candidates) == 0:
		rep.Reason = joinNotes("no rule exposes a risky port to the internet", j.Note)
		return rep
	}
	ecs, err := r.accounts.ECS(ctx, res.AccountID)
	if err != nil {
		return failed(res, err.Error())
	}
	live, err := r.confirmLive(ctx, ecs, res, candidates)
	if isGroupGone(err) {
		return newReport(res, Skipped, "the security group no longer exists")
	} else if err != nil {
		return failed(res, err.Error())
	}
	rep.Rules = append(rep.Rules, live.Kept...)
	applied, err := r.apply(ctx, ecs, res, live)
	rep = r.outcome(res, rep, live, applied, err)
	rep.Reason = joinNotes(rep.Reason, j.Note) // why a tagged group was not exempt
	return rep
}

// outcome writes the result of steps 3-5 into rep.
func (r *Remediator) outcome(res Resource, rep ResourceReport, live *Live, applied Applied, err error) ResourceReport {
	n := len(live.Confirmed) - len(applied.Gone)
	action := string(Revoked)
	switch {
	case len(live.Confirmed) == 0:
		rep.Reason = "the snapshot's risky rules are no longer risky in the live group"
	case isGroupGone(err):
		return newReport(res, Skipped, "the security group no longer exists")
	case isManagedByProduct(err):
		rep.Outcome, rep.Reason, action = Skipped, "managed by a cloud product (InvalidOperation.ResourceManagedByCloudProduct)", "kept"
	case err != nil:
		rep.Outcome, rep.Reason, action = Failed, err.Error(), "failed"
	case r.settings.DryRun:
		rep.Outcome, rep.Reason, action = WouldRevoke, fmt.Sprintf("dry run: %d risky rule(s) would be revoked", n), string(WouldRevoke)
	default:
		rep.Outcome, rep.Reason = Revoked, fmt.Sprintf("revoked %d risky rule(s)", n)
	}
	for _, d := range live.Confirmed {
		rr := ruleReport(d, action)
		if applied.Gone[d.Rule.SecurityGroupRuleId] {
			rr.Action, rr.Reason = "gone", "already revoked by someone else"
		}
		rr.Replacements = applied.Replacements[d.Rule.SecurityGroupRuleId]
		if len(r.settings.AllowedCIDRs) > 0 && len(rr.Replacements) == 0 && rr.Action != "gone" {
			rr.Reason += "; no allowed CIDR of its address family: the port is only closed"
		}
		rep.Rules = append(rep.Rules, rr)
	}
	if len(r.settings.AllowedCIDRs) > 0 && len(applied.Replacements) > 0 && (rep.Outcome == Revoked || rep.Outcome == WouldRevoke) {
		verb := map[Outcome]string{Revoked: "replaced", WouldRevoke: "would be replaced"}[rep.Outcome]
		rep.Reason += fmt.Sprintf(", %s by rules for %s", verb, strings.Join(r.allowedStrings(), ", "))
	}
	// An unreadable rule is never silently kept: the resource fails,
	// naming it, after its other risky rules were handled.
	if len(live.Unreadable) > 0 {
		var ids []string
		for _, d := range live.Unreadable {
			rep.Rules = append(rep.Rules, ruleReport(d, "failed"))
			ids = append(ids, d.Rule.SecurityGroupRuleId+" ("+d.Rule.PortRange+")")
		}
		rep.Outcome = Failed
		rep.Reason = joinNotes(fmt.Sprintf("cannot read the port range of internet-open rule(s) %s: a person must look at them", strings.Join(ids, ", ")), rep.Reason)
	}
	return rep
}

func joinNotes(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

func (r *Remediator) allowedStrings() []string {
	out := make([]string, len(r.settings.AllowedCIDRs))
	for i, p := range r.settings.AllowedCIDRs {
		out[i] = p.String()
	}
	return out
}
