package remediation

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Remediator closes the risky rules of the resources of one event. It holds
// no per-invocation state and is safe for concurrent use; build one per
// invocation when the clients carry per-invocation credentials.
type Remediator struct {
	settings Settings
	config   ConfigAPI
	ecs      ECSAPI
	log      *slog.Logger
	selector *Selector
	// Retry is the retry policy of every cloud call.
	Retry RetryPolicy
	// Timeout is the invocation's configured timeout, used to size the
	// deadline reserve (10% of it, at least MinReserve). Zero means the
	// time left when Execute starts.
	Timeout time.Duration
}

// MinReserve is the least time kept free before the invocation deadline so
// that the answer reaches FC.
const MinReserve = 500 * time.Millisecond

// maxIDsPerCall is the most rule IDs or permissions ECS takes in one call.
const maxIDsPerCall = 100

// New returns a Remediator. log receives the backup lines and one line per
// resource.
func New(s Settings, config ConfigAPI, ecs ECSAPI, log *slog.Logger) (*Remediator, error) {
	sel, err := NewSelector()
	if err != nil {
		return nil, err
	}
	if s.MaxConcurrency < 1 {
		s.MaxConcurrency = 1
	}
	if len(s.RiskyPorts) == 0 {
		return nil, fmt.Errorf("%w: no risky ports", ErrBadSetting)
	}
	return &Remediator{settings: s, config: config, ecs: ecs, log: log, selector: sel, Retry: DefaultRetryPolicy}, nil
}

// Execute processes the resources concurrently (at most MaxConcurrency at
// once, so never more cloud calls in flight) and returns the report. The
// error is a *FailedError naming every failed resource, or nil.
func (r *Remediator) Execute(ctx context.Context, resources []Resource) (*Report, error) {
	ctx, cancel := r.withReserve(ctx)
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

// withReserve returns a context whose deadline is the invocation deadline
// less the reserve: no call starts after it and no call's timeout runs past it.
func (r *Remediator) withReserve(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Until(deadline)
	}
	return context.WithDeadline(ctx, deadline.Add(-max(MinReserve, timeout/10)))
}

func dedupe(in []Resource) []Resource {
	seen := make(map[[2]string]bool, len(in))
	out := make([]Resource, 0, len(in))
	for _, res := range in {
		k := [2]string{res.RegionID, res.ResourceID}
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
		"outcome", rep.Outcome, "reason", rep.Reason, "rules", rep.Rules)
}

// process runs the contract's steps (section 3) for one resource.
func (r *Remediator) process(ctx context.Context, res Resource) ResourceReport {
	if res.ResourceType != "" && !strings.EqualFold(res.ResourceType, SecurityGroupType) {
		return newReport(res, Skipped, fmt.Sprintf("resource type %s is not %s", res.ResourceType, SecurityGroupType))
	}
	// 1. The configuration as Cloud Config recorded it.
	var det *DiscoveredResource
	err := r.Retry.Do(ctx, func(ctx context.Context) (err error) {
		det, err = r.config.GetDiscoveredResource(ctx, res.RegionID, res.ResourceID, SecurityGroupType)
		return err
	})
	switch {
	case isConfigResourceUnknown(err) || isGroupGone(err):
		return newReport(res, Skipped, "Cloud Config has no record of this resource: "+ErrorCode(err))
	case err != nil:
		return failed(res, fmt.Sprintf("GetDiscoveredResource %s: %v", res.ResourceID, err))
	case det.Deleted:
		return newReport(res, Skipped, "the resource is deleted (ResourceDeleted 0)")
	}
	cfg, err := r.selector.ParseConfiguration(det.Configuration)
	if err != nil {
		return failed(res, fmt.Sprintf("configuration of %s: %v", res.ResourceID, err))
	}
	// 2. Managed and exempt groups are never touched.
	if cfg.ServiceManaged {
		return newReport(res, Skipped, "managed security group (ServiceManaged)")
	}
	if r.settings.exempt(det.Tags) || r.settings.exempt(cfg.Tags) {
		return newReport(res, Skipped, fmt.Sprintf("exempt: carries tag %s", r.exemptTag()))
	}
	snapshot := Decide(cfg.Candidates, r.settings.RiskyPorts)
	rep := newReport(res, Compliant, "")
	var candidates []string
	for _, d := range snapshot {
		if d.Risky {
			candidates = append(candidates, d.Rule.SecurityGroupRuleId)
		} else {
			rep.Rules = append(rep.Rules, ruleReport(d, "kept"))
		}
	}
	if len(candidates) == 0 {
		rep.Reason = "no rule exposes a risky port to the internet"
		return rep
	}

	// 3. Confirm against the live group: the snapshot may be stale.
	live, err := r.liveRules(ctx, res)
	if isGroupGone(err) {
		return newReport(res, Skipped, "the security group no longer exists")
	} else if err != nil {
		return failed(res, err.Error())
	}
	liveByID := make(map[string]Decision, len(candidates))
	for _, d := range Decide(live, r.settings.RiskyPorts) {
		liveByID[d.Rule.SecurityGroupRuleId] = d
	}
	liveRule := indexByID(live)
	var confirmed []Decision
	for _, id := range candidates {
		d, ok := liveByID[id]
		switch {
		case ok && d.Risky:
			confirmed = append(confirmed, d)
		case ok:
			rep.Rules = append(rep.Rules, ruleReport(d, "kept"))
		case liveRule[id] != nil:
			// Still there but no longer an internet-sourced ingress rule.
			rep.Rules = append(rep.Rules, ruleReport(Decision{Rule: *liveRule[id], Reason: "no longer open to the internet in the live group"}, "kept"))
		default:
			rep.Rules = append(rep.Rules, RuleReport{RuleID: id, Action: "gone", Reason: "no longer in the live group"})
		}
	}
	if len(confirmed) == 0 {
		rep.Reason = "the snapshot's risky rules are no longer risky in the live group"
		return rep
	}
	if r.settings.DryRun {
		for _, d := range confirmed {
			rep.Rules = append(rep.Rules, ruleReport(d, string(WouldRevoke)))
		}
		rep.Outcome, rep.Reason = WouldRevoke, fmt.Sprintf("dry run: %d risky rule(s) would be revoked", len(confirmed))
		return rep
	}

	// Restrict mode: authorize the narrow rules first, so that an allowed
	// admin never loses access; on failure the wide rules stay.
	replacements, err := r.authorizeNarrow(ctx, res, confirmed, live)
	if isGroupGone(err) {
		return newReport(res, Skipped, "the security group no longer exists")
	} else if isManagedByProduct(err) {
		return newReport(res, Skipped, "managed by a cloud product (InvalidOperation.ResourceManagedByCloudProduct)")
	} else if err != nil {
		for _, d := range confirmed {
			rep.Rules = append(rep.Rules, ruleReport(d, "failed"))
		}
		rep.Outcome, rep.Reason = Failed, fmt.Sprintf("restrict mode: %v; nothing revoked", err)
		return rep
	}

	// 4. The backup, one JSON line per rule, before anything is revoked.
	for _, d := range confirmed {
		r.log.Info(BackupMessage, BackupKey, Backup{GroupID: res.ResourceID, Region: res.RegionID, Rule: d.Rule})
	}
	// 5. Revoke by rule ID.
	ids := make([]string, len(confirmed))
	for i, d := range confirmed {
		ids[i] = d.Rule.SecurityGroupRuleId
	}
	gone, err := r.revoke(ctx, res, ids)
	action := string(Revoked)
	switch {
	case isGroupGone(err):
		return newReport(res, Skipped, "the security group no longer exists")
	case isManagedByProduct(err):
		rep.Outcome, rep.Reason, action = Skipped, "managed by a cloud product (InvalidOperation.ResourceManagedByCloudProduct)", "kept"
	case err != nil:
		rep.Outcome, rep.Reason, action = Failed, err.Error(), "failed"
	default:
		rep.Outcome, rep.Reason = Revoked, fmt.Sprintf("revoked %d risky rule(s)", len(confirmed)-len(gone))
		if len(replacements) > 0 {
			rep.Reason += ", replaced by rules for " + strings.Join(r.allowedStrings(), ", ")
		}
	}
	for _, d := range confirmed {
		rr := ruleReport(d, action)
		if gone[d.Rule.SecurityGroupRuleId] {
			rr.Action, rr.Reason = "gone", "already revoked by someone else"
		}
		rr.Replacements = replacements[d.Rule.SecurityGroupRuleId]
		rep.Rules = append(rep.Rules, rr)
	}
	return rep
}

func (r *Remediator) exemptTag() string {
	if r.settings.ExemptValue == "" {
		return r.settings.ExemptKey
	}
	return r.settings.ExemptKey + "=" + r.settings.ExemptValue
}

func (r *Remediator) allowedStrings() []string {
	out := make([]string, len(r.settings.AllowedCIDRs))
	for i, p := range r.settings.AllowedCIDRs {
		out[i] = p.String()
	}
	return out
}

// liveRules reads every ingress rule of the live group, page by page.
func (r *Remediator) liveRules(ctx context.Context, res Resource) ([]Rule, error) {
	return ReadLiveRules(ctx, r.Retry, r.ecs, res.RegionID, res.ResourceID)
}

// maxPages bounds paging (a million rules), in case an API never ends it.
const maxPages = 1000

// ReadLiveRules reads every ingress rule of a live group, page by page,
// each page through retry.
func ReadLiveRules(ctx context.Context, retry RetryPolicy, ecs ECSAPI, region, groupID string) ([]Rule, error) {
	var rules []Rule
	token := ""
	for range maxPages {
		var page RulePage
		err := retry.Do(ctx, func(ctx context.Context) (err error) {
			page, err = ecs.DescribeSecurityGroupAttribute(ctx, region, groupID, token)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("DescribeSecurityGroupAttribute %s: %w", groupID, err)
		}
		rules = append(rules, page.Rules...)
		if page.NextToken == "" || page.NextToken == token {
			return rules, nil
		}
		token = page.NextToken
	}
	return nil, fmt.Errorf("DescribeSecurityGroupAttribute %s: more than %d pages", groupID, maxPages)
}

// indexByID maps each rule's SecurityGroupRuleId to the rule.
func indexByID(rules []Rule) map[string]*Rule {
	m := make(map[string]*Rule, len(rules))
	for i := range rules {
		m[rules[i].SecurityGroupRuleId] = &rules[i]
	}
	return m
}

// revoke revokes ids in calls of at most 100. A call with several IDs is all
// or nothing: when it fails because one rule is already gone, the live group
// is read again and the IDs that remain are revoked. It returns the IDs that
// were already gone.
func (r *Remediator) revoke(ctx context.Context, res Resource, ids []string) (map[string]bool, error) {
	gone := map[string]bool{}
	for start := 0; start < len(ids); start += maxIDsPerCall {
		chunk := ids[start:min(start+maxIDsPerCall, len(ids))]
		for attempt := 0; len(chunk) > 0; attempt++ {
			err := r.Retry.Do(ctx, func(ctx context.Context) error {
				return r.ecs.RevokeSecurityGroup(ctx, res.RegionID, res.ResourceID, chunk)
			})
			if err == nil {
				break
			}
			if !IsRuleGone(err) {
				return gone, fmt.Errorf("RevokeSecurityGroup %s: %w", res.ResourceID, err)
			}
			if len(chunk) == 1 {
				gone[chunk[0]] = true
				break
			}
			// Each round removes at least the rule that failed the call, so
			// this ends; the bound guards against an API that lies.
			if attempt >= 3 {
				return gone, fmt.Errorf("RevokeSecurityGroup %s: rules keep vanishing: %w", res.ResourceID, err)
			}
			live, lerr := r.liveRules(ctx, res)
			if lerr != nil {
				return gone, lerr
			}
			present := indexByID(live)
			var remain []string
			for _, id := range chunk {
				if present[id] != nil {
					remain = append(remain, id)
				} else {
					gone[id] = true
				}
			}
			chunk = remain
		}
	}
	return gone, nil
}

// authorizeNarrow creates, for each confirmed rule, the same rule for each
// allowed CIDR of its address family, skipping rules that already exist live.
// It returns rule ID -> narrow sources.
func (r *Remediator) authorizeNarrow(ctx context.Context, res Resource, confirmed []Decision, live []Rule) (map[string][]string, error) {
	if len(r.settings.AllowedCIDRs) == 0 {
		return nil, nil
	}
	replacements := map[string][]string{}
	var todo []Rule
	for _, d := range confirmed {
		for _, narrow := range NarrowRules(d.Rule, r.settings.AllowedCIDRs) {
			replacements[d.Rule.SecurityGroupRuleId] = append(replacements[d.Rule.SecurityGroupRuleId], narrow.Source())
			if !containsRule(live, narrow) {
				todo = append(todo, narrow)
			}
		}
	}
	return replacements, authorize(ctx, r.Retry, r.ecs, res.RegionID, res.ResourceID, todo)
}

// NarrowRules returns the replacements of a wide rule in restrict mode: the
// same rule for each allowed CIDR of the rule's address family, its
// description naming the original rule.
func NarrowRules(wide Rule, allowed []netip.Prefix) []Rule {
	var out []Rule
	v6 := wide.Ipv6SourceCidrIp != ""
	for _, p := range allowed {
		if p.Addr().Is6() != v6 {
			continue
		}
		n := wide
		n.SecurityGroupRuleId, n.CreateTime = "", ""
		n.SourceCidrIp, n.Ipv6SourceCidrIp = "", ""
		if v6 {
			n.Ipv6SourceCidrIp = p.String()
		} else {
			n.SourceCidrIp = p.String()
		}
		n.Description = "sg-remediation: narrowed from " + wide.SecurityGroupRuleId
		out = append(out, n)
	}
	return out
}

func containsRule(rules []Rule, want Rule) bool {
	for i := range rules {
		if SameRule(&rules[i], &want) {
			return true
		}
	}
	return false
}

// authorize creates rules in calls of at most 100. When a call fails because
// a rule already exists (an identical rule created concurrently), the rules
// are created one by one and duplicates count as done.
func authorize(ctx context.Context, retry RetryPolicy, ecs ECSAPI, region, groupID string, rules []Rule) error {
	call := func(batch []Rule) error {
		return retry.Do(ctx, func(ctx context.Context) error {
			return ecs.AuthorizeSecurityGroup(ctx, region, groupID, batch)
		})
	}
	for start := 0; start < len(rules); start += maxIDsPerCall {
		batch := rules[start:min(start+maxIDsPerCall, len(rules))]
		err := call(batch)
		if IsDuplicateRule(err) && len(batch) > 1 {
			err = nil
			for i := range batch {
				if e := call(batch[i : i+1]); e != nil && !IsDuplicateRule(e) {
					err = e
					break
				}
			}
		}
		if err != nil && !IsDuplicateRule(err) {
			return fmt.Errorf("AuthorizeSecurityGroup %s: %w", groupID, err)
		}
	}
	return nil
}
