package cloudtest

import (
	"maps"
	"net/url"
	"time"
)

// Call is one request the server answered.
type Call struct {
	Action string
	Params url.Values // the query and form body parameters
	Status int        // HTTP status of the answer
	Code   string     // error code, "" on success
	At     time.Time  // when the request arrived
	// AccountID and AccessKeyID are the caller's, once its signature was
	// verified ("" before).
	AccountID, AccessKeyID string
}

type fault struct {
	action string // "" = any
	n      int
	status int
	code   string
}

// bucket is a token bucket: rate tokens per second, burst = rate.
type bucket struct {
	rate   float64 // 0 = no quota
	tokens float64
	last   time.Time
}

func (s *Server) record(c Call) {
	s.fmu.Lock()
	s.calls = append(s.calls, c)
	s.counts[c.Action]++
	s.fmu.Unlock()
}

// Calls returns a copy of the calls answered since start or ResetCalls, in
// the order they finished.
func (s *Server) Calls() []Call {
	s.fmu.Lock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	s.fmu.Unlock()
	for i := range out {
		out[i].Params = cloneValues(out[i].Params)
	}
	return out
}

// CallCount returns the number of calls of action ("" = all actions) since
// start or ResetCalls, failed ones included.
func (s *Server) CallCount(action string) int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if action == "" {
		return len(s.calls)
	}
	return s.counts[action]
}

// ResetCalls clears the call log and restarts MaxInFlight from the number of
// calls being served now.
func (s *Server) ResetCalls() {
	s.fmu.Lock()
	s.calls = nil
	s.counts = make(map[string]int)
	s.fmu.Unlock()
	s.maxInflight.Store(s.inflight.Load())
}

// MaxInFlight returns the highest number of requests served at once since
// start or ResetCalls.
func (s *Server) MaxInFlight() int { return int(s.maxInflight.Load()) }

// FailNext makes the next n calls of action ("" = any action) answer HTTP
// status with the error code (defaults: 500, "InternalError"). Calls
// rejected earlier (signature, quota) do not consume it. n <= 0 cancels the
// pending failures of action. Several FailNext calls queue up in order.
func (s *Server) FailNext(action string, n int, status int, code string) {
	if status == 0 {
		status = 500
	}
	if code == "" {
		code = "InternalError"
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if n <= 0 {
		kept := s.faults[:0:0]
		for _, f := range s.faults {
			if f.action != action {
				kept = append(kept, f)
			}
		}
		s.faults = kept
		return
	}
	s.faults = append(s.faults, fault{action: action, n: n, status: status, code: code})
}

func (s *Server) takeFault(action string) *apiError {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.action != "" && f.action != action {
			continue
		}
		f.n--
		e := errorf(f.status, f.code, "Injected by cloudtest.FailNext.")
		if f.n == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return e
	}
	return nil
}

// SetLatency sets the latency added to every call from now on.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetQuota limits calls (all actions together) to perSecond, with a burst of
// perSecond; calls over it answer HTTP 400 Throttling.User. 0 disables it.
func (s *Server) SetQuota(perSecond int) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.quota = bucket{rate: float64(max(perSecond, 0)), tokens: float64(max(perSecond, 0)), last: time.Now()}
}

func (s *Server) takeToken() bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	b := &s.quota
	if b.rate <= 0 {
		return true
	}
	now := time.Now()
	b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Before registers fn to run before each call of action ("" = every action)
// is handled, after the signature, quota and FailNext checks passed. fn runs
// without any server lock held, so it may change the state (SetLiveRules,
// DeleteGroup, ...); it gets a copy of the call's parameters. nil removes it.
func (s *Server) Before(action string, fn func(params url.Values)) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if fn == nil {
		delete(s.hooks, action)
		return
	}
	s.hooks[action] = fn
}

func (s *Server) runHooks(action string, params url.Values) {
	s.fmu.Lock()
	all, specific := s.hooks[""], s.hooks[action]
	s.fmu.Unlock()
	if all != nil {
		all(cloneValues(params))
	}
	if specific != nil {
		specific(cloneValues(params))
	}
}

func cloneValues(v url.Values) url.Values {
	out := maps.Clone(v)
	for k, vs := range out {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
