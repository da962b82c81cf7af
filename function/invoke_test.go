package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/sg-remediation/sg-remediation/remediation"
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
