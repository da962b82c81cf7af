package notify_test

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/notify"
)

func TestParseTargets(t *testing.T) {
	cases := []struct {
		in        string
		wantKinds []notify.Kind
		wantErr   string
	}{
		{"", nil, ""},
		{" , ", nil, ""},
		{"https://oapi.dingtalk.com/robot/send?access_token=TOKDING1", []notify.Kind{notify.DingTalk}, ""},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/TOKLARK1", []notify.Kind{notify.Lark}, ""},
		{"https://open.larksuite.com/open-apis/bot/v2/hook/TOKLARK2", []notify.Kind{notify.Lark}, ""},
		{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOKWECOM1", []notify.Kind{notify.WeCom}, ""},
		{"https://hooks.slack.com/services/T00/B00/TOKSLACK1", []notify.Kind{notify.Slack}, ""},
		{"https://OAPI.DingTalk.com/robot/send?access_token=TOKDING2", []notify.Kind{notify.DingTalk}, ""},
		{"https://example.com/hooks/TOKGENERIC1", []notify.Kind{notify.Generic}, ""},
		{"dingtalk+https://relay.example.com/robot/send?access_token=TOKDING3", []notify.Kind{notify.DingTalk}, ""},
		{"feishu+https://relay.example.com/x/TOKLARK3", []notify.Kind{notify.Lark}, ""},
		{"wecom+http://127.0.0.1:8080/send?key=TOKWECOM2", []notify.Kind{notify.WeCom}, ""},
		{"slack+http://[::1]:9/services/T/B/TOKSLACK2", []notify.Kind{notify.Slack}, ""},
		{"json+https://hooks.slack.com/services/T/B/TOKSLACK3", []notify.Kind{notify.Generic}, ""},
		{"http://localhost:8080/TOKGENERIC2", []notify.Kind{notify.Generic}, ""},
		{"https://oapi.dingtalk.com/robot/send?access_token=TOKDING4, https://hooks.slack.com/services/T/B/TOKSLACK4",
			[]notify.Kind{notify.DingTalk, notify.Slack}, ""},
		{"http://oapi.dingtalk.com/robot/send?access_token=TOKDING5", nil, "http:// is allowed only to a loopback address"},
		{"http://10.0.0.1/hook/TOKGENERIC3", nil, "http:// is allowed only to a loopback address"},
		{"dingtalk+http://192.168.1.1/robot/send?access_token=TOKDING6", nil, "loopback"},
		{"ftp://example.com/TOKGENERIC4", nil, `scheme "ftp"`},
		{"teams+https://example.com/TOKGENERIC5", nil, `scheme "teams+https"`},
		{"oapi.dingtalk.com/robot/send?access_token=TOKDING7", nil, "no host"},
		{"https://user:TOKPASS1@example.com/x", nil, "user info"},
		{"https://example.com/a%zzTOKBAD1", nil, "not a URL"},
		{"https://example.com/TOKDUP1,https://example.com/TOKDUP1", nil, "listed twice"},
		{"https://example.com/TOKOK1,http://example.com/TOKBAD2,ftp://x/TOKBAD3", nil, "URL 3"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := notify.ParseTargets(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				if !errors.Is(err, remediation.ErrBadSetting) || !errors.Is(err, notify.ErrBadURL) {
					t.Errorf("err does not wrap ErrBadSetting and ErrBadURL: %v", err)
				}
				assertNoToken(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kinds []notify.Kind
			for _, tg := range got {
				kinds = append(kinds, tg.Kind())
				assertNoToken(t, fmt.Sprintf("%v %+v %#v %s", tg, tg, tg, tg))
				var b strings.Builder
				slog.New(slog.NewTextHandler(&b, nil)).Info("x", "target", tg, "targets", got)
				assertNoToken(t, b.String())
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tc.wantKinds) {
				t.Errorf("kinds %v, want %v", kinds, tc.wantKinds)
			}
		})
	}
}

// assertNoToken fails if any test token ("TOK…") or the test secret appears.
func assertNoToken(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, "TOK") || strings.Contains(s, testSecret) {
		t.Errorf("credential in output: %s", s)
	}
}

func TestParseOn(t *testing.T) {
	cases := []struct {
		in, want, wantErr string
	}{
		{"", "revoked,would-revoke,failed", ""},
		{"  ", "revoked,would-revoke,failed", ""},
		{"failed", "failed", ""},
		{"Excepted, skipped ,compliant", "excepted,skipped,compliant", ""},
		{"revoked,revoked", "revoked", ""},
		{"revoked,would-revoke,failed,excepted,skipped,compliant", "revoked,would-revoke,failed,excepted,skipped,compliant", ""},
		{"revoke", "", `unknown value "revoke"`},
		{"failed,all,none", "", `unknown value "all", "none"`},
		{",", "", "no value"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			on, err := notify.ParseOn(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, remediation.ErrBadSetting) {
					t.Fatalf("err = %v; want %q wrapping ErrBadSetting", err, tc.wantErr)
				}
				return
			}
			if err != nil || on.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", on, err, tc.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"NOTIFY_URL":    "https://oapi.dingtalk.com/robot/send?access_token=TOKDING9,http://example.com/TOKBAD9",
		"NOTIFY_SECRET": testSecret,
		"NOTIFY_ON":     "revoked,bogus",
	}
	_, err := notify.LoadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "NOTIFY_URL") || !strings.Contains(err.Error(), "NOTIFY_ON") {
		t.Fatalf("err = %v; want both bad settings named", err)
	}
	assertNoToken(t, err.Error())

	env["NOTIFY_URL"] = "https://oapi.dingtalk.com/robot/send?access_token=TOKDING9"
	env["NOTIFY_ON"] = ""
	cfg, err := notify.LoadConfig(func(k string) string { return env[k] })
	if err != nil || len(cfg.Targets) != 1 || cfg.On.String() != notify.DefaultOn {
		t.Fatalf("cfg %v, err %v", cfg, err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "cfg", cfg, "secret", cfg.Secret)
	out := fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Secret, cfg.Secret, cfg.Secret) + b.String()
	assertNoToken(t, out)
	if strings.Contains(out, testSecret) {
		t.Errorf("secret printed: %s", out)
	}

	cfg, err = notify.LoadConfig(func(string) string { return "" })
	if err != nil || len(cfg.Targets) != 0 {
		t.Fatalf("empty settings: %v %v", cfg, err)
	}
	if notify.New(cfg, nil).Wants(sampleReport()) {
		t.Error("a notifier without URLs wants to send")
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=TOKa1b2", "https://oapi.dingtalk.com/robot/send?access_token=***"},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/TOK-1234-uuid", "https://open.feishu.cn/open-apis/bot/v2/hook/***"},
		{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOK-uuid", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"},
		{"https://hooks.slack.com/services/T0TOK/B0TOK/TOKxyz", "https://hooks.slack.com/services/***/***/***"},
		{"dingtalk+http://127.0.0.1:9/robot/send?access_token=TOK1&timestamp=1&sign=TOKsig", "dingtalk+http://127.0.0.1:9/robot/send?access_token=***&sign=***&timestamp=***"},
		{"https://user:TOKpw@example.com/api/TOKpath#TOKfrag", "https://***@example.com/api/***#***"},
		{"https://example.com/?TOKbare", "https://example.com/?***=***"},
		{"https://example.com/a%zzTOK", "https://example.com/***"},
		{"not a url TOK", "<not a URL>"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := notify.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var (
	tokenChars = regexp.MustCompile(`^[A-Za-z0-9._~+=%-]+$`)
	hostChars  = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?$`)
	pathChars  = regexp.MustCompile(`^[A-Za-z0-9/_-]*$`)
)

// FuzzRedact: a token placed anywhere a credential can sit in a webhook URL
// never survives Redact.
func FuzzRedact(f *testing.F) {
	f.Add("oapi.dingtalk.com", "robot/send", "a1b2c3d4e5f6", uint8(0))
	f.Add("hooks.slack.com", "services/T000/B000", "XXXXyyyyZZZZ", uint8(1))
	f.Add("open.feishu.cn", "open-apis/bot/v2/hook", "0c6e-11ef-9f2a", uint8(1))
	f.Add("127.0.0.1:8080", "", "s3cr3t%2Bvalue", uint8(2))
	f.Add("example.com", "api", "tok/en", uint8(3))
	f.Fuzz(func(t *testing.T, host, path, token string, where uint8) {
		// Credentials are made of URL-safe characters; a delimiter in
		// the "token" would move it to another part of the URL.
		if len(token) < 6 || !tokenChars.MatchString(token) || !hostChars.MatchString(host) || !pathChars.MatchString(path) {
			t.Skip()
		}
		var raw string
		switch where % 5 {
		case 0:
			raw = "https://" + host + "/" + path + "?access_token=" + token
		case 1:
			raw = "https://" + host + "/" + path + "/" + token
		case 2:
			raw = "dingtalk+http://" + host + "/" + path + "?key=" + token + "&x=1"
		case 3:
			raw = "https://" + token + "@" + host + "/" + path
		case 4:
			raw = "https://" + host + "/" + path + "#" + token
		}
		out := notify.Redact(raw)
		if strings.Contains(out, token) {
			// Only acceptable when the token is a public part itself
			// (the host, a public path segment or a query key).
			if strings.Contains(host, token) || strings.Contains(path, token) || strings.Contains("access_token=key=x=1dingtalk+https://*** robot send open-apis bot v2 hook cgi-bin webhook services api hooks webhooks notify", token) {
				return
			}
			t.Fatalf("Redact(%q) = %q keeps the token %q", raw, out, token)
		}
	})
}

func TestBackupQueries(t *testing.T) {
	if got := notify.BackupQueries([]string{"sg-b", "sg-a", "sg-b"}); len(got) != 1 || got[0] != `"rule backup" and ("sg-a" or "sg-b")` {
		t.Errorf("got %q", got)
	}
	if got := notify.BackupQueries([]string{"sg-one"}); len(got) != 1 || got[0] != `"rule backup" and "sg-one"` {
		t.Errorf("got %q", got)
	}
	if got := notify.BackupQueries(nil); len(got) != 0 {
		t.Errorf("got %q", got)
	}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("sg-%03d", i))
	}
	got := notify.BackupQueries(ids)
	if len(got) != 3 {
		t.Fatalf("%d queries for 60 groups, want 3 (Log Service allows 30 conditions)", len(got))
	}
	seen := 0
	for _, q := range got {
		n := strings.Count(q, `"sg-`)
		if n > 25 || strings.Count(q, " or ")+1 != n {
			t.Errorf("query %q names %d groups", q, n)
		}
		seen += n
	}
	if seen != 60 {
		t.Errorf("queries name %d groups, want 60", seen)
	}
}
