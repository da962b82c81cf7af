package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// STS credentials FC hands the invocations in these tests.
const (
	fcAK     = "STS.fc-test-ak"
	fcSecret = "fc-test-secret"
	fcToken  = "fc-test-security-token"
)

func stsEmulator(t testing.TB) *cloudtest.Server {
	return newEmulator(t, cloudtest.Options{AccessKeyID: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken})
}

// invokeCtx is the context FC's runtime gives a handler.
func invokeCtx(t *testing.T, id string, cred fccontext.Credentials, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return fccontext.NewContext(ctx, &fccontext.FcContext{
		RequestID: id, Credentials: cred, Region: "cn-hangzhou", AccountId: "1234567890123456",
		Function: fccontext.Function{Name: "sg-remediation", Timeout: int(timeout / time.Second)},
	})
}

func readEvent(t *testing.T, name string) []byte {
	data, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHandler(t *testing.T) {
	good := fccontext.Credentials{AccessKeyId: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken}
	for _, tc := range []struct {
		name     string
		env      env
		event    []byte
		cred     fccontext.Credentials
		wantType string // "" = success
		wantMsg  []string
		noCall   bool
	}{
		{name: "revoke", event: readEvent(t, "web-ssh-rdp.json"), cred: good},
		{name: "double-encoded", event: readEvent(t, "double-encoded.json"), cred: good},
		{name: "dry-run", env: env{"DRY_RUN": "yes"}, event: readEvent(t, "all-samples.json"), cred: good},
		{name: "invalid setting", env: env{"RISKY_PORTS": "99999", "EXEMPT_TAG": "=x"}, event: readEvent(t, "web-ssh-rdp.json"), cred: good,
			wantType: errInvalidSetting, wantMsg: []string{"RISKY_PORTS", "EXEMPT_TAG", "nothing done"}, noCall: true},
		{name: "bad event", event: []byte(`[{"resourceId":"sg-1"}]`), cred: good,
			wantType: errBadEvent, wantMsg: []string{"bad event", "missing regionId"}, noCall: true},
		{name: "empty event", event: nil, cred: good, wantType: errBadEvent, wantMsg: []string{"empty payload"}, noCall: true},
		// Credentials in the environment are never used under FC.
		{name: "no credentials", env: env{envAccessKeyID: fcAK, envAccessKeySecret: fcSecret, envSecurityToken: fcToken},
			event: readEvent(t, "web-ssh-rdp.json"), wantType: errNoCredentials, wantMsg: []string{"no credentials"}, noCall: true},
		{name: "wrong credentials", event: readEvent(t, "database-mysql.json"),
			cred:     fccontext.Credentials{AccessKeyId: fcAK, AccessKeySecret: "wrong", SecurityToken: fcToken},
			wantType: errRemediationFailed, wantMsg: []string{"remediation failed for 1 resource(s)", dbGroup, "SignatureDoesNotMatch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := stsEmulator(t)
			var logBuf lockedBuffer
			e := tc.env.with("CONFIG_ENDPOINT="+emu.URL(), "ECS_ENDPOINT="+emu.URL())
			h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&logBuf, nil))}
			rep, err := h.invoke(invokeCtx(t, "req-"+tc.name, tc.cred, 30*time.Second), tc.event)

			if tc.wantType == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				// The FC SDK marshals the answer as JSON.
				if _, err := json.Marshal(rep); err != nil {
					t.Fatal(err)
				}
				if rep, ok := rep.(*remediation.Report); !ok || rep.Summary[remediation.Failed] != 0 || len(rep.Resources) == 0 {
					t.Errorf("report %+v", rep)
				}
			} else {
				var ie messages.InvokeResponse_Error
				if !errors.As(err, &ie) || ie.Type != tc.wantType {
					t.Fatalf("error %#v, want type %s", err, tc.wantType)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(ie.Message, m) {
						t.Errorf("message %q lacks %q", ie.Message, m)
					}
				}
				if strings.Contains(ie.Message, "\n") {
					t.Errorf("message on several lines: %q", ie.Message)
				}
			}
			if n := emu.CallCount(""); tc.noCall && n != 0 {
				t.Errorf("%d cloud calls, want none", n)
			}
			// Every log line is JSON and carries the request ID.
			for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil || m["requestId"] != "req-"+tc.name {
					t.Errorf("log line %q", line)
				}
			}
			if tc.wantType == "" || tc.wantType == errRemediationFailed {
				if !strings.Contains(logBuf.String(), `"msg":"report"`) {
					t.Errorf("the report is not logged:\n%s", logBuf.String())
				}
			}
		})
	}
}

// The handler's context carries FC's deadline: the answer comes back before
// it, naming the resources that could not be finished.
func TestHandlerDeadline(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{AccessKeyID: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken, Latency: 3 * time.Second})
	e := env{"CONFIG_ENDPOINT": emu.URL(), "ECS_ENDPOINT": emu.URL()}
	h := &handler{getenv: e.get, log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
	start := time.Now()
	ctx := invokeCtx(t, "req-deadline", fccontext.Credentials{AccessKeyId: fcAK, AccessKeySecret: fcSecret, SecurityToken: fcToken}, 2*time.Second)
	deadline, _ := ctx.Deadline()
	_, err := h.invoke(ctx, readEvent(t, "double-encoded.json"))
	if time.Now().After(deadline) {
		t.Errorf("answered %s after the deadline", time.Since(deadline))
	}
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != errRemediationFailed || !strings.Contains(ie.Message, webGroup) || !strings.Contains(ie.Message, ipv6Group) {
		t.Fatalf("error %#v after %s", err, time.Since(start))
	}
	t.Logf("answered after %s: %s", time.Since(start).Round(time.Millisecond), ie.Message)
	emu.Close() // cuts the latency sleeps short; the calls are recorded
	if emu.CallCount("GetDiscoveredResource") == 0 {
		t.Error("no call reached the emulator")
	}
}
