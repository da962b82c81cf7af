package remediation

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// steps are the named steps of contract section 3 that remediation,
// evaluation and audit compose: read the snapshot, judge, confirm live,
// apply. They hold no per-resource state and are safe for concurrent use.
type steps struct {
	settings Settings
	config   ConfigAPI
	selector *Selector
	log      *slog.Logger
	// Retry is the retry policy of every cloud call.
	Retry RetryPolicy
	// Now is the clock that exceptions and exemption end dates are judged by.
	Now func() time.Time
}

func newSteps(s Settings, config ConfigAPI, log *slog.Logger) (steps, error) {
	sel, err := NewSelector()
	if err != nil {
		return steps{}, err
	}
	if len(s.RiskyPorts) == 0 {
		return steps{}, fmt.Errorf("%w: no risky ports", ErrBadSetting)
	}
	s.MaxConcurrency = max(s.MaxConcurrency, 1)
	return steps{settings: s, config: config, selector: sel, log: log, Retry: DefaultRetryPolicy, Now: time.Now}, nil
}

// Snapshot is a group as Cloud Config recorded it (step 1).
type Snapshot struct {
	Deleted bool
	Managed bool
	Tags    map[string][]string // the detail's tags and the document's, merged
	Rules   []Rule              // the rules CandidateExpr selects
	Count   int                 // every rule of the group, selected or not
}

// readSnapshot is step 1: GetDiscoveredResource (or, in account group mode,
// GetAggregateDiscoveredResource) and the candidate selection. A resource
// Config does not know is reported as deleted.
func (st *steps) readSnapshot(ctx context.Context, res Resource) (*Snapshot, error) {
	var det *DiscoveredResource
	err := st.Retry.Do(ctx, func(ctx context.Context) (err error) {
		if st.settings.AggregatorID != "" {
			det, err = st.config.GetAggregateDiscoveredResource(ctx, st.settings.AggregatorID, res.AccountID, res.RegionID, res.ResourceID, SecurityGroupType)
		} else {
			det, err = st.config.GetDiscoveredResource(ctx, res.RegionID, res.ResourceID, SecurityGroupType)
		}
		return err
	})
	switch {
	case isConfigResourceUnknown(err) || isGroupGone(err):
		return &Snapshot{Deleted: true}, nil
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", st.configAction(), res.ResourceID, err)
	case det.Deleted:
		return &Snapshot{Deleted: true}, nil
	}
	return st.parseSnapshot(det.Configuration, det.Tags)
}

// parseSnapshot selects the candidates of a configuration document.
func (st *steps) parseSnapshot(doc []byte, tags map[string][]string) (*Snapshot, error) {
	cfg, err := st.selector.ParseConfiguration(doc)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	merged := cfg.Tags
	for k, v := range tags {
		merged[k] = append(merged[k], v...)
	}
	return &Snapshot{Managed: cfg.ServiceManaged, Tags: merged, Rules: cfg.Candidates, Count: cfg.RuleCount}, nil
}

func (st *steps) configAction() string {
	if st.settings.AggregatorID != "" {
		return "GetAggregateDiscoveredResource"
	}
	return "GetDiscoveredResource"
}

// Judgement is step 2: whether the group is skipped, and the decision on
// each of its internet-open ingress rules, exceptions applied.
type Judgement struct {
	Skip      Outcome // Skipped for managed and exempt groups, else ""
	Exempt    bool
	Note      string // why skipped, or why a tagged group is not exempt
	Decisions []Decision
}

// judge is step 2 (sections 2 and 7): managed and exempt groups are
// skipped; the rules are decided and exceptions applied either way, so that
// an evaluation can report exempt exposure as real.
func (st *steps) judge(res Resource, managed bool, tags map[string][]string, rules []Rule) Judgement {
	var j Judgement
	if managed {
		j.Skip, j.Note = Skipped, "managed security group (ServiceManaged)"
	} else if j.Exempt, j.Note = st.settings.exemption(tags, st.Now()); j.Exempt {
		j.Skip = Skipped
	}
	j.Decisions = st.decide(res, rules)
	return j
}

// decide is Decide with the exceptions applied.
func (st *steps) decide(res Resource, rules []Rule) []Decision {
	ds := Decide(rules, st.settings.RiskyPorts)
	if len(st.settings.Exceptions) > 0 {
		now := st.Now()
		for i := range ds {
			ds[i] = except(ds[i], res, st.settings.Exceptions, now)
		}
	}
	return ds
}

// Live is step 3, the candidates confirmed against the live group.
type Live struct {
	Rules      []Rule     // every live ingress rule
	Confirmed  []Decision // still there and still risky: to revoke
	Unreadable []Decision // internet-open Accept rules whose range cannot be read
	Kept       []RuleReport
}

// confirmLive is step 3: read the live group and keep, of the candidate
// ids, those still there and still risky judged on the live rules (a Drop
// rule added since the snapshot counts).
func (st *steps) confirmLive(ctx context.Context, ecs ECSAPI, res Resource, candidates []string) (*Live, error) {
	rules, err := ReadLiveRules(ctx, st.Retry, ecs, res.RegionID, res.ResourceID)
	if err != nil {
		return nil, err
	}
	live := &Live{Rules: rules}
	byID := map[string]Decision{}
	for _, d := range st.decide(res, rules) {
		byID[d.Rule.SecurityGroupRuleId] = d
	}
	present := indexByID(rules)
	for _, id := range candidates {
		d, ok := byID[id]
		switch {
		case ok && d.Risky:
			live.Confirmed = append(live.Confirmed, d)
		case ok && d.Unreadable:
			live.Unreadable = append(live.Unreadable, d)
		case ok:
			live.Kept = append(live.Kept, ruleReport(d, keptAction(d)))
		case present[id] != nil:
			// Still there but no longer an internet-sourced ingress rule.
			live.Kept = append(live.Kept, ruleReport(Decision{Rule: *present[id], Reason: "no longer open to the internet in the live group"}, "kept"))
		default:
			live.Kept = append(live.Kept, RuleReport{RuleID: id, Action: "gone", Reason: "no longer in the live group"})
		}
	}
	return live, nil
}

func keptAction(d Decision) string {
	if d.Excepted != nil {
		return "excepted"
	}
	return "kept"
}

// Applied is what step 4 and 5 did.
type Applied struct {
	Gone         map[string]bool     // already revoked by someone else
	Replacements map[string][]string // rule id -> narrow sources (restrict mode)
}

// apply is steps 4 and 5: in restrict mode authorize the narrow rules
// first (on failure nothing is revoked), write the backup lines, revoke by
// rule id. In a dry run it only computes what it would do.
func (st *steps) apply(ctx context.Context, ecs ECSAPI, res Resource, live *Live) (Applied, error) {
	var out Applied
	todo := make([]Rule, 0, len(st.settings.AllowedCIDRs))
	for _, d := range live.Confirmed {
		for _, narrow := range NarrowRules(d.Rule, st.settings.AllowedCIDRs) {
			if out.Replacements == nil {
				out.Replacements = map[string][]string{}
			}
			out.Replacements[d.Rule.SecurityGroupRuleId] = append(out.Replacements[d.Rule.SecurityGroupRuleId], narrow.Source())
			if !ContainsRule(live.Rules, narrow) {
				todo = append(todo, narrow)
			}
		}
	}
	if st.settings.DryRun {
		return out, nil
	}
	// The narrow rules first, so that an allowed admin never loses access.
	if err := AuthorizeRules(ctx, st.Retry, ecs, res.RegionID, res.ResourceID, todo); err != nil {
		return out, &restrictError{err}
	}
	ids := make([]string, len(live.Confirmed))
	for i, d := range live.Confirmed {
		st.log.Info(BackupMessage, BackupKey, Backup{GroupID: res.ResourceID, Region: res.RegionID, AccountID: res.AccountID, Rule: d.Rule})
		ids[i] = d.Rule.SecurityGroupRuleId
	}
	var err error
	out.Gone, err = RevokeRules(ctx, st.Retry, ecs, res.RegionID, res.ResourceID, ids)
	return out, err
}

// restrictError is a failure of restrict mode's authorize: nothing was revoked.
type restrictError struct{ err error }

func (e *restrictError) Error() string {
	return "restrict mode: " + e.err.Error() + "; nothing revoked"
}
func (e *restrictError) Unwrap() error { return e.err }
