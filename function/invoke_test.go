package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
	"github.com/sg-remediation/sg-remediation/remediation/notify/notifytest"
)

var fcGood = fccontext.Credentials{AccessKeyId: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken}

// One invocation sends one message per webhook, signed, saying what was
// revoked and how to undo it; no token or secret reaches the log.
func TestHandlerNotifies(t *testing.T) {
	emu := stsEmulator(t)
	hooks := notifytest.NewServer()
	t.Cleanup(hooks.Close)
	const secret = "SECdingtalk-signing-secret"
	hooks.SetSecret(notifytest.DingTalk, secret)
	urls := hooks.URL(notifytest.DingTalk) + "," + hooks.URL(notifytest.WeCom)
	e := env{"CONFIG_ENDPOINT": emu.URL(), "ECS_ENDPOINT": emu.URL(), "NOTIFY_URL": urls, "NOTIFY_SECRET": secret}
	var logBuf bytes.Buffer
	h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&logBuf, nil))}
	rep, err := h.invoke(invokeCtx(t, "req-notify", fcGood, 30*time.Second), readEvent(t, "web-ssh-rdp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.(*remediation.Report); r.Summary[remediation.Revoked] != 1 {
		t.Fatalf("report %+v", r)
	}
	got := hooks.Received()
	if len(got) != 2 {
		t.Fatalf("%d messages, want one per URL", len(got))
	}
	for _, m := range got {
		for _, want := range []string{webGroup, "revoked", "restore"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s message lacks %q:\n%s", m.Kind, want, m.Text)
			}
		}
	}
	for _, leak := range []string{secret, hooks.Token(notifytest.DingTalk), hooks.Token(notifytest.WeCom)} {
		if strings.Contains(logBuf.String(), leak) {
			t.Errorf("the log carries a credential %q", leak)
		}
	}
}

// A webhook that is down changes nothing: the invocation succeeds and the
// failure is a warning naming the host.
func TestHandlerNotifyFailureChangesNothing(t *testing.T) {
	emu := stsEmulator(t)
	hooks := notifytest.NewServer()
	t.Cleanup(hooks.Close)
	hooks.Inject(notifytest.Slack, notifytest.Fault500, notifytest.Fault500)
	e := env{"CONFIG_ENDPOINT": emu.URL(), "ECS_ENDPOINT": emu.URL(), "NOTIFY_URL": hooks.URL(notifytest.Slack)}
	var logBuf bytes.Buffer
	h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&logBuf, nil))}
	if _, err := h.invoke(invokeCtx(t, "req-down", fcGood, 30*time.Second), readEvent(t, "web-ssh-rdp.json")); err != nil {
		t.Fatalf("a failed notification failed the invocation: %v", err)
	}
	if !strings.Contains(logBuf.String(), `"level":"WARN"`) || !strings.Contains(logBuf.String(), "127.0.0.1") {
		t.Errorf("no warning naming the host:\n%s", logBuf.String())
	}
	if strings.Contains(logBuf.String(), hooks.Token(notifytest.Slack)) {
		t.Error("the log carries the webhook token")
	}
}

// An invalid NOTIFY_URL is an invalid setting: nothing is called.
func TestHandlerInvalidNotifySetting(t *testing.T) {
	emu := stsEmulator(t)
	e := env{"CONFIG_ENDPOINT": emu.URL(), "ECS_ENDPOINT": emu.URL(), "NOTIFY_URL": "http://hooks.example.com/x?access_token=tok123", "NOTIFY_ON": "sometimes"}
	h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
	_, err := h.invoke(invokeCtx(t, "req-bad", fcGood, 30*time.Second), readEvent(t, "web-ssh-rdp.json"))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != errInvalidSetting || strings.Contains(ie.Message, "tok123") ||
		!strings.Contains(ie.Message, "NOTIFY_ON") && !strings.Contains(ie.Message, "sometimes") {
		t.Fatalf("error %#v", err)
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d calls", n)
	}
}

// The same handler serves the custom rule: each sample evaluation event is
// judged, reported with PutEvaluations, and no ECS call is made.
func TestHandlerEvaluation(t *testing.T) {
	for name, want := range evaluationEvents {
		t.Run(name, func(t *testing.T) {
			emu := stsEmulator(t)
			payload := readEvent(t, name)
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil {
				t.Fatal(err)
			}
			m["resultToken"] = emu.NewResultToken()
			payload, _ = json.Marshal(m)
			e := env{"CONFIG_ENDPOINT": emu.URL(), "ECS_ENDPOINT": emu.URL()}
			h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
			rep, err := h.invoke(invokeCtx(t, "req-eval", fcGood, 30*time.Second), payload)
			if err != nil {
				t.Fatal(err)
			}
			ev, ok := rep.(*remediation.EvaluationReport)
			if !ok || ev.ComplianceType != want || ev.Annotation == "" {
				t.Fatalf("answer %#v, want %s", rep, want)
			}
			if got := emu.Evaluations(); len(got) != 1 || got[0].ComplianceType != want || got[0].Annotation != ev.Annotation {
				t.Errorf("recorded %+v", got)
			}
			for _, c := range emu.Calls() {
				if c.Action != "PutEvaluations" && c.Action != "GetDiscoveredResource" {
					t.Errorf("evaluation called %s", c.Action)
				}
			}
		})
	}
}

// Offline replay of the account-group sample: the emulator plays the
// aggregator and the member roles; each member is assumed once and its
// group changed with its own keys.
func TestReplayAccountGroupOffline(t *testing.T) {
	var calls []cloudtest.Call
	r := runCLIHook(t, env{}, "", func(s *cloudtest.Server) { calls = s.Calls() }, "replay", "--json", "../events/org/members.json")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var rep remediation.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary[remediation.Revoked] != 3 {
		t.Errorf("summary %v", rep.Summary)
	}
	accounts := map[string]bool{}
	for _, res := range rep.Resources {
		accounts[res.AccountID] = true
	}
	if len(accounts) != 3 {
		t.Errorf("accounts in the report: %v", accounts)
	}
	assumed := 0
	for _, c := range calls {
		switch c.Action {
		case "AssumeRole":
			assumed++
		case "GetDiscoveredResource":
			t.Errorf("read without the aggregator: %v", c.Params)
		case "RevokeSecurityGroup":
			if want := map[string]string{"sg-org0wn000000000000001": "1234567890123456", "sg-orgmema00000000000001": "2000000000000001",
				"sg-orgmemb00000000000001": "2000000000000002"}[c.Params.Get("SecurityGroupId")]; c.AccountID != want {
				t.Errorf("revoke on %s signed by %s", c.Params.Get("SecurityGroupId"), c.AccountID)
			}
		}
	}
	if assumed != 2 {
		t.Errorf("%d AssumeRole calls, want one per member", assumed)
	}
}

// Evaluation events replay too: the verdict and the annotation are printed,
// and offline the emulator accepts the report.
func TestReplayEvaluation(t *testing.T) {
	for name, want := range evaluationEvents {
		var evs []cloudtest.Evaluation
		r := runCLIHook(t, env{}, "", func(s *cloudtest.Server) { evs = s.Evaluations() }, "replay", "../events/"+name)
		if r.code != exitOK || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "reported with PutEvaluations") {
			t.Errorf("%s: exit %d\n%s\n%s", name, r.code, r.stdout, r.stderr)
		}
		if len(evs) != 1 || evs[0].ComplianceType != want {
			t.Errorf("%s: recorded %+v", name, evs)
		}
	}
}

// An offline replay never sends a notification: it prints it, without the
// URL's token or the secret.
func TestReplayPrintsNotification(t *testing.T) {
	hooks := notifytest.NewServer()
	t.Cleanup(hooks.Close)
	url := hooks.URL(notifytest.DingTalk)
	r := runCLI(t, env{"NOTIFY_URL": url, "NOTIFY_SECRET": "SECtop"}, "", "replay", "../events/web-ssh-rdp.json")
	if r.code != exitOK || !strings.Contains(r.stdout, "Notification that would be sent") || !strings.Contains(r.stdout, "restore") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if n := hooks.TotalRequests(); n != 0 {
		t.Errorf("an offline replay sent %d requests", n)
	}
	for _, leak := range []string{hooks.Token(notifytest.DingTalk), "SECtop"} {
		if strings.Contains(r.stdout+r.stderr, leak) {
			t.Errorf("output carries %q", leak)
		}
	}
}

// Account groups, live: replay --live --apply with the user's key revokes in
// every account, and restore puts every rule back in its own account, each
// member's through its role.
func TestAccountGroupReplayAndRestore(t *testing.T) {
	srv, err := cloudtest.New(cloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.LoadFile("../events/org/groups.json"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"2000000000000001", "2000000000000002"} {
		if err := srv.AddRole(m, "sg-remediation-member", cloudtest.DefaultAccountID); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddAggregator("ca-org", cloudtest.DefaultAccountID, "2000000000000001", "2000000000000002"); err != nil {
		t.Fatal(err)
	}
	regions := map[string]string{"sg-org0wn000000000000001": "cn-hangzhou", "sg-orgmema00000000000001": "cn-hangzhou", "sg-orgmemb00000000000001": "cn-shanghai"}
	live := func(id string) []string {
		g, ok := srv.Group(regions[id], id)
		if !ok {
			t.Fatalf("group %s is not in the emulator", id)
		}
		var keys []string
		for _, r := range g.Permissions {
			keys = append(keys, ruleKey(r))
		}
		slices.Sort(keys)
		return keys
	}
	before := map[string][]string{}
	for id := range regions {
		before[id] = live(id)
	}
	e := cloudEnv(srv).with("STS_ENDPOINT="+srv.URL(), "AGGREGATOR_ID=ca-org", "MEMBER_ROLE_NAME=sg-remediation-member")
	logFile := t.TempDir() + "/function.log"
	if r := runCLI(t, e, "", "replay", "--live", "--apply", "--log", logFile, "../events/org/members.json"); r.code != exitOK {
		t.Fatalf("replay: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := live("sg-orgmema00000000000001"); slices.Equal(got, before["sg-orgmema00000000000001"]) {
		t.Fatal("nothing was revoked in the member account")
	}
	srv.ResetCalls()
	if r := runCLI(t, e, "", "restore", logFile); r.code != exitOK {
		t.Fatalf("restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for id, want := range before {
		// Restored rules get new ids: compare them by their attributes.
		if got := live(id); !slices.Equal(got, want) {
			t.Errorf("%s after restore:\n%v\nwant\n%v", id, got, want)
		}
	}
	for _, c := range srv.Calls() {
		if c.Action == "AuthorizeSecurityGroup" {
			owner := map[string]string{"sg-org0wn000000000000001": cloudtest.DefaultAccountID, "sg-orgmema00000000000001": "2000000000000001",
				"sg-orgmemb00000000000001": "2000000000000002"}[c.Params.Get("SecurityGroupId")]
			if c.AccountID != owner {
				t.Errorf("restore into %s signed by %s", c.Params.Get("SecurityGroupId"), c.AccountID)
			}
		}
	}
}
