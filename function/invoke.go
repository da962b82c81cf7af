package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/notify"
)

// invocation is one run of the function on one payload, under FC or
// replayed from the command line: the same code decides what the payload
// is (an evaluation of the custom rule, or a remediation event) and runs it.
type invocation struct {
	settings remediation.Settings
	cred     credentials.Credential
	// ownAccount is the function's account (FC context, or STS
	// GetCallerIdentity on the command line); "" when unknown.
	ownAccount string
	// region is the region the function runs in (STS's endpoint).
	region  string
	timeout time.Duration // the configured timeout; ctx carries the deadline
	log     *slog.Logger
	// noReport judges evaluations without PutEvaluations (a live replay
	// without --apply).
	noReport bool
	mu       sync.Mutex
	members  []*remediation.Cloud // the member accounts' clouds, for logRates

	// notifier sends the invocation's message to the webhooks (nil: none
	// configured, or a replay that only prints it).
	notifier *notify.Notifier
}

// loadSettings reads every setting, the notification ones included: an
// invalid one fails before any cloud call. The error wraps
// remediation.ErrBadSetting and never carries a credential.
func loadSettings(getenv func(string) string) (remediation.Settings, notify.Config, error) {
	s, err := remediation.LoadSettings(getenv)
	cfg, nerr := notify.ParseConfig(string(s.NotifyURL), string(s.NotifySecret), s.NotifyOn)
	return s, cfg, errors.Join(err, nerr)
}

// newNotifier returns the notifier of cfg, or nil when no URL is set.
func newNotifier(cfg notify.Config, log *slog.Logger) *notify.Notifier {
	if len(cfg.Targets) == 0 {
		return nil
	}
	return notify.New(cfg, log)
}

// errNothingDone marks a failure before any resource was touched.
var errNothingDone = errors.New("nothing done")

// decode decodes the payload: an evaluation event, or the resources of a
// remediation event (each without accountId given the own account). It makes
// no call.
func (inv *invocation) decode(payload []byte) (*remediation.EvaluationEvent, []remediation.Resource, error) {
	if remediation.IsEvaluationEvent(payload) {
		ev, err := remediation.DecodeEvaluation(payload)
		return ev, nil, err
	}
	resources, err := remediation.DecodeEvent(payload)
	if err != nil {
		return nil, nil, err
	}
	for i := range resources {
		if resources[i].AccountID == "" {
			resources[i].AccountID = inv.ownAccount
		}
	}
	return nil, resources, nil
}

// cloud builds the SDK adapter for the invocation's credentials.
func (inv *invocation) cloud() (*remediation.Cloud, error) {
	cloud, err := remediation.NewCloud(inv.cred, inv.settings)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNothingDone, err)
	}
	cloud.FunctionRegion = inv.region
	return cloud, nil
}

// evaluate runs an evaluation (contract section 9).
func (inv *invocation) evaluate(ctx context.Context, ev *remediation.EvaluationEvent) (*remediation.EvaluationReport, error) {
	cloud, err := inv.cloud()
	if err != nil {
		return nil, err
	}
	e, err := remediation.NewEvaluator(inv.settings, cloud, inv.log)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNothingDone, err)
	}
	e.OwnAccount, e.NoReport = inv.ownAccount, inv.noReport
	e.Retry.Log = inv.log
	defer cloud.LogRateStats(ctx, inv.log)
	return e.Evaluate(ctx, ev, inv.timeout)
}

// remediate runs a remediation (contract section 3). The error is a
// *remediation.FailedError when resources failed, another error when
// nothing could start.
func (inv *invocation) remediate(ctx context.Context, resources []remediation.Resource) (*remediation.Report, error) {
	cloud, err := inv.cloud()
	if err != nil {
		return nil, err
	}
	accounts, err := inv.accounts(ctx, cloud, resources)
	if err != nil {
		return nil, err
	}
	// Once per invocation: the rate each action settled on and the
	// throttled answers, per account, to size the quota.
	defer inv.logRates(ctx, cloud)
	rem, err := remediation.NewForAccounts(inv.settings, cloud, accounts, inv.log)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNothingDone, err)
	}
	rem.Timeout = inv.timeout
	rem.Retry.Log = inv.log
	report, err := rem.Execute(ctx, resources)
	if report != nil && inv.notifier != nil {
		// After the work and before the answer, within the same cutoff: a
		// notification never delays the answer past the reserve, and its
		// failure changes nothing (Send logs it as a warning).
		nctx, cancel := remediation.WithReserve(ctx, inv.timeout)
		inv.notifier.Send(nctx, report)
		cancel()
	}
	return report, err
}

// accounts returns whose credentials sign the ECS calls on each resource
// (section 6): the invocation's for the own account, the assumed role's for
// a member, at most one AssumeRole per member and invocation. Nothing is
// cached across invocations: FC rotates the invocation's credentials.
func (inv *invocation) accounts(ctx context.Context, cloud *remediation.Cloud, resources []remediation.Resource) (remediation.Accounts, error) {
	own := inv.ownAccount
	if own == "" && inv.settings.MemberRoleName == "" && inv.settings.AggregatorID == "" {
		// Single-account mode and the account is unknown (an old runtime, a
		// replay): the invocation's credentials can only see their own
		// account's groups, so every resource is theirs.
		return remediation.OneAccount{API: cloud}, nil
	}
	if own == "" && namesOtherAccount(resources, "") {
		id, err := cloud.GetCallerIdentity(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: which account do these credentials belong to? %v", errNothingDone, err)
		}
		own = id.AccountID
	}
	retry := remediation.DefaultRetryPolicy
	retry.Log = inv.log
	return remediation.NewMemberAccounts(own, cloud, inv.settings.MemberRoleName, cloud, retry,
		func(cr remediation.AssumedCredentials) (remediation.ECSAPI, error) {
			member, err := cloud.ForCredentials(cr)
			if err == nil {
				inv.mu.Lock()
				inv.members = append(inv.members, member)
				inv.mu.Unlock()
			}
			return member, err
		}), nil
}

// logRates logs what the rate limiters of the invocation's account and of
// every member account learned.
func (inv *invocation) logRates(ctx context.Context, own *remediation.Cloud) {
	own.LogRateStats(ctx, inv.log)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, m := range inv.members {
		m.LogRateStats(ctx, inv.log)
	}
}

// namesOtherAccount reports whether a resource names an account other than
// own (with own "", any account).
func namesOtherAccount(resources []remediation.Resource, own string) bool {
	for _, r := range resources {
		if r.AccountID != "" && r.AccountID != own {
			return true
		}
	}
	return false
}
