package remediation

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateKey names one API quota: quotas are counted per account, region and
// action, and one RateLimiter serves one account.
type RateKey struct {
	Region, Action string
}

// RateLimiter paces the calls of one account so as to share each API quota
// politely with the other callers in the account (issue #16), as the AWS
// SDKs' "adaptive" retry mode does. Per region and action:
//
//   - no limit until the first throttling answer (unless a hard cap is set);
//   - on a throttling answer, the rate falls to Decrease times the lesser of
//     the current rate and the rate of successful answers over the last
//     second (or half the rate of calls sent, when that is more: early in a
//     run few answers are back), at most once per round of calls: a throttling answer to a call
//     that started before the last decrease says nothing new;
//   - on each other answer, it rises additively: by Increase of the rate
//     before the last decrease (at least one call a second) per second of
//     calls at that rate;
//   - never above the hard cap, never below minRate.
//
// Calls are paced, not bursted: each call reserves the next free slot, one
// interval after the previous one. Waiting for a slot counts as waiting: it
// ends with the context, and a slot after the context's deadline (less the
// least call time) is refused with errNoTimeLeft instead of waited for.
//
// A RateLimiter is safe for concurrent use.
type RateLimiter struct {
	mu   sync.Mutex
	max  float64 // hard cap in calls a second, 0 = none
	keys map[RateKey]*rateState

	// now and sleep are the clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// Tuning of the adaptive rate. The decrease is that of the AWS SDKs'
// adaptive mode; the increase takes a halved rate back to where it was in
// about ten seconds.
const (
	rateDecrease = 0.7 // factor applied on throttling
	rateIncrease = 0.2 // per second, as a share of the rate before the last decrease
	minRate      = 1.0 // calls a second, the least rate ever set
	okWindow     = 10  // buckets of the success counter
	okBucket     = 100 * time.Millisecond
	maxRateLimit = 1e6  // largest accepted MAX_CALLS_PER_SECOND
	rateEpsilon  = 1e-9 // below this, a rate is zero
)

type rateState struct {
	limited   bool
	rate      float64   // calls a second, when limited
	peak      float64   // rate before the last decrease
	next      time.Time // earliest start of the next call, when limited
	gen       uint64    // number of decreases so far
	calls     int       // calls let through
	throttled int       // throttling answers
	waited    time.Duration

	// ok counts successful answers, sent the calls let through, in
	// okWindow buckets of okBucket.
	ok, sent [okWindow]int
	okSlot   int64 // index (time / okBucket) of the newest bucket
}

// RateTicket is a call let through by Wait; give it back to Observe with
// the answer.
type RateTicket struct {
	key RateKey
	gen uint64
}

// NewRateLimiter returns a limiter with a hard cap of maxPerSecond calls a
// second per region and action (0 = adaptive only).
func NewRateLimiter(maxPerSecond float64) *RateLimiter {
	l := &RateLimiter{keys: map[RateKey]*rateState{}, now: time.Now, sleep: sleepCtx}
	l.SetMax(maxPerSecond)
	return l
}

// SetMax sets the hard cap in calls a second per region and action; 0 (or
// less) removes it. Rates above a new cap come down to it.
func (l *RateLimiter) SetMax(perSecond float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max(perSecond, 0)
	for _, st := range l.keys {
		if l.max > 0 && (!st.limited || st.rate > l.max) {
			st.limited, st.rate = true, l.max
		}
	}
}

func (l *RateLimiter) state(key RateKey) *rateState {
	st, ok := l.keys[key]
	if !ok {
		st = &rateState{}
		if l.max > 0 {
			st.limited, st.rate, st.peak = true, l.max, l.max
		}
		l.keys[key] = st
	}
	return st
}

// Wait returns when a call of key may start. It fails with the context's
// error when the context ends first, and with errNoTimeLeft, without
// waiting, when the call could not start minCallTime before the context's
// deadline.
func (l *RateLimiter) Wait(ctx context.Context, key RateKey) (RateTicket, error) {
	if err := ctx.Err(); err != nil {
		return RateTicket{}, err
	}
	l.mu.Lock()
	st := l.state(key)
	t := RateTicket{key: key, gen: st.gen}
	now := l.now()
	st.roll(now)
	st.sent[st.okSlot%okWindow]++
	if !st.limited {
		st.calls++
		l.mu.Unlock()
		return t, nil
	}
	start := now
	if st.next.After(start) {
		start = st.next
	}
	if d, ok := ctx.Deadline(); ok && d.Sub(start) < minCallTime {
		l.mu.Unlock()
		return RateTicket{}, fmt.Errorf("the next turn of %s in %s is too late: %w", key.Action, key.Region, errNoTimeLeft)
	}
	st.next = start.Add(time.Duration(float64(time.Second) / st.rate))
	st.calls++
	wait := start.Sub(now)
	st.waited += wait
	l.mu.Unlock()
	if wait > 0 {
		if err := l.sleep(ctx, wait); err != nil {
			return RateTicket{}, err
		}
	}
	return t, nil
}

// Observe records the answer to a call Wait let through: throttled when it
// was a throttling answer. Calls that got no answer (network errors) are
// not observed.
func (l *RateLimiter) Observe(t RateTicket, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(t.key)
	now := l.now()
	if !throttled {
		st.countOK(now)
		if st.limited {
			rise := max(rateIncrease*st.peak, minRate)
			st.rate += rise / st.rate
			if l.max > 0 {
				st.rate = min(st.rate, l.max)
			}
		}
		return
	}
	st.throttled++
	if t.gen != st.gen {
		return // the call started before the last decrease
	}
	// What the quota let through lately. Early in a run few answers are
	// back yet, so half the rate of calls sent stands in for it: a throttle
	// on the first calls must not pace the rest of the run at minRate.
	ok, sent := st.recent(now)
	base := max(ok, sent/2)
	if st.limited {
		base = min(base, st.rate)
		st.peak = st.rate
	} else {
		st.peak = max(base, minRate)
	}
	st.rate = max(rateDecrease*base, minRate)
	if l.max > 0 {
		st.rate = min(st.rate, l.max)
	}
	st.limited = true
	st.gen++
	// The slots already handed out stay; the next ones follow at the new rate.
	if st.next.Before(now) {
		st.next = now
	}
}

// countOK counts one successful answer at now.
func (st *rateState) countOK(now time.Time) {
	st.roll(now)
	st.ok[st.okSlot%okWindow]++
}

// recent returns the rates of successful answers and of calls sent over
// the last second.
func (st *rateState) recent(now time.Time) (ok, sent float64) {
	st.roll(now)
	n, m := 0, 0
	for i := range st.ok {
		n, m = n+st.ok[i], m+st.sent[i]
	}
	per := float64(time.Second) / float64(okWindow*okBucket)
	return float64(n) * per, float64(m) * per
}

// roll moves the success counter's window to now.
func (st *rateState) roll(now time.Time) {
	slot := now.UnixNano() / int64(okBucket)
	if slot <= st.okSlot {
		return
	}
	if slot-st.okSlot >= okWindow {
		st.ok, st.sent = [okWindow]int{}, [okWindow]int{}
	} else {
		for s := st.okSlot + 1; s <= slot; s++ {
			st.ok[s%okWindow], st.sent[s%okWindow] = 0, 0
		}
	}
	st.okSlot = slot
}

// RateStat is what the limiter learned about one region and action.
type RateStat struct {
	Region, Action string
	Calls          int           // calls let through
	Throttled      int           // throttling answers
	Limited        bool          // a rate is in force
	Rate           float64       // calls a second, when Limited
	Waited         time.Duration // time calls spent waiting for their slot, summed
}

// Stats returns the state of every region and action seen, sorted.
func (l *RateLimiter) Stats() []RateStat {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RateStat, 0, len(l.keys))
	for k, st := range l.keys {
		s := RateStat{Region: k.Region, Action: k.Action, Calls: st.calls, Throttled: st.throttled, Limited: st.limited, Waited: st.waited}
		if st.limited {
			s.Rate = st.rate
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b RateStat) int {
		if c := strings.Compare(a.Region, b.Region); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return out
}

// LogStats writes one line per region and action to log: the calls, the
// throttling answers and the rate settled on, so that a user can size the
// quota. Call it once, at the end of an invocation.
func (l *RateLimiter) LogStats(ctx context.Context, log *slog.Logger) {
	if log == nil {
		return
	}
	for _, s := range l.Stats() {
		level := slog.LevelInfo
		if s.Throttled > 0 {
			level = slog.LevelWarn
		}
		attrs := []any{"regionId", s.Region, "action", s.Action, "calls", s.Calls, "throttled", s.Throttled,
			"limited", s.Limited, "waitedMs", s.Waited.Milliseconds()}
		if s.Limited {
			attrs = append(attrs, "callsPerSecond", math.Round(s.Rate*10)/10)
		}
		log.Log(ctx, level, "api rate", attrs...)
	}
}

// ParseMaxCallsPerSecond reads the MAX_CALLS_PER_SECOND setting: empty
// means no hard cap (0), otherwise a positive number of calls a second.
func ParseMaxCallsPerSecond(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < rateEpsilon || v > maxRateLimit {
		return 0, fmt.Errorf("%w: MAX_CALLS_PER_SECOND %q: want a number of calls a second above 0 and at most %g", ErrBadSetting, s, float64(maxRateLimit))
	}
	return v, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
