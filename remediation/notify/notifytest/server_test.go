package notifytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Signatures computed independently (Python hmac/hashlib/base64) for the
// secret below at 2026-11-30T13:00:00Z.
const (
	vecSecret   = "SEC-a8f3e2d1c0b9-notify-secret"
	vecMillis   = "1796043600000"
	vecDingSign = "BfovuT4BLC2J5gd4QO7LGVoT1V7ftz6y+98QGDDquBQ="
	vecSeconds  = "1796043600"
	vecLarkSign = "38ND2lo7GovoBhiGHxmkiVVHBtRD9vl42cb8XwonrmU="
)

var vecNow = time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)

type answer struct {
	status int
	body   string
}

func post(t *testing.T, rawURL, contentType, body string) answer {
	t.Helper()
	resp, err := http.Post(rawURL, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, strings.TrimSpace(string(b))}
}

func code(t *testing.T, a answer, field string) int {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("answer %d %q is not JSON", a.status, a.body)
	}
	f, ok := m[field].(float64)
	if !ok {
		t.Fatalf("answer %q has no %s", a.body, field)
	}
	return int(f)
}

func newTestServer(t *testing.T) *Server {
	s := NewServer()
	t.Cleanup(s.Close)
	s.SetClock(func() time.Time { return vecNow })
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("server listens on %s, not loopback", s.Addr())
	}
	return s
}

const json_ = "application/json"

func dingBody(text string) string {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": "t", "text": text}})
	return string(b)
}

func TestDingTalk(t *testing.T) {
	s := newTestServer(t)
	s.SetSecret(DingTalk, vecSecret)
	base := s.RawURL(DingTalk)
	signed := base + "&timestamp=" + vecMillis + "&sign=" + url.QueryEscape(vecDingSign)
	cases := []struct {
		name, url, ctype, body string
		want                   int
	}{
		{"signed", signed, json_, dingBody("hello"), 0},
		{"sign not URL-encoded", base + "&timestamp=" + vecMillis + "&sign=" + vecDingSign, json_, dingBody("hello"), 310000},
		{"no signature", base, json_, dingBody("hello"), 310000},
		{"other timestamp", base + "&timestamp=1796043600001&sign=" + url.QueryEscape(vecDingSign), json_, dingBody("hello"), 310000},
		{"wrong token", strings.Replace(signed, s.Token(DingTalk), "0000", 1), json_, dingBody("hello"), 300001},
		{"not markdown", signed, json_, `{"msgtype":"text","text":{"content":"x"}}`, 40035},
		{"not JSON content type", signed, "text/plain", dingBody("hello"), 43004},
		{"too long", signed, json_, dingBody(strings.Repeat("x", DingTalkMaxBody)), 460101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, tc.url, tc.ctype, tc.body)
			if a.status != 200 || code(t, a, "errcode") != tc.want {
				t.Errorf("answer %d %s; want HTTP 200 errcode %d", a.status, a.body, tc.want)
			}
		})
	}
	if got := s.Received(); len(got) != 1 || got[0].Text != "hello" || got[0].Sign != vecDingSign {
		t.Errorf("received %+v", got)
	}
	// An hour later the same signature is stale.
	s.SetClock(func() time.Time { return vecNow.Add(time.Hour + time.Second) })
	if a := post(t, signed, json_, dingBody("hello")); code(t, a, "errcode") != 310000 {
		t.Errorf("stale signature accepted: %s", a.body)
	}
}

func larkBody(ts, sign, text string) string {
	b, _ := json.Marshal(map[string]any{"timestamp": ts, "sign": sign, "msg_type": "post",
		"content": map[string]any{"post": map[string]any{"zh_cn": map[string]any{"title": "T",
			"content": [][]map[string]string{{{"tag": "text", "text": text}}}}}}})
	return string(b)
}

func TestLark(t *testing.T) {
	s := newTestServer(t)
	s.SetSecret(Lark, vecSecret)
	u := s.RawURL(Lark)
	if a := post(t, u, json_, larkBody(vecSeconds, vecLarkSign, "hi")); a.status != 200 || code(t, a, "code") != 0 {
		t.Errorf("signed message: %d %s", a.status, a.body)
	}
	if a := post(t, u, json_, larkBody(vecSeconds, vecDingSign, "hi")); code(t, a, "code") != 19021 {
		t.Errorf("wrong sign: %s", a.body)
	}
	if a := post(t, u, json_, larkBody(vecSeconds, vecLarkSign, strings.Repeat("x", LarkMaxBody))); a.status != 400 || code(t, a, "code") != 9499 {
		t.Errorf("body over 20 KB: %d %s", a.status, a.body)
	}
	if a := post(t, u+"x", json_, larkBody(vecSeconds, vecLarkSign, "hi")); code(t, a, "code") != 19001 {
		t.Errorf("wrong token: %s", a.body)
	}
	if got := s.Received(); len(got) != 1 || got[0].Title != "T" || got[0].Text != "hi" {
		t.Errorf("received %+v", got)
	}
}

func TestWeComSlackGeneric(t *testing.T) {
	s := newTestServer(t)
	wecom := func(content string) string {
		b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": content}})
		return string(b)
	}
	if a := post(t, s.RawURL(WeCom), json_, wecom(strings.Repeat("é", WeComMaxContent/2))); code(t, a, "errcode") != 0 {
		t.Errorf("4096 bytes: %s", a.body)
	}
	if a := post(t, s.RawURL(WeCom), json_, wecom(strings.Repeat("é", WeComMaxContent/2)+"x")); code(t, a, "errcode") != 40058 {
		t.Errorf("4097 bytes: %s", a.body)
	}
	slack := func(text string) string {
		b, _ := json.Marshal(map[string]string{"text": text})
		return string(b)
	}
	if a := post(t, s.RawURL(Slack), json_, slack(strings.Repeat("é", SlackMaxText))); a.status != 200 || a.body != "ok" {
		t.Errorf("40000 characters: %d %s", a.status, a.body)
	}
	if a := post(t, s.RawURL(Slack), json_, slack(strings.Repeat("x", SlackMaxText+1))); a.status != 400 || a.body != "msg_too_long" {
		t.Errorf("40001 characters: %d %s", a.status, a.body)
	}
	if a := post(t, s.RawURL(Slack), json_, `{"text":`); a.status != 400 || a.body != "invalid_payload" {
		t.Errorf("bad JSON: %d %s", a.status, a.body)
	}
	if a := post(t, s.RawURL(Generic), json_, `{"title":"t","text":"x","resources":[]}`); a.status != 200 {
		t.Errorf("generic: %d %s", a.status, a.body)
	}
	if a := post(t, s.RawURL(Generic), json_, `{"title":"t"}`); a.status != 400 {
		t.Errorf("generic without text and report: %d %s", a.status, a.body)
	}
	if got := len(s.Received()); got != 3 {
		t.Errorf("received %d, want 3", got)
	}
}

func TestRateLimit(t *testing.T) {
	s := newTestServer(t)
	now := vecNow
	s.SetClock(func() time.Time { return now })
	for i := range RateLimit {
		if a := post(t, s.RawURL(DingTalk), json_, dingBody("m")); code(t, a, "errcode") != 0 {
			t.Fatalf("message %d: %s", i+1, a.body)
		}
		if a := post(t, s.RawURL(WeCom), json_, `{"msgtype":"markdown","markdown":{"content":"m"}}`); code(t, a, "errcode") != 0 {
			t.Fatalf("message %d: %s", i+1, a.body)
		}
	}
	if a := post(t, s.RawURL(DingTalk), json_, dingBody("m")); code(t, a, "errcode") != 410100 {
		t.Errorf("21st DingTalk message: %s", a.body)
	}
	if a := post(t, s.RawURL(WeCom), json_, `{"msgtype":"markdown","markdown":{"content":"m"}}`); code(t, a, "errcode") != 45009 {
		t.Errorf("21st WeCom message: %s", a.body)
	}
	// A minute later WeCom accepts again; DingTalk refuses for 10 minutes.
	now = vecNow.Add(2 * time.Minute)
	s.SetClock(func() time.Time { return now })
	if a := post(t, s.RawURL(WeCom), json_, `{"msgtype":"markdown","markdown":{"content":"m"}}`); code(t, a, "errcode") != 0 {
		t.Errorf("WeCom after a minute: %s", a.body)
	}
	if a := post(t, s.RawURL(DingTalk), json_, dingBody("m")); code(t, a, "errcode") != 410100 {
		t.Errorf("DingTalk within its 10-minute penalty: %s", a.body)
	}
	now = vecNow.Add(11 * time.Minute)
	if a := post(t, s.RawURL(DingTalk), json_, dingBody("m")); code(t, a, "errcode") != 0 {
		t.Errorf("DingTalk after the penalty: %s", a.body)
	}
}

func TestFaultsInOrder(t *testing.T) {
	s := newTestServer(t)
	s.Inject(Slack, Fault500, Fault429, FaultRefuse)
	body := `{"text":"x"}`
	for _, want := range []int{500, 429, 403, 200} {
		if a := post(t, s.RawURL(Slack), json_, body); a.status != want {
			t.Errorf("got %d %s, want %d", a.status, a.body, want)
		}
	}
	if s.Requests(Slack) != 4 || len(s.Received()) != 1 {
		t.Errorf("requests %d, received %d", s.Requests(Slack), len(s.Received()))
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	s := newTestServer(t)
	s.Inject(Generic, FaultHang)
	c := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := c.Post(s.RawURL(Generic), json_, strings.NewReader(`{}`))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v; want the client's timeout", err, time.Since(start))
	}
}
