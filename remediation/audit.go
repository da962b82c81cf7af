package remediation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// AuditAPI is the ECS calls the audit makes (contract section 10): reads
// only. The function never makes the listing calls, so they are declared
// here, where they are consumed, and not in ECSAPI (whose methods are the
// function's RAM policy).
type AuditAPI interface {
	// DescribeRegions returns the ECS regions of the account.
	DescribeRegions(ctx context.Context) ([]string, error)
	// DescribeSecurityGroups returns one page (MaxResults 100) of a
	// region's groups, from nextToken ("" = the first page).
	DescribeSecurityGroups(ctx context.Context, region, nextToken string) (GroupPage, error)
	// DescribeSecurityGroupAttribute returns one page of a group's ingress
	// rules, as ECSAPI's.
	DescribeSecurityGroupAttribute(ctx context.Context, region, groupID, nextToken string) (RulePage, error)
}

// AuditActions are the RAM actions of every call the audit makes: the
// policy of whoever runs it. Reads only; GetCallerIdentity needs no grant
// but is listed because the audit calls it (for --event-out, and when an
// exception names an account).
var AuditActions = []string{"ecs:DescribeRegions", "ecs:DescribeSecurityGroups", "ecs:DescribeSecurityGroupAttribute", "sts:GetCallerIdentity"}

// GroupPage is one page of DescribeSecurityGroups.
type GroupPage struct {
	Groups    []GroupSummary
	NextToken string // "" on the last page
}

// GroupSummary is a group as DescribeSecurityGroups lists it.
type GroupSummary struct {
	ID, Name, VpcID string
	ServiceManaged  bool
	Tags            map[string][]string
	RuleCount       int
}

// GroupStatus is what the audit could do with one group.
type GroupStatus string

const (
	GroupRead    GroupStatus = "read"    // its ingress rules were read and judged
	GroupSkipped GroupStatus = "skipped" // managed, exempt, or gone since it was listed: not read
	GroupFailed  GroupStatus = "failed"  // its rules could not be read
)

// Finding statuses of a rule.
const (
	FindingRisky      = "risky"      // would be revoked by the remediation
	FindingExcepted   = "excepted"   // risky, kept by an unexpired exception
	FindingUnreadable = "unreadable" // internet-open Accept rule whose port range cannot be read
)

// AuditReport is the result of an audit: every group listed and a summary
// per region.
type AuditReport struct {
	AccountID string        `json:"accountId,omitempty"`
	Regions   []RegionAudit `json:"regions"`
	Groups    []GroupAudit  `json:"groups"` // by region (in the order asked), then group id
}

// RegionAudit is the summary of one region.
type RegionAudit struct {
	Region string `json:"regionId"`
	Groups int    `json:"groups"`  // listed by DescribeSecurityGroups
	Read   int    `json:"read"`    // rules read and judged
	Skip   int    `json:"skipped"` // managed, exempt or gone: not read
	Failed int    `json:"failed"`  // could not be read
	// Risky, Excepted and Unreadable count rules.
	Risky      int    `json:"risky"`
	Excepted   int    `json:"excepted"`
	Unreadable int    `json:"unreadable"`
	Error      string `json:"error,omitempty"` // the listing stopped: groups may be missing
}

// GroupAudit is the result for one group.
type GroupAudit struct {
	Region  string         `json:"regionId"`
	GroupID string         `json:"groupId"`
	Name    string         `json:"name,omitempty"`
	Status  GroupStatus    `json:"status"`
	Reason  string         `json:"reason,omitempty"`
	Rules   []AuditFinding `json:"rules,omitempty"` // risky, excepted and unreadable rules
}

// AuditFinding is a risky, excepted or unreadable rule.
type AuditFinding struct {
	RuleID    string   `json:"ruleId"`
	Policy    string   `json:"policy"`
	Priority  int      `json:"priority"`
	Protocol  string   `json:"protocol"`
	PortRange string   `json:"portRange"`
	Source    string   `json:"source"`
	Status    string   `json:"status"` // FindingRisky, FindingExcepted or FindingUnreadable
	Exposed   []string `json:"exposed,omitempty"`
	Reason    string   `json:"reason"`
}

// Risky reports whether the group has a rule the remediation would revoke.
func (g *GroupAudit) Risky() bool {
	for _, f := range g.Rules {
		if f.Status == FindingRisky {
			return true
		}
	}
	return false
}

// Clean reports whether every region was listed, every group not skipped
// was read, and no rule is risky or unreadable (exit status 0).
func (r *AuditReport) Clean() bool {
	for _, reg := range r.Regions {
		if reg.Error != "" || reg.Failed > 0 || reg.Risky > 0 || reg.Unreadable > 0 {
			return false
		}
	}
	return true
}

// Event returns the remediation event (section 1) naming every group with
// a risky rule, for replay --live.
func (r *AuditReport) Event() []Resource {
	var out []Resource
	for i := range r.Groups {
		if g := &r.Groups[i]; g.Risky() {
			out = append(out, Resource{RegionID: g.Region, AccountID: r.AccountID, ResourceID: g.GroupID, ResourceType: SecurityGroupType})
		}
	}
	return out
}

// Auditor reads live security groups and judges them with the steps of the
// remediation (managed, exempt with end dates, exceptions, Decide on the
// live rules), changing nothing. It is safe for concurrent use.
type Auditor struct {
	steps
	api AuditAPI
	// AccountID is the account whose groups are read (STS
	// GetCallerIdentity): it goes into the event, and exceptions naming an
	// account match against it, as in the remediation.
	AccountID string
	// Progress, when set, is called (never concurrently) each time a
	// group is listed or finished: done of total groups listed so far.
	Progress func(done, total int)
}

// NewAuditor returns an Auditor making its calls through api, at most
// s.MaxConcurrency of them in flight, each with the retries of section 3.
func NewAuditor(s Settings, api AuditAPI) (*Auditor, error) {
	st, err := newSteps(s, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &Auditor{steps: st, api: api}, nil
}

// Regions returns the account's ECS regions (DescribeRegions), sorted.
func (a *Auditor) Regions(ctx context.Context) ([]string, error) {
	var regions []string
	err := a.Retry.Do(ctx, func(ctx context.Context) (err error) {
		regions, err = a.api.DescribeRegions(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("DescribeRegions: %w", err)
	}
	slices.Sort(regions)
	regions = slices.Compact(regions)
	if len(regions) == 0 {
		return nil, errors.New("DescribeRegions: no region")
	}
	return regions, nil
}

// errReadOnly is what a write through the audit's ECS view answers.
var errReadOnly = errors.New("the audit is read-only: no write call")

// limited bounds the calls in flight: each attempt holds a slot of sem
// while it runs (not while a retry waits).
type limited struct {
	api AuditAPI
	sem chan struct{}
}

func (l *limited) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limited) release() { <-l.sem }

func (l *limited) DescribeSecurityGroups(ctx context.Context, region, token string) (GroupPage, error) {
	if err := l.acquire(ctx); err != nil {
		return GroupPage{}, err
	}
	defer l.release()
	return l.api.DescribeSecurityGroups(ctx, region, token)
}

// DescribeSecurityGroupAttribute implements ECSAPI, for ReadLiveRules.
func (l *limited) DescribeSecurityGroupAttribute(ctx context.Context, region, groupID, token string) (RulePage, error) {
	if err := l.acquire(ctx); err != nil {
		return RulePage{}, err
	}
	defer l.release()
	return l.api.DescribeSecurityGroupAttribute(ctx, region, groupID, token)
}

// RevokeSecurityGroup implements ECSAPI: refused, never sent.
func (l *limited) RevokeSecurityGroup(context.Context, string, string, []string) error {
	return errReadOnly
}

// AuthorizeSecurityGroup implements ECSAPI: refused, never sent.
func (l *limited) AuthorizeSecurityGroup(context.Context, string, string, []Rule) error {
	return errReadOnly
}

// auditJob is one listed group to judge.
type auditJob struct {
	slot   int // index in the report's groups
	region string
	group  GroupSummary
}

// auditRun is the state of one Audit call.
type auditRun struct {
	a    *Auditor
	api  *limited
	mu   sync.Mutex
	rep  *AuditReport
	done int
}

// Audit lists the groups of each region (DescribeSecurityGroups, paged)
// and reads the ingress rules (DescribeSecurityGroupAttribute, paged) of
// every group that is neither managed nor exempt, reading groups while the
// listing goes on. Failures are in the report, not returned: a region whose
// listing stopped, a group that could not be read.
func (a *Auditor) Audit(ctx context.Context, regions []string) *AuditReport {
	run := &auditRun{
		a:   a,
		api: &limited{api: a.api, sem: make(chan struct{}, a.settings.MaxConcurrency)},
		rep: &AuditReport{AccountID: a.AccountID, Regions: make([]RegionAudit, len(regions))},
	}
	jobs := make(chan auditJob, a.settings.MaxConcurrency)
	var listers, workers sync.WaitGroup
	for i, region := range regions {
		run.rep.Regions[i].Region = region
		listers.Add(1)
		go func() {
			defer listers.Done()
			if err := run.list(ctx, region, jobs); err != nil {
				run.mu.Lock()
				run.rep.Regions[i].Error = err.Error()
				run.mu.Unlock()
			}
		}()
	}
	for range a.settings.MaxConcurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for job := range jobs {
				g := run.judgeGroup(ctx, job)
				run.mu.Lock()
				run.rep.Groups[job.slot] = g
				run.done++
				run.progress()
				run.mu.Unlock()
			}
		}()
	}
	listers.Wait()
	close(jobs)
	workers.Wait()

	rep := run.rep
	order := make(map[string]int, len(regions))
	for i, r := range regions {
		order[r] = i
	}
	slices.SortStableFunc(rep.Groups, func(x, y GroupAudit) int {
		return cmp.Or(cmp.Compare(order[x.Region], order[y.Region]), cmp.Compare(x.GroupID, y.GroupID))
	})
	for _, g := range rep.Groups {
		reg := &rep.Regions[order[g.Region]]
		reg.Groups++
		switch g.Status {
		case GroupRead:
			reg.Read++
		case GroupSkipped:
			reg.Skip++
		case GroupFailed:
			reg.Failed++
		}
		for _, f := range g.Rules {
			switch f.Status {
			case FindingRisky:
				reg.Risky++
			case FindingExcepted:
				reg.Excepted++
			case FindingUnreadable:
				reg.Unreadable++
			}
		}
	}
	return rep
}

// progress reports under run.mu.
func (run *auditRun) progress() {
	if run.a.Progress != nil {
		run.a.Progress(run.done, len(run.rep.Groups))
	}
}

// list pages through a region's groups and hands each to the workers.
func (run *auditRun) list(ctx context.Context, region string, jobs chan<- auditJob) error {
	token := ""
	seen := map[string]bool{}
	for range maxPages {
		var page GroupPage
		err := run.a.Retry.Do(ctx, func(ctx context.Context) (err error) {
			page, err = run.api.DescribeSecurityGroups(ctx, region, token)
			return err
		})
		if err != nil {
			return fmt.Errorf("DescribeSecurityGroups %s: %w", region, err)
		}
		for _, g := range page.Groups {
			if seen[g.ID] { // a listing that shifted under the cursor
				continue
			}
			seen[g.ID] = true
			run.mu.Lock()
			slot := len(run.rep.Groups)
			run.rep.Groups = append(run.rep.Groups, GroupAudit{Region: region, GroupID: g.ID, Name: g.Name})
			run.progress()
			run.mu.Unlock()
			select {
			case jobs <- auditJob{slot: slot, region: region, group: g}:
			case <-ctx.Done():
				run.mu.Lock()
				run.rep.Groups[slot].Status, run.rep.Groups[slot].Reason = GroupFailed, "not read: "+ctx.Err().Error()
				run.mu.Unlock()
				return fmt.Errorf("DescribeSecurityGroups %s: stopped: %w", region, ctx.Err())
			}
		}
		if page.NextToken == "" || page.NextToken == token {
			return nil
		}
		token = page.NextToken
	}
	return fmt.Errorf("DescribeSecurityGroups %s: more than %d pages", region, maxPages)
}

// judgeGroup is the audit of one group: the remediation's judge step on
// the listing's ServiceManaged and tags (no read for a managed or exempt
// group), then on the live ingress rules.
func (run *auditRun) judgeGroup(ctx context.Context, job auditJob) GroupAudit {
	g := job.group
	out := GroupAudit{Region: job.region, GroupID: g.ID, Name: g.Name}
	res := Resource{RegionID: job.region, AccountID: run.a.AccountID, ResourceID: g.ID, ResourceType: SecurityGroupType}
	if j := run.a.judge(res, g.ServiceManaged, g.Tags, nil); j.Skip != "" {
		out.Status, out.Reason = GroupSkipped, j.Note
		return out
	}
	rules, err := ReadLiveRules(ctx, run.a.Retry, run.api, job.region, g.ID)
	switch {
	case isGroupGone(err):
		out.Status, out.Reason = GroupSkipped, "the security group no longer exists"
		return out
	case err != nil:
		out.Status, out.Reason = GroupFailed, err.Error()
		return out
	}
	j := run.a.judge(res, g.ServiceManaged, g.Tags, rules)
	out.Status, out.Reason = GroupRead, j.Note
	for _, d := range j.Decisions {
		status := ""
		switch {
		case d.Risky:
			status = FindingRisky
		case d.Unreadable:
			status = FindingUnreadable
		case d.Excepted != nil:
			status = FindingExcepted
		default:
			continue
		}
		r := d.Rule
		out.Rules = append(out.Rules, AuditFinding{
			RuleID: r.SecurityGroupRuleId, Policy: r.Policy, Priority: r.Priority.Effective(), Protocol: r.IpProtocol,
			PortRange: r.PortRange, Source: r.Source(), Status: status, Exposed: d.Exposed, Reason: joinNotes(d.Reason, j.Note),
		})
	}
	return out
}
