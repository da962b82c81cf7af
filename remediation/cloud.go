package remediation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/alibabacloud-go/tea/tea"
)

// ConfigAPI is the Cloud Config calls the remediation and evaluation make.
type ConfigAPI interface {
	GetDiscoveredResource(ctx context.Context, region, resourceID, resourceType string) (*DiscoveredResource, error)
	// GetAggregateDiscoveredResource reads a resource of accountID through
	// an account group (section 6).
	GetAggregateDiscoveredResource(ctx context.Context, aggregatorID, accountID, region, resourceID, resourceType string) (*DiscoveredResource, error)
	// PutEvaluations reports the verdict of a custom rule (section 9).
	PutEvaluations(ctx context.Context, resultToken string, evaluations []Evaluation) error
}

// DiscoveredResource is the part of GetDiscoveredResource's answer we use.
type DiscoveredResource struct {
	ResourceID    string
	Region        string
	ResourceType  string
	AccountID     string              // the owner, as Config recorded it
	Deleted       bool                // ResourceDeleted == 0
	Tags          map[string][]string // from the Tags JSON string
	Configuration []byte              // the Configuration JSON string
}

// ECSAPI is the set of ECS calls the remediation and restore make. Every call
// names the region because ECS endpoints are regional.
type ECSAPI interface {
	// DescribeSecurityGroupAttribute returns one page of the group's ingress
	// rules (Direction=ingress, MaxResults=1000).
	DescribeSecurityGroupAttribute(ctx context.Context, region, groupID, nextToken string) (RulePage, error)
	// RevokeSecurityGroup revokes ingress rules by SecurityGroupRuleId.N
	// (never by attributes, which match loosely). At most 100 IDs.
	RevokeSecurityGroup(ctx context.Context, region, groupID string, ruleIDs []string) error
	// AuthorizeSecurityGroup creates ingress rules (Permissions.N). At most 100.
	AuthorizeSecurityGroup(ctx context.Context, region, groupID string, rules []Rule) error
}

// RulePage is one page of DescribeSecurityGroupAttribute.
type RulePage struct {
	Rules     []Rule
	NextToken string
}

// APIActions are the RAM actions of every call the remediation makes; the
// Terraform policy grants exactly these (a test compares the two).
// RestrictActions are added when ALLOWED_CIDRS is set.
// AggregateActions are added in account group mode, EvaluationActions when
// the function is the Config rule.
var (
	APIActions        = []string{"config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"}
	RestrictActions   = []string{"ecs:AuthorizeSecurityGroup"}
	AggregateActions  = []string{"config:GetAggregateDiscoveredResource", "sts:AssumeRole"}
	EvaluationActions = []string{"config:PutEvaluations"}
)

// APIError is an error answer of a cloud API.
type APIError struct {
	Action     string
	Code       string
	Message    string
	StatusCode int
	Err        error  // the SDK's error
	Resource   string // what the call was about (a group or resource id), if known
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: %s (HTTP %d): %s", e.Action, e.Code, e.StatusCode, msg)
}

func (e *APIError) Unwrap() error { return e.Err }

// CallError is a call that got no answer from the API: a network error,
// retried as transient, or a Local one, refused before it was sent (an
// argument the adapter or the SDK rejects, a client that could not be built,
// no time left), which no retry can cure.
type CallError struct {
	Action   string
	Resource string // what the call was about, if known
	Local    bool
	Err      error
}

func (e *CallError) Error() string {
	if e.Resource != "" {
		return fmt.Sprintf("%s %s: %v", e.Action, e.Resource, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Action, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// ErrorCode returns the API error code in err's chain, or "".
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func codeIn(err error, codes ...string) bool {
	c := ErrorCode(err)
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// Error code groups from the contract (section 3).
func isGroupGone(err error) bool { return codeIn(err, "InvalidSecurityGroupId.NotFound") }

// IsRuleGone reports an answer that a rule does not exist (already revoked).
func IsRuleGone(err error) bool {
	return codeIn(err, "InvalidSecurityGroupRuleId.NotFound", "InvalidParam.SecurityGroupRuleId", "InvalidSecurityGroupRule.RuleNotExist")
}

func isManagedByProduct(err error) bool {
	return codeIn(err, "InvalidOperation.ResourceManagedByCloudProduct")
}

func isConfigResourceUnknown(err error) bool {
	return codeIn(err, "ResourceNotExist", "Invalid.ResourceId")
}

// IsDuplicateRule reports an answer that an identical rule already exists.
func IsDuplicateRule(err error) bool {
	return codeIn(err, "InvalidPermission.Duplicate", "InvalidSecurityGroupRule.RuleDuplicate")
}

// RetryClass says how an error is retried.
type RetryClass int

const (
	NoRetry        RetryClass = iota // other 4xx, bad input, deadline
	RetryThrottled                   // retried until the deadline
	RetryTransient                   // retried a few times
)

func (c RetryClass) String() string {
	switch c {
	case NoRetry:
		return "no-retry"
	case RetryThrottled:
		return "throttled"
	case RetryTransient:
		return "transient"
	}
	return fmt.Sprintf("RetryClass(%d)", int(c))
}

// Classify is the retry policy's decision on one error: Throttling* until the
// deadline; ServiceUnavailable, InternalError, HTTP 5xx and network errors a
// few times; everything else never, local errors (refused before sending)
// included.
func Classify(err error) RetryClass {
	// A DeadlineExceeded here is a call's own timeout (net/http reports it
	// so), a network error like any other; Do stops on the context's.
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, errNoTimeLeft) {
		return NoRetry
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return classifyAnswer(ae.Code, ae.StatusCode)
	}
	var ce *CallError
	if errors.As(err, &ce) && ce.Local {
		return NoRetry
	}
	// An SDK error that did not come from an adapter: with a status code it
	// is an answer; without one the SDK refused the call before sending it.
	var se *tea.SDKError
	if errors.As(err, &se) {
		if tea.IntValue(se.StatusCode) == 0 {
			return NoRetry
		}
		return classifyAnswer(tea.StringValue(se.Code), tea.IntValue(se.StatusCode))
	}
	return RetryTransient // network error: no answer at all
}

// classifyAnswer classifies an error answer of the API.
func classifyAnswer(code string, status int) RetryClass {
	switch {
	case strings.HasPrefix(code, "Throttling"), status == http.StatusTooManyRequests:
		return RetryThrottled
	case code == "ServiceUnavailable", code == "InternalError", status >= 500:
		return RetryTransient
	}
	return NoRetry
}

// RetryPolicy is exponential backoff with full jitter.
type RetryPolicy struct {
	Base              time.Duration // first backoff ceiling
	Ceiling           time.Duration // largest backoff ceiling
	TransientAttempts int           // attempts in all for RetryTransient errors

	// Log, if set, receives one line per retry (RetryEvent's fields), so
	// that throttling shows up in Log Service.
	Log *slog.Logger
	// Observer, if set, is told of each retry before its wait.
	Observer RetryObserver
}

// RetryObserver is told of each retry. RetryPolicy values are compared
// (pin compares one with the zero value), so an implementation must be a
// comparable type, such as a pointer.
type RetryObserver interface {
	Retried(RetryEvent)
}

// RetryEvent is one retry about to happen.
type RetryEvent struct {
	Action   string        // the API action, from DoCall or the error
	Resource string        // what the call is about, from DoCall or the error
	Attempt  int           // the attempt that failed, 1 = the first call
	Class    RetryClass    // RetryThrottled or RetryTransient
	Code     string        // the API error code, "" for a network error
	Wait     time.Duration // the backoff before the next attempt
	Err      error
}

// retryEvent describes the retry after attempt n failed with err.
func retryEvent(action, resource string, n int, class RetryClass, wait time.Duration, err error) RetryEvent {
	ev := RetryEvent{Action: action, Resource: resource, Attempt: n, Class: class, Wait: wait, Err: err}
	var ae *APIError
	var ce *CallError
	switch {
	case errors.As(err, &ae):
		ev.Code = ae.Code
		ev.Action = cmp.Or(ev.Action, ae.Action)
		ev.Resource = cmp.Or(ev.Resource, ae.Resource)
	case errors.As(err, &ce):
		ev.Action = cmp.Or(ev.Action, ce.Action)
		ev.Resource = cmp.Or(ev.Resource, ce.Resource)
	}
	return ev
}

// report hands ev to the Observer and Log.
func (p RetryPolicy) report(ctx context.Context, ev RetryEvent) {
	if p.Observer != nil {
		p.Observer.Retried(ev)
	}
	if p.Log != nil {
		level := slog.LevelInfo
		if ev.Class == RetryThrottled {
			level = slog.LevelWarn
		}
		p.Log.Log(ctx, level, "retry", "action", ev.Action, "resource", ev.Resource, "attempt", ev.Attempt,
			"class", ev.Class.String(), "code", ev.Code, "waitMs", ev.Wait.Milliseconds(), "error", ev.Err.Error())
	}
}

// DefaultRetryPolicy grows from 100 ms to 3 s; transient errors get 4 attempts.
var DefaultRetryPolicy = RetryPolicy{Base: 100 * time.Millisecond, Ceiling: 3 * time.Second, TransientAttempts: 4}

// Backoff returns the wait before retry number n (1 = first retry): a uniform
// draw in [0, min(Ceiling, Base*2^(n-1))). r is a number in [0, 1).
func (p RetryPolicy) Backoff(n int, r float64) time.Duration {
	limit := p.Ceiling
	if n < 32 {
		if d := p.Base << (n - 1); d > 0 && d < limit {
			limit = d
		}
	}
	return time.Duration(r * float64(limit))
}

// unboundedThrottleAttempts bounds throttling retries when the context has
// no deadline (about a minute at the default ceiling).
const unboundedThrottleAttempts = 30

// withDefaults fills zero fields from DefaultRetryPolicy, so that a zero
// RetryPolicy never retries in a tight loop.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = DefaultRetryPolicy.Base
	}
	if p.Ceiling < p.Base {
		p.Ceiling = max(p.Base, DefaultRetryPolicy.Ceiling)
	}
	if p.TransientAttempts < 1 {
		p.TransientAttempts = DefaultRetryPolicy.TransientAttempts
	}
	return p
}

// errNoTimeLeft is returned instead of starting a call inside the reserve.
var errNoTimeLeft = errors.New("no time left before the invocation deadline reserve")

// minCallTime is the least time a call is started with.
const minCallTime = 100 * time.Millisecond

// Do runs call until it succeeds, fails for good, or the context's deadline
// (the cutoff before the reserve) would be passed. The context's deadline
// is the point no call may run past; adapters derive their timeouts from it.
func (p RetryPolicy) Do(ctx context.Context, call func(context.Context) error) error {
	return p.DoCall(ctx, "", "", call)
}

// DoCall is Do for a call of action about resource, the names its retries
// are logged with (when empty, they are taken from the error).
func (p RetryPolicy) DoCall(ctx context.Context, action, resource string, call func(context.Context) error) error {
	p = p.withDefaults()
	_, bounded := ctx.Deadline()
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < minCallTime {
			return errNoTimeLeft
		}
		err := call(ctx)
		if err != nil && ctx.Err() != nil {
			return err
		}
		class := Classify(err)
		if class == NoRetry || class == RetryTransient && n >= p.TransientAttempts {
			return err
		}
		// Throttling is retried until the deadline; with no deadline (a
		// command-line run) it gets a bounded number of attempts instead.
		if !bounded && n >= unboundedThrottleAttempts {
			return fmt.Errorf("giving up after %d throttled attempts: %w", n, err)
		}
		wait := p.Backoff(n, rand.Float64())
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait+minCallTime {
			return fmt.Errorf("giving up after %d attempts, deadline near: %w", n, err)
		}
		if p.Observer != nil || p.Log != nil {
			p.report(ctx, retryEvent(action, resource, n, class, wait, err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("giving up after %d attempts: %w", n, err)
		case <-t.C:
		}
	}
}
