package remediation

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
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
