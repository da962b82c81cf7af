package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/notify"
	"github.com/sg-remediation/sg-remediation/remediation/notify/notifytest"
)

// mustContain fails for every want missing from text.
func mustContain(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("message lacks %q:\n%s", w, text)
		}
	}
}

func onlyResult(t *testing.T, res []notify.Result) notify.Result {
	t.Helper()
	if len(res) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(res), res)
	}
	return res[0]
}

func TestEachKindSignedAndComplete(t *testing.T) {
	cases := []struct {
		kind   notifytest.Kind
		want   notify.Kind
		secret bool
	}{
		{notifytest.DingTalk, notify.DingTalk, true},
		{notifytest.DingTalk, notify.DingTalk, false},
		{notifytest.Lark, notify.Lark, true},
		{notifytest.Lark, notify.Lark, false},
		{notifytest.WeCom, notify.WeCom, false},
		{notifytest.Slack, notify.Slack, false},
		{notifytest.Generic, notify.Generic, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/secret=%v", tc.kind, tc.secret), func(t *testing.T) {
			e := newEnv(t)
			secret := ""
			if tc.secret {
				secret = testSecret
				e.srv.SetSecret(tc.kind, testSecret)
			}
			n := e.notifier(e.srv.URL(tc.kind), secret, "")
			res := onlyResult(t, e.send(n, sampleReport()))
			if res.Err != nil || res.Attempts != 1 || res.Kind != tc.want {
				t.Fatalf("result %+v, err %v; want success in one attempt as %s", res, res.Err, tc.want)
			}
			got := e.srv.Received()
			if len(got) != 1 {
				t.Fatalf("emulator accepted %d messages, want 1", len(got))
			}
			m := got[0]
			mustContain(t, m.Title+"\n"+m.Text,
				"sg-revoked1", "cn-hangzhou", "1234567890", "revoked", "1 risky rule revoked",
				"sgr-ssh22", "TCP", "22/22", "0.0.0.0/0", "SSH open to the internet",
				"sg-restrict1", "sgr-rdp3389", "3389/3389", "::/0", "10.0.0.0/8, 192.168.0.0/16",
				"sg-failed1", "cn-shanghai", "Forbidden.RAM: not authorized",
				"sg-remediation restore backup.jsonl",
				`"rule backup" and ("sg-restrict1" or "sg-revoked1")`,
			)
			if strings.Contains(m.Text, "sg-compliant1") {
				t.Errorf("a compliant group is listed though NOTIFY_ON does not ask for it:\n%s", m.Text)
			}
			if strings.Contains(m.Text, "sgr-web443") {
				t.Errorf("a kept rule is listed:\n%s", m.Text)
			}
			// Failures come first, so that a cut keeps them.
			if i, j := strings.Index(m.Text, "sg-failed1"), strings.Index(m.Text, "sg-revoked1"); i > j {
				t.Errorf("failure is not listed first:\n%s", m.Text)
			}
			if tc.secret {
				want := strconv.FormatInt(fixedNow.UnixMilli(), 10)
				if tc.kind == notifytest.Lark {
					want = strconv.FormatInt(fixedNow.Unix(), 10)
				}
				if m.Timestamp != want || m.Sign == "" {
					t.Errorf("signature timestamp %q sign %q; want timestamp %s from the clock", m.Timestamp, m.Sign, want)
				}
			}
			if tc.kind == notifytest.Generic && !strings.Contains(string(m.Body), `"resources":[`) {
				t.Errorf("generic body lacks the report: %s", m.Body)
			}
		})
	}
}

func TestSignatureRefused(t *testing.T) {
	cases := []struct {
		name    string
		kind    notifytest.Kind
		secret  string
		clock   time.Duration // notifier clock offset from the emulator's
		wantErr string
	}{
		{"dingtalk wrong secret", notifytest.DingTalk, "SEC-wrong-secret-000", 0, "errcode 310000"},
		{"dingtalk no secret", notifytest.DingTalk, "", 0, "errcode 310000"},
		{"dingtalk stale timestamp", notifytest.DingTalk, testSecret, -2 * time.Hour, "errcode 310000"},
		{"lark wrong secret", notifytest.Lark, "SEC-wrong-secret-000", 0, "code 19021"},
		{"lark stale timestamp", notifytest.Lark, testSecret, 2 * time.Hour, "code 19021"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.extra = append(e.extra, "SEC-wrong-secret-000")
			e.srv.SetSecret(tc.kind, testSecret)
			cfg, err := notify.ParseConfig(e.srv.URL(tc.kind), tc.secret, "")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Now = func() time.Time { return fixedNow.Add(tc.clock) }
			cfg.RetryDelay = time.Millisecond
			res := onlyResult(t, e.send(notify.New(cfg, e.log), sampleReport()))
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) || !errors.Is(res.Err, notify.ErrRejected) {
				t.Fatalf("err = %v; want a refusal with %q", res.Err, tc.wantErr)
			}
			if res.Attempts != 1 || e.srv.Requests(tc.kind) != 1 {
				t.Errorf("attempts %d, requests %d; a refusal is not retried", res.Attempts, e.srv.Requests(tc.kind))
			}
			if len(e.srv.Received()) != 0 {
				t.Error("emulator accepted a badly signed message")
			}
		})
	}
}

func TestDingTalkKeyword(t *testing.T) {
	e := newEnv(t)
	e.srv.SetKeyword("sg-remediation")
	res := onlyResult(t, e.send(e.notifier(e.srv.URL(notifytest.DingTalk), "", ""), sampleReport()))
	if res.Err != nil {
		t.Fatalf("message without the robot's keyword: %v", res.Err)
	}
	e.srv.SetKeyword("a-keyword-the-message-lacks")
	res = onlyResult(t, e.send(e.notifier(e.srv.URL(notifytest.DingTalk), "", ""), sampleReport()))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "310000") || !strings.Contains(res.Err.Error(), "keyword") {
		t.Fatalf("err = %v; want errcode 310000 with the keyword hint", res.Err)
	}
}

func TestDryRunWording(t *testing.T) {
	for _, k := range []notifytest.Kind{notifytest.DingTalk, notifytest.Lark, notifytest.Slack} {
		t.Run(string(k), func(t *testing.T) {
			e := newEnv(t)
			r := &remediation.Report{DryRun: true, Resources: []remediation.ResourceReport{{
				ResourceID: "sg-dry1", Region: "cn-hangzhou", AccountID: "42", Outcome: remediation.WouldRevoke, Reason: "1 risky rule would be revoked",
				Rules: []remediation.RuleReport{rule("sgr-dry22", "22/22", "0.0.0.0/0", "would-revoke", "SSH open to the internet")},
			}}}
			res := onlyResult(t, e.send(e.notifier(e.srv.URL(k), "", ""), r))
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			m := e.srv.Received()[0]
			mustContain(t, m.Title+"\n"+m.Text, "DRY RUN", "nothing was changed", "sg-dry1", "sgr-dry22", "would-revoke", "nothing to undo")
			if strings.Contains(m.Text, "restore backup.jsonl") || strings.Contains(m.Text, "were revoked") {
				t.Errorf("a dry run message speaks of revoked rules to restore:\n%s", m.Text)
			}
		})
	}
}

func TestNothingToSay(t *testing.T) {
	compliant := &remediation.Report{Resources: []remediation.ResourceReport{
		{ResourceID: "sg-ok1", Region: "cn-hangzhou", Outcome: remediation.Compliant, Reason: "no risky rule"},
		{ResourceID: "sg-skip1", Region: "cn-hangzhou", Outcome: remediation.Skipped, Reason: "managed group",
			Rules: []remediation.RuleReport{rule("sgr-exc1", "22/22", "0.0.0.0/0", "excepted", "owner alice until 2026-12-31")}},
	}}
	cases := []struct {
		name, on string
		report   *remediation.Report
		want     bool
	}{
		{"default, only compliant and skipped", "", compliant, false},
		{"empty report", "", &remediation.Report{}, false},
		{"nil report", "", nil, false},
		{"compliant asked for", "compliant", compliant, true},
		{"skipped asked for", "skipped", compliant, true},
		{"excepted rule asked for", "excepted", compliant, true},
		{"only failed asked for", "failed", sampleReport(), true},
		{"only would-revoke asked for", "would-revoke", sampleReport(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			n := e.notifier(e.srv.URL(notifytest.WeCom)+","+e.srv.URL(notifytest.Slack), "", tc.on)
			if got := n.Wants(tc.report); got != tc.want {
				t.Fatalf("Wants = %v, want %v", got, tc.want)
			}
			res := e.send(n, tc.report)
			if !tc.want {
				if res != nil || e.srv.TotalRequests() != 0 || n.Preview(tc.report) != nil {
					t.Fatalf("nothing to say, yet results %+v and %d requests", res, e.srv.TotalRequests())
				}
				return
			}
			if len(res) != 2 || res[0].Err != nil || res[1].Err != nil || len(e.srv.Received()) != 2 {
				t.Fatalf("results %+v; want one message per URL", res)
			}
		})
	}
}

func TestExceptedRulesListed(t *testing.T) {
	e := newEnv(t)
	r := &remediation.Report{Resources: []remediation.ResourceReport{{
		ResourceID: "sg-exc1", Region: "cn-hangzhou", Outcome: remediation.Compliant, Reason: "risk accepted",
		Rules: []remediation.RuleReport{rule("sgr-exc22", "22/22", "0.0.0.0/0", "excepted", "owner alice: vendor VPN until 2026-12-31")},
	}}}
	onlyResult(t, e.send(e.notifier(e.srv.URL(notifytest.Generic), "", "excepted"), r))
	m := e.srv.Received()[0]
	mustContain(t, m.Text, "sg-exc1", "sgr-exc22", "excepted", "owner alice: vendor VPN until 2026-12-31", "nothing to undo")
}

func TestFailuresNamedEvenIfNotAskedFor(t *testing.T) {
	e := newEnv(t)
	r := sampleReport()
	r.Resources = append(r.Resources, remediation.ResourceReport{ResourceID: "sg-failed2", Region: "cn-beijing", Outcome: remediation.Failed,
		Reason: "not started: the invocation deadline (less its reserve) was reached"})
	onlyResult(t, e.send(e.notifier(e.srv.URL(notifytest.WeCom), "", "revoked"), r))
	m := e.srv.Received()[0]
	mustContain(t, m.Text, "2 resource(s) failed", "sg-failed1", "Forbidden.RAM", "sg-failed2", "invocation deadline")
}

// groupBlocks checks that a cut message shows whole groups: every group id
// shown has all its rules.
func checkWholeGroups(t *testing.T, text string, r *remediation.Report) int {
	t.Helper()
	shown := 0
	for _, res := range r.Resources {
		if !strings.Contains(text, res.ResourceID) {
			continue
		}
		shown++
		for _, rl := range res.Rules {
			if !strings.Contains(text, rl.RuleID) {
				t.Errorf("group %s is shown without its rule %s: cut inside a group", res.ResourceID, rl.RuleID)
			}
		}
	}
	return shown
}

func TestSizeCutAtGroupBoundary(t *testing.T) {
	cases := []struct {
		kind   notifytest.Kind
		groups int
		size   func(m notifytest.Received) int
		limit  int
	}{
		{notifytest.WeCom, 60, func(m notifytest.Received) int { return len(m.Text) }, 4096},
		{notifytest.DingTalk, 200, func(m notifytest.Received) int { return len(m.Body) }, 20000},
		{notifytest.Lark, 200, func(m notifytest.Received) int { return len(m.Body) }, 20 * 1024},
		{notifytest.Slack, 500, func(m notifytest.Received) int { return len([]rune(m.Text)) }, 40000},
	}
	leftOut := regexp.MustCompile(`(\d+) group\(s\) left out`)
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := newEnv(t)
			if tc.kind == notifytest.DingTalk || tc.kind == notifytest.Lark {
				e.srv.SetSecret(tc.kind, testSecret)
			}
			r := manyGroups(tc.groups)
			n := e.notifier(e.srv.URL(tc.kind), testSecret, "")
			res := onlyResult(t, e.send(n, r))
			if res.Err != nil {
				t.Fatalf("the emulator refused the cut message: %v", res.Err)
			}
			m := e.srv.Received()[0]
			if s := tc.size(m); s > tc.limit {
				t.Fatalf("size %d over the limit %d", s, tc.limit)
			}
			shown := checkWholeGroups(t, m.Text, r)
			sub := leftOut.FindStringSubmatch(m.Text)
			if sub == nil {
				t.Fatalf("no \"N group(s) left out\" line:\n%.2000s", m.Text)
			}
			omitted, _ := strconv.Atoi(sub[1])
			if shown == 0 || omitted == 0 || shown+omitted != tc.groups || res.Groups != shown || res.Omitted != omitted {
				t.Errorf("shown %d + left out %d != %d groups (result says %d + %d)", shown, omitted, tc.groups, res.Groups, res.Omitted)
			}
			mustContain(t, m.Text, "the function's log has all", "sg-remediation restore backup.jsonl", `"rule backup"`)
			// The cut is tight: one more group would not have fit (the
			// groups are the same size, about 300 bytes each).
			if slack := tc.limit - tc.size(m); slack > 1200 {
				t.Errorf("%d bytes unused under the limit: the cut is not at the last group that fits", slack)
			}
		})
	}
}

func TestSmallReportNotCut(t *testing.T) {
	e := newEnv(t)
	r := manyGroups(5)
	onlyResult(t, e.send(e.notifier(e.srv.URL(notifytest.WeCom), "", ""), r))
	m := e.srv.Received()[0]
	if checkWholeGroups(t, m.Text, r) != 5 || strings.Contains(m.Text, "left out") {
		t.Errorf("a small report was cut:\n%s", m.Text)
	}
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name         string
		kind         notifytest.Kind
		faults       []notifytest.Fault
		wantOK       bool
		wantAttempts int
		wantErr      string
	}{
		{"429 then success", notifytest.DingTalk, []notifytest.Fault{notifytest.Fault429}, true, 2, ""},
		{"500 then success", notifytest.Lark, []notifytest.Fault{notifytest.Fault500}, true, 2, ""},
		{"500 twice gives up", notifytest.Slack, []notifytest.Fault{notifytest.Fault500, notifytest.Fault500, notifytest.Fault500}, false, 2, "HTTP 500"},
		{"429 twice gives up", notifytest.Generic, []notifytest.Fault{notifytest.Fault429, notifytest.Fault429}, false, 2, "HTTP 429"},
		{"errcode 310000 not retried", notifytest.DingTalk, []notifytest.Fault{notifytest.FaultRefuse}, false, 1, "errcode 310000"},
		{"slack 403 not retried", notifytest.Slack, []notifytest.Fault{notifytest.FaultRefuse}, false, 1, "HTTP 403"},
		{"wecom 93000 not retried", notifytest.WeCom, []notifytest.Fault{notifytest.FaultRefuse}, false, 1, "errcode 93000"},
		{"hang once then success", notifytest.WeCom, []notifytest.Fault{notifytest.FaultHang}, true, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.Inject(tc.kind, tc.faults...)
			res := onlyResult(t, e.send(e.notifier(e.srv.URL(tc.kind), "", ""), sampleReport()))
			if (res.Err == nil) != tc.wantOK || res.Attempts != tc.wantAttempts {
				t.Fatalf("err %v after %d attempts; want ok=%v after %d", res.Err, res.Attempts, tc.wantOK, tc.wantAttempts)
			}
			if got := e.srv.Requests(tc.kind); got != tc.wantAttempts {
				t.Errorf("emulator saw %d requests, want %d", got, tc.wantAttempts)
			}
			if tc.wantOK != (len(e.srv.Received()) == 1) {
				t.Errorf("emulator accepted %d messages", len(e.srv.Received()))
			}
			if !tc.wantOK {
				if !strings.Contains(res.Err.Error(), tc.wantErr) || res.Error != res.Err.Error() {
					t.Errorf("err %q (Error %q) lacks %q", res.Err, res.Error, tc.wantErr)
				}
				logs := e.logs.String()
				if !strings.Contains(logs, `"level":"WARN","msg":"notification failed","host":"`+e.srv.Addr()+`"`) {
					t.Errorf("no warning naming the host:\n%s", logs)
				}
			}
		})
	}
}

func TestHangingWebhookBounded(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(notifytest.DingTalk, notifytest.FaultHang, notifytest.FaultHang, notifytest.FaultHang)
	n := e.notifier(e.srv.URL(notifytest.DingTalk), "", "") // 500 ms per attempt, 1.5 s per URL
	start := time.Now()
	res := onlyResult(t, e.send(n, sampleReport()))
	took := time.Since(start)
	if res.Err == nil || res.Attempts != 2 {
		t.Fatalf("err %v after %d attempts; want a timeout after 2", res.Err, res.Attempts)
	}
	if took > 1500*time.Millisecond+500*time.Millisecond {
		t.Errorf("Send took %v, over the per-URL bound", took)
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("err %v is not a deadline", res.Err)
	}
}

func TestCallerDeadlineWins(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(notifytest.Slack, notifytest.FaultHang, notifytest.FaultHang)
	cfg, _ := notify.ParseConfig(e.srv.URL(notifytest.Slack), "", "")
	cfg.AttemptTimeout = 5 * time.Second
	cfg.PerURLTimeout = 10 * time.Second
	n := notify.New(cfg, e.log)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := n.Send(ctx, sampleReport())
	e.record(res)
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("Send took %v past a 200 ms deadline", took)
	}
	if r := onlyResult(t, res); r.Err == nil || r.Attempts != 1 {
		t.Errorf("err %v after %d attempts; want the deadline after one", r.Err, r.Attempts)
	}

	// A context already past its deadline sends nothing.
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	before := e.srv.TotalRequests()
	res = n.Send(expired, sampleReport())
	e.record(res)
	if r := onlyResult(t, res); r.Err == nil || r.Attempts != 0 || e.srv.TotalRequests() != before {
		t.Errorf("expired context: %+v, %d new requests", r, e.srv.TotalRequests()-before)
	}
}

func TestWebhookDown(t *testing.T) {
	e := newEnv(t)
	// A loopback port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	token := "TOKEN-down-0123456789abcdef"
	e.extra = append(e.extra, token)
	n := e.notifier("dingtalk+http://"+addr+"/robot/send?access_token="+token, testSecret, "")
	start := time.Now()
	res := onlyResult(t, e.send(n, sampleReport()))
	if res.Err == nil || res.Attempts != 2 {
		t.Fatalf("err %v after %d attempts; want a network error after 2", res.Err, res.Attempts)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
	if !strings.Contains(res.Err.Error(), "connect") || !strings.Contains(res.Err.Error(), "access_token=***") {
		t.Errorf("err %q: want the network failure and the redacted URL", res.Err)
	}
}

func TestTwoURLsConcurrently(t *testing.T) {
	e := newEnv(t)
	e.srv.SetSecret(notifytest.Lark, testSecret)
	// Slack fails twice; Lark must not wait for it nor be affected.
	e.srv.Inject(notifytest.Slack, notifytest.FaultHang, notifytest.FaultHang)
	n := e.notifier(e.srv.URL(notifytest.Lark)+" , "+e.srv.URL(notifytest.Slack), testSecret, "")
	res := e.send(n, sampleReport())
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	if res[0].Kind != notify.Lark || res[0].Err != nil || res[0].Attempts != 1 {
		t.Errorf("lark: %+v %v", res[0], res[0].Err)
	}
	if res[1].Kind != notify.Slack || res[1].Err == nil {
		t.Errorf("slack: %+v; want a failure", res[1])
	}
	if got := e.srv.Received(); len(got) != 1 || got[0].Kind != notifytest.Lark {
		t.Errorf("received %+v", got)
	}
}

func TestRobotRateLimit(t *testing.T) {
	for _, k := range []notifytest.Kind{notifytest.DingTalk, notifytest.WeCom, notifytest.Lark} {
		t.Run(string(k), func(t *testing.T) {
			e := newEnv(t)
			n := e.notifier(e.srv.URL(k), "", "")
			for i := range notifytest.RateLimit {
				if r := onlyResult(t, e.send(n, sampleReport())); r.Err != nil {
					t.Fatalf("message %d: %v", i+1, r.Err)
				}
			}
			r := onlyResult(t, e.send(n, sampleReport()))
			if r.Err == nil || r.Attempts != 1 {
				t.Fatalf("message 21: err %v after %d attempts; want a refusal, not retried", r.Err, r.Attempts)
			}
			if got := len(e.srv.Received()); got != notifytest.RateLimit {
				t.Errorf("accepted %d", got)
			}
		})
	}
}

func TestPreviewSendsNothing(t *testing.T) {
	e := newEnv(t)
	n := e.notifier(e.srv.URL(notifytest.DingTalk)+","+e.srv.URL(notifytest.Lark), testSecret, "")
	msgs := n.Preview(sampleReport())
	e.record(msgs)
	if e.srv.TotalRequests() != 0 {
		t.Fatal("Preview sent a request")
	}
	if len(msgs) != 2 || msgs[0].Kind != notify.DingTalk || msgs[1].Kind != notify.Lark {
		t.Fatalf("previews %+v", msgs)
	}
	if !strings.Contains(msgs[0].URL, "access_token=***") || !strings.HasSuffix(msgs[1].URL, "/hook/***") {
		t.Errorf("preview URLs not redacted: %s %s", msgs[0].URL, msgs[1].URL)
	}
	mustContain(t, string(msgs[0].Body), `"msgtype":"markdown"`, "sg-revoked1")
	mustContain(t, string(msgs[1].Body), `"msg_type":"post"`, `"zh_cn"`, "sg-revoked1")
	if strings.Contains(string(msgs[1].Body), `"sign"`) {
		t.Error("preview carries a signature")
	}
}
