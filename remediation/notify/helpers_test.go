package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/notify"
	"github.com/sg-remediation/sg-remediation/remediation/notify/notifytest"
)

// testSecret is NOTIFY_SECRET in the tests; it must never be printed.
const testSecret = "SEC-a8f3e2d1c0b9-notify-secret"

// fixedNow is the clock of the notifier and the emulator.
var fixedNow = time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one test's emulator, log capture and leak check: at the end of
// the test every captured log line, error and preview is searched for the
// emulator's tokens and the secret.
type env struct {
	t      *testing.T
	srv    *notifytest.Server
	logs   *syncBuffer
	log    *slog.Logger
	mu     sync.Mutex
	output []string
	extra  []string // more secrets to look for
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, srv: notifytest.NewServer(), logs: &syncBuffer{}}
	e.srv.SetClock(func() time.Time { return fixedNow })
	e.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		e.srv.Close()
		e.checkLeaks()
	})
	return e
}

// record adds any output (errors, previews, results) to the leak check.
func (e *env) record(vs ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vs {
		switch v := v.(type) {
		case error:
			if v != nil {
				e.output = append(e.output, v.Error(), fmt.Sprintf("%+v %#v", v, v))
			}
		case []notify.Result:
			for _, r := range v {
				e.output = append(e.output, fmt.Sprintf("%v %+v %#v", r, r, r))
				if r.Err != nil {
					e.output = append(e.output, r.Err.Error())
				}
			}
		case []notify.Message:
			for _, m := range v {
				e.output = append(e.output, fmt.Sprintf("%v %+v %#v %s", m, m, m, m.Body))
			}
		default:
			e.output = append(e.output, fmt.Sprintf("%v %+v %#v", v, v, v))
		}
	}
}

func (e *env) checkLeaks() {
	e.t.Helper()
	secrets := []string{testSecret}
	for _, k := range notifytest.Kinds {
		secrets = append(secrets, e.srv.Token(k))
	}
	secrets = append(secrets, e.extra...)
	e.mu.Lock()
	all := append([]string{e.logs.String()}, e.output...)
	e.mu.Unlock()
	for _, out := range all {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				e.t.Errorf("a credential (%.4s…) appears in output: %.300s", s, out)
			}
		}
	}
}

// notifier builds a Notifier for urls from the settings' strings, with the
// fixed clock and short bounds.
func (e *env) notifier(urls, secret, on string) *notify.Notifier {
	e.t.Helper()
	cfg, err := notify.ParseConfig(urls, secret, on)
	e.record(err, cfg)
	if err != nil {
		e.t.Fatalf("ParseConfig: %v", err)
	}
	cfg.Now = func() time.Time { return fixedNow }
	cfg.AttemptTimeout = 500 * time.Millisecond
	cfg.PerURLTimeout = 1500 * time.Millisecond
	cfg.RetryDelay = 20 * time.Millisecond
	return notify.New(cfg, e.log)
}

func (e *env) send(n *notify.Notifier, r *remediation.Report) []notify.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := n.Send(ctx, r)
	e.record(res, n.Preview(r))
	return res
}

func rule(id, ports, source, action, reason string, repl ...string) remediation.RuleReport {
	return remediation.RuleReport{
		RuleID: id, Policy: "Accept", Priority: 1, Protocol: "TCP", PortRange: ports,
		Source: source, Action: action, Reason: reason, Replacements: repl,
	}
}

// sampleReport has two revoked groups (one in restrict mode), one failure
// and one compliant group.
func sampleReport() *remediation.Report {
	return &remediation.Report{
		Resources: []remediation.ResourceReport{
			{ResourceID: "sg-compliant1", Region: "cn-beijing", AccountID: "1111", Outcome: remediation.Compliant, Reason: "no risky rule"},
			{ResourceID: "sg-revoked1", Region: "cn-hangzhou", AccountID: "1234567890", Outcome: remediation.Revoked, Reason: "1 risky rule revoked",
				Rules: []remediation.RuleReport{
					rule("sgr-ssh22", "22/22", "0.0.0.0/0", "revoked", "SSH open to the internet"),
					rule("sgr-web443", "443/443", "0.0.0.0/0", "kept", "port not risky"),
				}},
			{ResourceID: "sg-failed1", Region: "cn-shanghai", AccountID: "2222", Outcome: remediation.Failed, Reason: "RevokeSecurityGroup: Forbidden.RAM: not authorized"},
			{ResourceID: "sg-restrict1", Region: "cn-shenzhen", AccountID: "3333", Outcome: remediation.Revoked, Reason: "1 risky rule revoked",
				Rules: []remediation.RuleReport{
					rule("sgr-rdp3389", "3389/3389", "::/0", "revoked", "RDP open to the internet", "10.0.0.0/8", "192.168.0.0/16"),
				}},
		},
	}
}

// manyGroups is a report with n revoked groups of three rules each.
func manyGroups(n int) *remediation.Report {
	r := &remediation.Report{}
	for i := range n {
		id := fmt.Sprintf("sg-many%04d", i)
		r.Resources = append(r.Resources, remediation.ResourceReport{
			ResourceID: id, Region: "cn-hangzhou", AccountID: "1234567890", Outcome: remediation.Revoked,
			Reason: "3 risky rules revoked",
			Rules: []remediation.RuleReport{
				rule(fmt.Sprintf("sgr-%04da", i), "22/22", "0.0.0.0/0", "revoked", "SSH open to the internet"),
				rule(fmt.Sprintf("sgr-%04db", i), "3306/3306", "0.0.0.0/0", "revoked", "MySQL open to the internet"),
				rule(fmt.Sprintf("sgr-%04dc", i), "3389/3389", "::/0", "revoked", "RDP open to the internet"),
			},
		})
	}
	return r
}
