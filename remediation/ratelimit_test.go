package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeClock drives a RateLimiter: sleeps are recorded and do not advance
// the clock unless advance is set.
type fakeClock struct {
	t       time.Time
	slept   []time.Duration
	advance bool
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.slept = append(c.slept, d)
	if c.advance {
		c.t = c.t.Add(d)
	}
	return nil
}

func newTestLimiter(max float64) (*RateLimiter, *fakeClock) {
	// Aligned to a second, so that the success counter's 100 ms buckets
	// hold what the tests expect.
	c := &fakeClock{t: time.Now().Truncate(time.Second)}
	l := NewRateLimiter(max)
	l.now, l.sleep = c.now, c.sleep
	return l, c
}

var keyA = RateKey{Region: "cn-hangzhou", Action: "DescribeSecurityGroupAttribute"}

func stat(t *testing.T, l *RateLimiter, k RateKey) RateStat {
	t.Helper()
	for _, s := range l.Stats() {
		if s.Region == k.Region && s.Action == k.Action {
			return s
		}
	}
	t.Fatalf("no stats for %v", k)
	return RateStat{}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*max(1, math.Abs(b)) }

// succeed lets n calls through and answers each with success, dt apart.
func succeed(t *testing.T, l *RateLimiter, c *fakeClock, k RateKey, n int, dt time.Duration) {
	t.Helper()
	for i := range n {
		if i > 0 {
			c.t = c.t.Add(dt)
		}
		tk, err := l.Wait(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		l.Observe(tk, false)
	}
}

func TestRateLimiterUnlimitedUntilThrottled(t *testing.T) {
	l, c := newTestLimiter(0)
	succeed(t, l, c, keyA, 1000, 0)
	if len(c.slept) != 0 {
		t.Errorf("slept %d times before any throttling", len(c.slept))
	}
	if s := stat(t, l, keyA); s.Limited || s.Calls != 1000 || s.Throttled != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRateLimiterDecrease(t *testing.T) {
	l, c := newTestLimiter(0)
	// 100 successes over the last second, then two calls in flight are
	// throttled: the first answer sets 0.7 x 100 calls a second; the second
	// started before that decrease and changes nothing.
	succeed(t, l, c, keyA, 100, 10*time.Millisecond)
	t1, _ := l.Wait(context.Background(), keyA)
	t2, _ := l.Wait(context.Background(), keyA)
	l.Observe(t1, true)
	l.Observe(t2, true)
	s := stat(t, l, keyA)
	if !s.Limited || !near(s.Rate, 70) || s.Throttled != 2 {
		t.Fatalf("after the first throttling: %+v, want limited at 70/s, 2 throttled", s)
	}
	// A call let through after the decrease is throttled too: decrease again,
	// from the lesser of the rate (70) and the successes of the last second.
	t3, _ := l.Wait(context.Background(), keyA)
	l.Observe(t3, true)
	if s := stat(t, l, keyA); !near(s.Rate, 49) {
		t.Errorf("second decrease: rate %v, want 49", s.Rate)
	}
	// Much later, with no success in the last second: the floor.
	c.t = c.t.Add(time.Minute)
	t4, _ := l.Wait(context.Background(), keyA)
	l.Observe(t4, true)
	if s := stat(t, l, keyA); !near(s.Rate, minRate) {
		t.Errorf("decrease with no recent success: rate %v, want %v", s.Rate, minRate)
	}
}

func TestRateLimiterIncrease(t *testing.T) {
	l, c := newTestLimiter(0)
	c.advance = true
	succeed(t, l, c, keyA, 100, 10*time.Millisecond)
	tk, _ := l.Wait(context.Background(), keyA)
	l.Observe(tk, true) // 70/s, peak 100
	// Each success adds rateIncrease*peak/rate: one second of calls at the
	// rate adds about rateIncrease*peak = 20 calls a second.
	var prev float64 = 70
	for i := range 70 {
		tk, err := l.Wait(context.Background(), keyA)
		if err != nil {
			t.Fatal(err)
		}
		l.Observe(tk, false)
		r := stat(t, l, keyA).Rate
		if want := prev + rateIncrease*100/prev; !near(r, want) {
			t.Fatalf("success %d: rate %v, want %v", i, r, want)
		}
		prev = r
	}
	// r*dr = 20 per success, so r^2 grows by 40 each: sqrt(70^2+70*40).
	if want := math.Sqrt(70*70 + 70*40); math.Abs(prev-want) > 0.2 {
		t.Errorf("after 70 successes: rate %v, want about %v", prev, want)
	}
}

func TestRateLimiterPacing(t *testing.T) {
	l, c := newTestLimiter(10) // hard cap: limited from the first call
	for range 4 {
		if _, err := l.Wait(context.Background(), keyA); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	if len(c.slept) != len(want) {
		t.Fatalf("slept %v, want %v", c.slept, want)
	}
	for i := range want {
		if c.slept[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, c.slept[i], want[i])
		}
	}
	// A slot in the past is not saved up: after an idle second the next
	// call goes at once and the one after it an interval later.
	c.t = c.t.Add(2 * time.Second)
	c.slept = nil
	l.Wait(context.Background(), keyA)
	l.Wait(context.Background(), keyA)
	if len(c.slept) != 1 || c.slept[0] != 100*time.Millisecond {
		t.Errorf("after idling: slept %v, want [100ms]", c.slept)
	}
	if s := stat(t, l, keyA); s.Waited != 700*time.Millisecond || s.Calls != 6 {
		t.Errorf("stats = %+v, want 6 calls and 700ms waited", s)
	}
}

func TestRateLimiterHardCap(t *testing.T) {
	l, c := newTestLimiter(5)
	if s := l.Stats(); len(s) != 0 {
		t.Fatalf("stats before any call: %+v", s)
	}
	c.advance = true
	succeed(t, l, c, keyA, 200, 0)
	if s := stat(t, l, keyA); !s.Limited || s.Rate != 5 {
		t.Errorf("rate rose past the cap: %+v", s)
	}
	// One success every 200 ms: the last second (the current 100 ms bucket
	// and the nine before it) holds 4 when the throttling answer comes.
	tk, _ := l.Wait(context.Background(), keyA)
	l.Observe(tk, true)
	if s := stat(t, l, keyA); !near(s.Rate, 0.7*4) {
		t.Errorf("throttled under the cap: rate %v, want 2.8", s.Rate)
	}
	// Lowering the cap brings the rate down; removing it keeps the rate.
	l.SetMax(2)
	if s := stat(t, l, keyA); s.Rate != 2 {
		t.Errorf("after SetMax(2): rate %v", s.Rate)
	}
	l.SetMax(0)
	if s := stat(t, l, keyA); !s.Limited || s.Rate != 2 {
		t.Errorf("after SetMax(0): %+v", s)
	}
}

func TestRateLimiterKeysAreSeparate(t *testing.T) {
	l, c := newTestLimiter(0)
	other := []RateKey{{Region: "cn-hangzhou", Action: "RevokeSecurityGroup"}, {Region: "cn-beijing", Action: keyA.Action}}
	for _, k := range other {
		succeed(t, l, c, k, 1, 0)
	}
	tk, _ := l.Wait(context.Background(), keyA)
	l.Observe(tk, true)
	for _, k := range other {
		if s := stat(t, l, k); s.Limited {
			t.Errorf("%v limited by %v's throttling", k, keyA)
		}
	}
	if !stat(t, l, keyA).Limited {
		t.Errorf("%v not limited", keyA)
	}
}

func TestRateLimiterDeadline(t *testing.T) {
	l, c := newTestLimiter(1)
	ctx, cancel := context.WithDeadline(context.Background(), c.t.Add(10*time.Second))
	defer cancel()
	// Slots at 0, 1, ..., 9 s start at least minCallTime before the
	// deadline; the one at 10 s does not and is refused without a wait.
	for i := range 10 {
		if _, err := l.Wait(ctx, keyA); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	n := len(c.slept)
	if _, err := l.Wait(ctx, keyA); !errors.Is(err, errNoTimeLeft) || len(c.slept) != n {
		t.Errorf("slot past the deadline: err %v, slept %d more times", err, len(c.slept)-n)
	}
	if Classify(&CallError{Action: keyA.Action, Local: true, Err: errNoTimeLeft}) != NoRetry {
		t.Errorf("no time left is retried")
	}
	// The refused call took no slot: with a later deadline, the next call
	// gets the 10 s slot.
	ctx2, cancel2 := context.WithDeadline(context.Background(), c.t.Add(time.Minute))
	defer cancel2()
	if _, err := l.Wait(ctx2, keyA); err != nil || c.slept[len(c.slept)-1] != 10*time.Second {
		t.Errorf("next call: err %v, waited %v, want 10s", err, c.slept[len(c.slept)-1])
	}
	// A cancelled context ends the wait.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := l.Wait(ctx3, keyA); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

func TestRateLimiterRealSleepEndsWithContext(t *testing.T) {
	l := NewRateLimiter(1)
	l.Wait(context.Background(), keyA) // the next slot is a second away
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Wait(ctx, keyA)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRateLimiterLogStats(t *testing.T) {
	l, c := newTestLimiter(0)
	succeed(t, l, c, keyA, 10, 10*time.Millisecond)
	tk, _ := l.Wait(context.Background(), keyA)
	l.Observe(tk, true)
	k2 := RateKey{Region: "cn-shanghai", Action: "GetDiscoveredResource"}
	succeed(t, l, c, k2, 3, 0)
	var buf bytes.Buffer
	l.LogStats(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per region and action:\n%s", len(lines), buf.String())
	}
	var got []map[string]any
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	// Sorted by region, then action.
	if got[0]["action"] != keyA.Action || got[0]["calls"] != 11.0 || got[0]["throttled"] != 1.0 ||
		got[0]["limited"] != true || got[0]["callsPerSecond"] != 7.0 || got[0]["level"] != "WARN" {
		t.Errorf("line 1 = %v", got[0])
	}
	if got[1]["action"] != k2.Action || got[1]["calls"] != 3.0 || got[1]["limited"] != false || got[1]["level"] != "INFO" {
		t.Errorf("line 2 = %v", got[1])
	}
	if _, ok := got[1]["callsPerSecond"]; ok {
		t.Errorf("an unlimited action logs a rate: %v", got[1])
	}
}

func TestParseMaxCallsPerSecond(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true}, {"  ", 0, true}, {"10", 10, true}, {" 0.5 ", 0.5, true}, {"1e6", 1e6, true},
		{"0", 0, false}, {"-1", 0, false}, {"abc", 0, false}, {"NaN", 0, false}, {"Inf", 0, false},
		{"1e7", 0, false}, {"10/s", 0, false},
	} {
		got, err := ParseMaxCallsPerSecond(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMaxCallsPerSecond(%q) = %v, %v", tt.in, got, err)
		}
		if err != nil && (!errors.Is(err, ErrBadSetting) || !strings.Contains(err.Error(), "MAX_CALLS_PER_SECOND")) {
			t.Errorf("ParseMaxCallsPerSecond(%q): error %v does not name the setting", tt.in, err)
		}
	}
}
