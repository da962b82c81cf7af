package remediation_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

func rateStat(t *testing.T, c *remediation.Cloud, region, action string) remediation.RateStat {
	t.Helper()
	for _, s := range c.RateStats() {
		if s.Region == region && s.Action == action {
			return s
		}
	}
	t.Fatalf("no rate stats for %s %s in %+v", region, action, c.RateStats())
	return remediation.RateStat{}
}

// A call the adapter refuses before sending is a local error: one attempt,
// no request.
func TestCloudLocalErrorIsNotRetried(t *testing.T) {
	e := newEnv(t, mixed("sg-1"))
	cloud := e.cloud(t)
	attempts := 0
	err := remediation.RetryPolicy{Base: time.Millisecond, Ceiling: time.Millisecond, TransientAttempts: 4}.Do(context.Background(),
		func(ctx context.Context) error {
			attempts++
			return cloud.RevokeSecurityGroup(ctx, region, "sg-1", nil)
		})
	var ce *remediation.CallError
	if !errors.As(err, &ce) || !ce.Local || ce.Resource != "sg-1" || remediation.Classify(err) != remediation.NoRetry {
		t.Errorf("err = %#v, want a local CallError naming sg-1", err)
	}
	if attempts != 1 || e.srv.CallCount("") != 0 {
		t.Errorf("%d attempts, %d requests; want 1 and 0", attempts, e.srv.CallCount(""))
	}
}

// With MAX_CALLS_PER_SECOND, calls are paced from the first one, and a call
// whose turn would come inside the deadline reserve is not started.
func TestCloudMaxCallsPerSecondAndDeadline(t *testing.T) {
	e := newEnv(t, mixed("sg-1"))
	cloud := e.cloud(t)
	cloud.SetMaxCallsPerSecond(1)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var errs []error
	for range 3 {
		_, err := cloud.DescribeSecurityGroupAttribute(ctx, region, "sg-1", "")
		errs = append(errs, err)
	}
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("first two calls: %v", errs[:2])
	}
	// The third call's turn is 2 s after the first: past the deadline.
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "no time left") {
		t.Errorf("third call: %v, want no time left", errs[2])
	}
	if remediation.Classify(errs[2]) != remediation.NoRetry {
		t.Errorf("third call's error is retried: %v", errs[2])
	}
	if n := e.srv.CallCount("DescribeSecurityGroupAttribute"); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	s := rateStat(t, cloud, region, "DescribeSecurityGroupAttribute")
	if !s.Limited || s.Rate != 1 || s.Calls != 2 || s.Throttled != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// Against a server-side quota, the Cloud learns a rate: every throttling
// answer is counted (and logged as a retry), and the calls all succeed.
func TestCloudLearnsTheQuota(t *testing.T) {
	e := newEnv(t, mixed("sg-1"))
	e.srv.SetQuota(20)
	cloud := e.cloud(t)
	var logs syncBuffer
	retry := remediation.RetryPolicy{Base: 5 * time.Millisecond, Ceiling: 50 * time.Millisecond, TransientAttempts: 3,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	var wg sync.WaitGroup
	errc := make(chan error, 40)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				errc <- retry.Do(context.Background(), func(ctx context.Context) error {
					_, err := cloud.DescribeSecurityGroupAttribute(ctx, region, "sg-1", "")
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	throttled := 0
	for _, c := range e.srv.Calls() {
		if strings.HasPrefix(c.Code, "Throttling") {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("the quota never throttled: the test proves nothing")
	}
	s := rateStat(t, cloud, region, "DescribeSecurityGroupAttribute")
	if !s.Limited || s.Rate <= 0 || s.Throttled != throttled || s.Calls != e.srv.CallCount("") || s.Calls != 40+throttled {
		t.Errorf("stats = %+v; server: %d calls, %d throttled", s, e.srv.CallCount(""), throttled)
	}
	if n := strings.Count(logs.String(), `"msg":"retry"`); n != throttled {
		t.Errorf("%d retry lines, want one per throttling answer (%d)", n, throttled)
	}
	if !strings.Contains(logs.String(), `"action":"DescribeSecurityGroupAttribute","resource":"sg-1"`) ||
		!strings.Contains(logs.String(), `"class":"throttled","code":"Throttling.User"`) {
		t.Errorf("retry lines do not name the call:\n%s", logs.String())
	}
	var buf bytes.Buffer
	cloud.LogRateStats(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)))
	if !strings.Contains(buf.String(), `"action":"DescribeSecurityGroupAttribute"`) || !strings.Contains(buf.String(), `"limited":true`) {
		t.Errorf("rate log: %s", buf.String())
	}
}

// Cloud Config calls are counted against the Config region's quota.
func TestCloudConfigCallsUseTheConfigRegion(t *testing.T) {
	e := newEnv(t, mixed("sg-1"))
	cloud := e.cloud(t)
	if _, err := cloud.GetDiscoveredResource(context.Background(), region, "sg-1", remediation.SecurityGroupType); err != nil {
		t.Fatal(err)
	}
	if s := rateStat(t, cloud, e.settings.ConfigRegion, "GetDiscoveredResource"); s.Calls != 1 || s.Limited {
		t.Errorf("stats = %+v", s)
	}
}

// Clouds of one account can share a limiter.
func TestCloudSharedRateLimiter(t *testing.T) {
	e := newEnv(t, mixed("sg-1"))
	a, b := e.cloud(t), e.cloud(t)
	b.SetRateLimiter(a.RateLimiter())
	for _, c := range []*remediation.Cloud{a, b} {
		if _, err := c.DescribeSecurityGroupAttribute(context.Background(), region, "sg-1", ""); err != nil {
			t.Fatal(err)
		}
	}
	if s := rateStat(t, a, region, "DescribeSecurityGroupAttribute"); s.Calls != 2 {
		t.Errorf("shared limiter saw %d calls, want 2", s.Calls)
	}
}
