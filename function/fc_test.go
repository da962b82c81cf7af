package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// fakeRuntime is the FC runtime API (2020-11-11) as the Go runtime SDK
// speaks it: GET invocation/next blocks until an invocation is queued and
// hands it over (payload as body, context in x-fc-* headers); the function
// answers with POST invocation/{id}/response or invocation/{id}/error.
type fakeRuntime struct {
	srv     *httptest.Server
	queue   chan queuedInvocation
	closing chan struct{}
	nexts   chan time.Time // one per GET next, when it arrived

	mu      sync.Mutex
	results map[string]chan runtimeResult
}

type queuedInvocation struct {
	id      string
	payload []byte
	header  http.Header
}

// runtimeResult is what the function posted for an invocation.
type runtimeResult struct {
	kind string // "response" or "error"
	body []byte
	at   time.Time
}

const runtimePrefix = "/2020-11-11/runtime/invocation/"

func newFakeRuntime(t testing.TB) *fakeRuntime {
	rt := &fakeRuntime{
		queue:   make(chan queuedInvocation),
		closing: make(chan struct{}),
		nexts:   make(chan time.Time, 100),
		results: map[string]chan runtimeResult{},
	}
	rt.srv = httptest.NewServer(http.HandlerFunc(rt.serve))
	t.Cleanup(rt.close)
	return rt
}

// addr is the value of FC_RUNTIME_API.
func (rt *fakeRuntime) addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

func (rt *fakeRuntime) close() {
	select {
	case <-rt.closing:
	default:
		close(rt.closing)
	}
	rt.srv.Close()
}

func (rt *fakeRuntime) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	switch {
	case ok && path == "next" && r.Method == http.MethodGet:
		select {
		case rt.nexts <- time.Now():
		default:
		}
		select {
		case inv := <-rt.queue:
			for k, v := range inv.header {
				w.Header()[k] = v
			}
			w.Header().Set("x-fc-request-id", inv.id)
			w.WriteHeader(http.StatusOK)
			w.Write(inv.payload)
		case <-r.Context().Done():
		case <-rt.closing:
			http.Error(w, "closing", http.StatusServiceUnavailable)
		}
	case ok && r.Method == http.MethodPost && (strings.HasSuffix(path, "/response") || strings.HasSuffix(path, "/error")):
		id, kind, _ := strings.Cut(path, "/")
		body, _ := io.ReadAll(r.Body)
		rt.result(id) <- runtimeResult{kind: kind, body: body, at: time.Now()}
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (rt *fakeRuntime) result(id string) chan runtimeResult {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ch, ok := rt.results[id]
	if !ok {
		ch = make(chan runtimeResult, 1)
		rt.results[id] = ch
	}
	return ch
}

// fcCred is the credentials FC passes an invocation.
type fcCred struct{ ak, secret, token string }

// invoke queues an invocation with FC's headers and waits for the
// function's answer.
func (rt *fakeRuntime) invoke(t testing.TB, id string, payload []byte, cred fcCred, timeout time.Duration) runtimeResult {
	t.Helper()
	deadline := time.Now().Add(timeout)
	h := http.Header{}
	h.Set("x-fc-function-deadline", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("x-fc-function-timeout", strconv.Itoa(int(timeout/time.Second)))
	h.Set("x-fc-access-key-id", cred.ak)
	h.Set("x-fc-access-key-secret", cred.secret)
	h.Set("x-fc-security-token", cred.token)
	h.Set("x-fc-region", "cn-hangzhou")
	h.Set("x-fc-account-id", "1234567890123456")
	h.Set("x-fc-function-name", "sg-remediation")
	h.Set("x-fc-function-handler", "main")
	h.Set("x-fc-function-memory", "128")
	select {
	case rt.queue <- queuedInvocation{id: id, payload: payload, header: h}:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the function did not ask for the next invocation", id)
	}
	select {
	case res := <-rt.result(id):
		if res.at.After(deadline) {
			t.Errorf("%s: answered %s after the deadline", id, res.at.Sub(deadline))
		}
		return res
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("%s: no answer", id)
	}
	panic("unreachable")
}

// fcProcess is the function binary serving a fake runtime.
type fcProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exited         chan struct{}
}

// startFunction starts the built binary as FC would: FC_RUNTIME_API set,
// the settings in the environment and no credentials there.
func startFunction(t testing.TB, rt *fakeRuntime, extraEnv ...string) *fcProcess {
	t.Helper()
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append([]string{"FC_RUNTIME_API=" + rt.addr(), "HOME=" + t.TempDir(), "TZ=UTC"}, extraEnv...)
	p := &fcProcess{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *fcProcess) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

func (p *fcProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// invokeError is the body of POST .../error.
type invokeError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (r runtimeResult) error(t testing.TB) invokeError {
	t.Helper()
	if r.kind != "error" {
		t.Fatalf("answer %s %s, want an error", r.kind, r.body)
	}
	var e invokeError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return e
}

// TestFunctionBinary drives the real main loop (fc.Start) of the built
// binary through a fake FC runtime API.
func TestFunctionBinary(t *testing.T) {
	emu := stsEmulator(t)
	rt := newFakeRuntime(t)
	endpoints := []string{"CONFIG_ENDPOINT=" + emu.URL(), "ECS_ENDPOINT=" + emu.URL()}
	fn := startFunction(t, rt, endpoints...)
	good := fcCred{fcAK, fcSecret, fcToken}

	// (1) A good event: the JSON report, the rules revoked in the emulator.
	res := rt.invoke(t, "req-good", readEvent(t, "double-encoded.json"), good, 30*time.Second)
	if res.kind != "response" {
		t.Fatalf("answer %s: %s\nstderr:\n%s", res.kind, res.body, fn.stderr)
	}
	var rep remediation.Report
	if err := json.Unmarshal(res.body, &rep); err != nil {
		t.Fatalf("response %s: %v", res.body, err)
	}
	if rep.Summary[remediation.Revoked] != 2 || len(rep.Resources) != 2 {
		t.Errorf("report %s", res.body)
	}
	for id, want := range map[string]bool{"sgr-bp1web00000000000ssh": false, "sgr-bp1web00000000000rdp": false, "sgr-bp1web000000000https": true} {
		if liveIDs(t, emu, webGroup)[id] != want {
			t.Errorf("live rule %s present: %v, want %v", id, !want, want)
		}
	}
	if liveIDs(t, emu, ipv6Group)["sgr-bp1ipv6000000000ssh6"] {
		t.Error("the IPv6 SSH rule was not revoked")
	}

	// (1b) An evaluation event of the custom rule: the verdict answered and
	// reported with PutEvaluations, no ECS call.
	emu.ResetCalls()
	var m map[string]any
	if err := json.Unmarshal(readEvent(t, "evaluation-web.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["resultToken"] = emu.NewResultToken()
	payload, _ := json.Marshal(m)
	res = rt.invoke(t, "req-eval", payload, good, 30*time.Second)
	var verdict remediation.EvaluationReport
	if res.kind != "response" || json.Unmarshal(res.body, &verdict) != nil || verdict.ComplianceType != remediation.NonCompliant || !verdict.Reported {
		t.Errorf("evaluation answer %s: %s", res.kind, res.body)
	}
	if n, evs := emu.CallCount(""), emu.Evaluations(); n != 1 || len(evs) != 1 {
		t.Errorf("%d calls and %d evaluations for an evaluation, want only PutEvaluations", n, len(evs))
	}

	// (2) A bad event: an error with a clear message and no cloud call.
	emu.ResetCalls()
	e := rt.invoke(t, "req-bad", []byte(`{"resourceId":"sg-bp1web00000000000001"}`), good, 30*time.Second).error(t)
	if e.Type != errBadEvent || !strings.Contains(e.Message, "missing regionId") {
		t.Errorf("error %+v", e)
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d cloud calls for a bad event", n)
	}

	// (3) Wrong credentials: an error naming the failed resource.
	e = rt.invoke(t, "req-wrong-cred", readEvent(t, "database-mysql.json"), fcCred{fcAK, "wrong-secret", fcToken}, 30*time.Second).error(t)
	if e.Type != errRemediationFailed || !strings.Contains(e.Message, dbGroup) || !strings.Contains(e.Message, "SignatureDoesNotMatch") {
		t.Errorf("error %+v", e)
	}
	if !liveIDs(t, emu, dbGroup)["sgr-bp1db00000000mysqlany"] {
		t.Error("a rule was revoked with wrong credentials")
	}
	// No credentials at all: refused before any call.
	emu.ResetCalls()
	e = rt.invoke(t, "req-no-cred", readEvent(t, "database-mysql.json"), fcCred{}, 30*time.Second).error(t)
	if e.Type != errNoCredentials || emu.CallCount("") != 0 {
		t.Errorf("error %+v, %d calls", e, emu.CallCount(""))
	}

	// The deadline: a slow cloud, a 2 s function timeout; the answer names
	// every unfinished resource before the deadline (invoke checks it).
	emu.SetLatency(3 * time.Second)
	e = rt.invoke(t, "req-deadline", readEvent(t, "all-samples.json"), good, 2*time.Second).error(t)
	emu.SetLatency(0)
	if e.Type != errRemediationFailed || !strings.Contains(e.Message, "7 resource(s)") {
		t.Errorf("error %+v", e)
	}
	for id := range sampleGroups {
		if !strings.Contains(e.Message, id) {
			t.Errorf("the deadline error does not name %s", id)
		}
	}

	// (4) An invalid setting: every invocation fails before any call and the
	// process keeps serving.
	rt2 := newFakeRuntime(t)
	bad := startFunction(t, rt2, append(endpoints, "RISKY_PORTS=99999")...)
	emu.ResetCalls()
	for i := range 2 {
		e := rt2.invoke(t, fmt.Sprintf("req-setting-%d", i), readEvent(t, "web-ssh-rdp.json"), good, 30*time.Second).error(t)
		if e.Type != errInvalidSetting || !strings.Contains(e.Message, "RISKY_PORTS") || !strings.Contains(e.Message, "99999") {
			t.Errorf("error %+v", e)
		}
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d cloud calls with an invalid setting", n)
	}
	if !bad.running() {
		t.Errorf("the process exited\nstderr:\n%s", bad.stderr)
	}

	// (5) Stdout holds the slog JSON lines of each invocation, the backups
	// among them. (The runtime SDK adds its own "FC Invoke Start/End" lines.)
	fn.kill()
	var backups []remediation.Backup
	byRequest := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(fn.stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "FC Invoke ") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("stdout line is not JSON: %q", line)
			continue
		}
		id, _ := m["requestId"].(string)
		msg, _ := m["msg"].(string)
		byRequest[id] = append(byRequest[id], msg)
		if b, ok := remediation.ParseBackupLine([]byte(line)); ok {
			if id != "req-good" {
				t.Errorf("backup line of %q", id)
			}
			backups = append(backups, b)
		}
	}
	if len(backups) != 3 {
		t.Errorf("%d backup lines, want 3 (SSH and RDP of the web group, IPv6 SSH)\n%s", len(backups), fn.stdout)
	}
	for _, id := range []string{"req-good", "req-bad", "req-wrong-cred", "req-no-cred", "req-deadline"} {
		if len(byRequest[id]) == 0 {
			t.Errorf("no log line for %s", id)
		}
	}
	if got := strings.Join(byRequest["req-good"], ","); !strings.Contains(got, "invocation,") || !strings.Contains(got, "rule backup") || !strings.HasSuffix(got, "report") {
		t.Errorf("log of req-good: %s", got)
	}
	if got := strings.Join(byRequest["req-bad"], ","); got != "invocation failed" {
		t.Errorf("log of req-bad: %s", got)
	}
}
