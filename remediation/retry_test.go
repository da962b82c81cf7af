package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want RetryClass
	}{
		{&APIError{Code: "Throttling", StatusCode: 400}, RetryThrottled},
		{&APIError{Code: "Throttling.User", StatusCode: 400}, RetryThrottled},
		{&APIError{Code: "Throttling.Api", StatusCode: 429}, RetryThrottled},
		{&APIError{Code: "Whatever", StatusCode: 429}, RetryThrottled},
		{&APIError{Code: "ServiceUnavailable", StatusCode: 503}, RetryTransient},
		{&APIError{Code: "InternalError", StatusCode: 500}, RetryTransient},
		{&APIError{Code: "Unknown", StatusCode: 502}, RetryTransient},
		{errors.New("dial tcp: connection refused"), RetryTransient},
		{&APIError{Code: "SignatureDoesNotMatch", StatusCode: 403}, NoRetry},
		{&APIError{Code: "InvalidParam.SecurityGroupRuleId", StatusCode: 400}, NoRetry},
		{context.Canceled, NoRetry},
		{fmt.Errorf("Get: %w", context.DeadlineExceeded), RetryTransient}, // a call's own timeout
		{errNoTimeLeft, NoRetry},
		{nil, NoRetry},
		// Local errors: refused before sending, never retried.
		{&CallError{Action: "RevokeSecurityGroup", Local: true, Err: errors.New("0 rule IDs")}, NoRetry},
		{fmt.Errorf("wrapped: %w", &CallError{Action: "X", Local: true, Err: errors.New("bad")}), NoRetry},
		{tea.NewSDKError(map[string]any{"code": "ParameterMissing", "message": "'params' can not be unset"}), NoRetry},
		{&CallError{Action: "X", Err: tea.NewSDKError(map[string]any{"code": "InvalidCredentials"})}, NoRetry},
		// Network errors are retried.
		{&CallError{Action: "DescribeSecurityGroupAttribute", Err: errors.New("connection reset")}, RetryTransient},
		// SDK errors that carry an answer are classified by it.
		{tea.NewSDKError(map[string]any{"code": "Throttling.User", "statusCode": 400}), RetryThrottled},
		{tea.NewSDKError(map[string]any{"code": "ServiceUnavailable", "statusCode": 503}), RetryTransient},
		{tea.NewSDKError(map[string]any{"code": "Forbidden.RAM", "statusCode": 403}), NoRetry},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Base: 100 * time.Millisecond, Ceiling: 2 * time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 40: 2 * time.Second} {
		if got := p.Backoff(n, 0.999999999); got > want || got < want*99/100 {
			t.Errorf("Backoff(%d, ~1) = %v, want about %v", n, got, want)
		}
		if got := p.Backoff(n, 0); got != 0 {
			t.Errorf("Backoff(%d, 0) = %v: full jitter starts at zero", n, got)
		}
	}
}

func TestRetryDo(t *testing.T) {
	fast := RetryPolicy{Base: time.Millisecond, Ceiling: 4 * time.Millisecond, TransientAttempts: 3}
	count := func(errs ...error) (func(context.Context) error, *int) {
		n := 0
		return func(context.Context) error {
			n++
			if n <= len(errs) {
				return errs[n-1]
			}
			return nil
		}, &n
	}
	throttle := &APIError{Code: "Throttling.User", StatusCode: 400}
	unavailable := &APIError{Code: "ServiceUnavailable", StatusCode: 503}
	forbidden := &APIError{Code: "Forbidden.RAM", StatusCode: 403}

	// Throttling has no attempt limit: ten in a row, then success.
	call, n := count(throttle, throttle, throttle, throttle, throttle, throttle, throttle, throttle, throttle, throttle)
	if err := fast.Do(context.Background(), call); err != nil || *n != 11 {
		t.Errorf("throttling: err %v after %d calls", err, *n)
	}
	// Transient errors get TransientAttempts in all.
	call, n = count(unavailable, unavailable, unavailable, unavailable)
	if err := fast.Do(context.Background(), call); ErrorCode(err) != "ServiceUnavailable" || *n != 3 {
		t.Errorf("transient: err %v after %d calls", err, *n)
	}
	// Other 4xx: once.
	call, n = count(forbidden)
	if err := fast.Do(context.Background(), call); ErrorCode(err) != "Forbidden.RAM" || *n != 1 {
		t.Errorf("4xx: err %v after %d calls", err, *n)
	}
	// Throttled until the deadline, then the last error.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	slow := RetryPolicy{Base: 50 * time.Millisecond, Ceiling: 100 * time.Millisecond, TransientAttempts: 3}
	err := slow.Do(ctx, func(context.Context) error { return throttle })
	if ErrorCode(err) != "Throttling.User" {
		t.Errorf("deadline: err = %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Do ran into the deadline instead of stopping before it")
	}
	// No call starts with less than minCallTime left.
	ctx2, cancel2 := context.WithTimeout(context.Background(), minCallTime/2)
	defer cancel2()
	call, n = count()
	if err := fast.Do(ctx2, call); !errors.Is(err, errNoTimeLeft) || *n != 0 {
		t.Errorf("no time: err %v after %d calls", err, *n)
	}
}

func TestRetryZeroPolicyAndNoDeadline(t *testing.T) {
	throttle := &APIError{Code: "Throttling", StatusCode: 400}
	n := 0
	err := RetryPolicy{Base: time.Microsecond, Ceiling: time.Microsecond}.Do(context.Background(), func(context.Context) error { n++; return throttle })
	if ErrorCode(err) != "Throttling" || n != unboundedThrottleAttempts {
		t.Errorf("no deadline: %d attempts, err %v", n, err)
	}
	if p := (RetryPolicy{}).withDefaults(); p != DefaultRetryPolicy {
		t.Errorf("zero policy = %+v", p)
	}
}

// recorder is a RetryObserver.
type recorder struct{ events []RetryEvent }

func (r *recorder) Retried(ev RetryEvent) { r.events = append(r.events, ev) }

func TestRetryEvents(t *testing.T) {
	throttle := &APIError{Action: "RevokeSecurityGroup", Resource: "sg-1", Code: "Throttling.User", StatusCode: 400}
	unavailable := &APIError{Action: "DescribeSecurityGroupAttribute", Resource: "sg-2", Code: "ServiceUnavailable", StatusCode: 503}
	network := &CallError{Action: "GetDiscoveredResource", Resource: "sg-3", Err: errors.New("connection reset")}
	local := &CallError{Action: "RevokeSecurityGroup", Resource: "sg-4", Local: true, Err: errors.New("0 rule IDs")}
	bare := errors.New("dial tcp: connection refused")
	type want struct {
		action, resource string
		class            RetryClass
		code             string
	}
	for _, tt := range []struct {
		name             string
		action, resource string // DoCall's names
		errs             []error
		calls            int
		want             []want
	}{
		{"throttled twice", "", "", []error{throttle, throttle}, 3,
			[]want{{"RevokeSecurityGroup", "sg-1", RetryThrottled, "Throttling.User"}, {"RevokeSecurityGroup", "sg-1", RetryThrottled, "Throttling.User"}}},
		{"transient, then success", "", "", []error{unavailable}, 2,
			[]want{{"DescribeSecurityGroupAttribute", "sg-2", RetryTransient, "ServiceUnavailable"}}},
		{"network error", "", "", []error{network}, 2, []want{{"GetDiscoveredResource", "sg-3", RetryTransient, ""}}},
		{"transient until the attempts run out: no event for the last", "", "", []error{unavailable, unavailable, unavailable}, 3,
			[]want{{"DescribeSecurityGroupAttribute", "sg-2", RetryTransient, "ServiceUnavailable"}, {"DescribeSecurityGroupAttribute", "sg-2", RetryTransient, "ServiceUnavailable"}}},
		{"local error: one call, no retry", "", "", []error{local}, 1, nil},
		{"DoCall names a bare error", "RevokeSecurityGroup", "sg-9", []error{bare}, 2, []want{{"RevokeSecurityGroup", "sg-9", RetryTransient, ""}}},
		{"DoCall's names win", "Revoke", "sg-x", []error{throttle}, 2, []want{{"Revoke", "sg-x", RetryThrottled, "Throttling.User"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var buf bytes.Buffer
			p := RetryPolicy{Base: time.Millisecond, Ceiling: 2 * time.Millisecond, TransientAttempts: 3,
				Observer: rec, Log: slog.New(slog.NewJSONHandler(&buf, nil))}
			n := 0
			_ = p.DoCall(context.Background(), tt.action, tt.resource, func(context.Context) error {
				n++
				if n <= len(tt.errs) {
					return tt.errs[n-1]
				}
				return nil
			})
			if n != tt.calls {
				t.Errorf("%d calls, want %d", n, tt.calls)
			}
			if len(rec.events) != len(tt.want) {
				t.Fatalf("events %+v, want %d", rec.events, len(tt.want))
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(tt.want) == 0 && buf.Len() != 0 || len(tt.want) > 0 && len(lines) != len(tt.want) {
				t.Fatalf("log %q, want %d lines", buf.String(), len(tt.want))
			}
			for i, w := range tt.want {
				ev := rec.events[i]
				if ev.Action != w.action || ev.Resource != w.resource || ev.Class != w.class || ev.Code != w.code ||
					ev.Attempt != i+1 || ev.Wait < 0 || ev.Wait > 2*time.Millisecond || ev.Err != tt.errs[i] {
					t.Errorf("event %d = %+v, want %+v attempt %d", i, ev, w, i+1)
				}
				var line map[string]any
				if err := json.Unmarshal([]byte(lines[i]), &line); err != nil {
					t.Fatal(err)
				}
				level := "INFO"
				if w.class == RetryThrottled {
					level = "WARN"
				}
				if line["msg"] != "retry" || line["action"] != w.action || line["resource"] != w.resource ||
					line["attempt"] != float64(i+1) || line["class"] != w.class.String() || line["code"] != w.code ||
					line["level"] != level || line["error"] != tt.errs[i].Error() {
					t.Errorf("log line %d = %v", i, line)
				}
				if _, ok := line["waitMs"]; !ok {
					t.Errorf("log line %d has no waitMs: %v", i, line)
				}
			}
		})
	}
}

func TestRetryPolicyStaysComparable(t *testing.T) {
	// pin compares a RetryPolicy with the zero value; a policy that logs is
	// not the zero value.
	p := RetryPolicy{Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), Observer: &recorder{}}
	if p == (RetryPolicy{}) {
		t.Error("a policy with a logger equals the zero policy")
	}
}
