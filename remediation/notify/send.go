package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Bounds of sending (contract section 8: at most a few seconds and two
// attempts per URL).
const (
	DefaultAttemptTimeout = 3 * time.Second
	DefaultPerURLTimeout  = 5 * time.Second
	DefaultRetryDelay     = 300 * time.Millisecond
	MaxAttempts           = 2
	maxAnswer             = 64 << 10
)

// ErrRejected is wrapped when a webhook answered but refused the message
// (an HTTP error status or a non-zero error code in the answer).
var ErrRejected = errors.New("webhook refused the message")

// Notifier sends one message per invocation and webhook.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
}

// New returns a Notifier for cfg, logging to log (nil: slog.Default()).
// A Config without targets gives a Notifier that sends nothing.
func New(cfg Config, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	if cfg.On == nil {
		cfg.On, _ = ParseOn("")
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.PerURLTimeout <= 0 {
		cfg.PerURLTimeout = DefaultPerURLTimeout
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // only the configured webhook, never an environment proxy
	return &Notifier{
		cfg: cfg,
		log: log,
		now: now,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.AttemptTimeout,
			// A redirect would resend the message elsewhere: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Targets returns the webhooks (their String is redacted).
func (n *Notifier) Targets() []Target { return append([]Target(nil), n.cfg.Targets...) }

// Wants reports whether r causes a message: some resource's outcome (or,
// for "excepted", some rule's action) is in NOTIFY_ON, and there is a
// webhook.
func (n *Notifier) Wants(r *remediation.Report) bool {
	return n != nil && len(n.cfg.Targets) > 0 && wants(n.cfg.On, r)
}

// Message is what would be sent to one webhook.
type Message struct {
	Kind  Kind   `json:"kind"`
	URL   string `json:"url"` // redacted
	Title string `json:"title"`
	// Text is the message as the webhook renders it (markdown, Slack
	// mrkdwn or, for Lark, plain text).
	Text string `json:"text"`
	// Body is the JSON request body, without signature fields.
	Body json.RawMessage `json:"body"`
	// Groups is the number of groups shown; Omitted those cut for size.
	Groups  int `json:"groups"`
	Omitted int `json:"omitted"`
}

// Preview renders the messages Send would send for r, one per webhook,
// without sending anything (for replay without --live). It returns nil
// when r causes no message.
func (n *Notifier) Preview(r *remediation.Report) []Message {
	if !n.Wants(r) {
		return nil
	}
	c := compose(n.cfg.On, r)
	cache := map[Kind]rendered{}
	out := make([]Message, 0, len(n.cfg.Targets))
	for _, t := range n.cfg.Targets {
		m, ok := cache[t.kind]
		if !ok {
			m = render(t.kind, &c, r)
			cache[t.kind] = m
		}
		out = append(out, Message{
			Kind: t.kind, URL: t.String(), Title: m.title, Text: n.scrub(m.text),
			Body: m.body, Groups: m.shown, Omitted: m.omitted,
		})
	}
	return out
}

// Result is the outcome of sending to one webhook.
type Result struct {
	Target   string `json:"target"` // redacted URL
	Host     string `json:"host"`
	Kind     Kind   `json:"kind"`
	Attempts int    `json:"attempts"`
	Groups   int    `json:"groups"`
	Omitted  int    `json:"omitted"`
	// Err is nil when the webhook accepted the message. Its text never
	// holds a credential.
	Err error `json:"-"`
	// Error is Err's text, for JSON output.
	Error string `json:"error,omitempty"`
}

// Send sends the message for r to every webhook concurrently, when r
// causes one, and returns one Result per webhook (nil when nothing was
// sent). It never takes longer than ctx allows (pass a context whose
// deadline already excludes the invocation's reserve) nor, per webhook,
// PerURLTimeout, and makes at most two attempts, retrying only network
// errors, HTTP 429 and 5xx. A failure is logged as a warning naming the
// webhook's host; it is returned for the caller's information only and
// must not change the invocation's answer.
func (n *Notifier) Send(ctx context.Context, r *remediation.Report) []Result {
	if !n.Wants(r) {
		return nil
	}
	c := compose(n.cfg.On, r)
	cache := map[Kind]rendered{}
	for _, t := range n.cfg.Targets {
		if _, ok := cache[t.kind]; !ok {
			cache[t.kind] = render(t.kind, &c, r)
		}
	}
	results := make([]Result, len(n.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range n.cfg.Targets {
		wg.Go(func() {
			m := cache[t.kind]
			res := Result{Target: t.String(), Host: t.Host(), Kind: t.kind, Groups: m.shown, Omitted: m.omitted}
			res.Attempts, res.Err = n.sendOne(ctx, t, m, r)
			if res.Err != nil {
				res.Error = res.Err.Error()
			}
			results[i] = res
		})
	}
	wg.Wait()
	n.client.CloseIdleConnections()
	for _, res := range results {
		if res.Err != nil {
			n.log.LogAttrs(ctx, slog.LevelWarn, "notification failed",
				slog.String("host", res.Host), slog.String("kind", string(res.Kind)),
				slog.Int("attempts", res.Attempts), slog.String("error", res.Err.Error()))
		} else {
			n.log.LogAttrs(ctx, slog.LevelInfo, "notification sent",
				slog.String("host", res.Host), slog.String("kind", string(res.Kind)),
				slog.Int("attempts", res.Attempts), slog.Int("groups", res.Groups), slog.Int("omitted", res.Omitted))
		}
	}
	return results
}

func (n *Notifier) sendOne(ctx context.Context, t Target, m rendered, r *remediation.Report) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.PerURLTimeout)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			if attempt == 1 {
				return 0, fmt.Errorf("not sent: %w", context.Cause(ctx))
			}
			return attempt - 1, err
		}
		var retry bool
		retry, err = n.attempt(ctx, t, m, r)
		if err == nil || !retry || attempt == MaxAttempts {
			return attempt, err
		}
		// A second attempt only if it has time to succeed.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < n.cfg.RetryDelay+50*time.Millisecond {
			return attempt, err
		}
		timer := time.NewTimer(n.cfg.RetryDelay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return attempt, err
		case <-timer.C:
		}
	}
}

// attempt posts once; retry says whether the failure may be retried.
func (n *Notifier) attempt(ctx context.Context, t Target, m rendered, r *remediation.Report) (retry bool, err error) {
	target, payload := n.signed(t, m, r)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return false, fmt.Errorf("build request for %s: %s", t, n.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := n.client.Do(req)
	if err != nil {
		return true, n.netError(t, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return true, fmt.Errorf("read answer of %s: %w", t, n.stripURL(err))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return true, fmt.Errorf("%w: %s answered HTTP %d%s", ErrRejected, t, resp.StatusCode, n.snippet(answer))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("%w: %s answered HTTP %d%s", ErrRejected, t, resp.StatusCode, n.snippet(answer))
	}
	return false, n.checkAnswer(t, answer)
}

// checkAnswer reads each kind's success code from a 2xx answer.
func (n *Notifier) checkAnswer(t Target, answer []byte) error {
	var a struct {
		ErrCode    *int    `json:"errcode"`
		ErrMsg     string  `json:"errmsg"`
		Code       *int    `json:"code"`
		Msg        string  `json:"msg"`
		StatusCode *int    `json:"StatusCode"`
		StatusMsg  *string `json:"StatusMessage"`
	}
	switch t.kind {
	case DingTalk, WeCom:
		// DingTalk answers HTTP 200 even on failure: only errcode 0 is success.
		if json.Unmarshal(answer, &a) != nil || a.ErrCode == nil {
			return fmt.Errorf("%w: %s answered without an errcode%s", ErrRejected, t, n.snippet(answer))
		}
		if *a.ErrCode != 0 {
			hint := ""
			if t.kind == DingTalk && *a.ErrCode == 310000 {
				hint = " (signature, keyword or IP whitelist: check NOTIFY_SECRET and the robot's security settings)"
			}
			return fmt.Errorf("%w: %s answered errcode %d: %s%s", ErrRejected, t, *a.ErrCode, n.scrub(clip(a.ErrMsg)), hint)
		}
	case Lark:
		if json.Unmarshal(answer, &a) != nil {
			return fmt.Errorf("%w: %s answered no JSON%s", ErrRejected, t, n.snippet(answer))
		}
		code := a.Code
		if code == nil {
			code = a.StatusCode // the bot's older answer form
		}
		if code == nil {
			return fmt.Errorf("%w: %s answered without a code%s", ErrRejected, t, n.snippet(answer))
		}
		if *code != 0 {
			return fmt.Errorf("%w: %s answered code %d: %s", ErrRejected, t, *code, n.scrub(clip(a.Msg)))
		}
	}
	// Slack and the generic kind: a 2xx status is success.
	return nil
}

// signed returns the URL and body of one attempt, with a fresh signature
// when a secret is set (DingTalk in the URL, Lark in the body).
func (n *Notifier) signed(t Target, m rendered, r *remediation.Report) (string, []byte) {
	u := t.u.String()
	secret := n.cfg.Secret.reveal()
	if secret == "" {
		return u, m.body
	}
	now := n.now()
	switch t.kind {
	case DingTalk:
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		sep := "&"
		if t.u.RawQuery == "" {
			sep = "?"
		}
		return u + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(DingTalkSign(secret, ts)), m.body
	case Lark:
		ts := strconv.FormatInt(now.Unix(), 10)
		return u, body(Lark, m.title, m.text, m.lines, r, ts, LarkSign(secret, ts))
	}
	return u, m.body
}

// DingTalkSign is a DingTalk robot signature before URL encoding:
// base64(HMAC-SHA256(key=secret, msg=timestamp+"\n"+secret)), timestamp in
// milliseconds.
func DingTalkSign(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// LarkSign is a Lark/Feishu bot signature:
// base64(HMAC-SHA256(key=timestamp+"\n"+secret, msg="")), timestamp in
// seconds.
func LarkSign(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// netError turns a transport error into one that names the webhook only
// redacted: *url.Error quotes the full URL, with its token.
func (n *Notifier) netError(t Target, err error) error {
	return fmt.Errorf("post to %s: %w", t, n.stripURL(err))
}

// stripURL unwraps *url.Error (whose text holds the URL) and checks the
// rest for credentials.
func (n *Notifier) stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if s := err.Error(); n.scrub(s) != s {
		return errors.New(n.scrub(s))
	}
	return err
}

func (n *Notifier) snippet(answer []byte) string {
	s := strings.TrimSpace(string(answer))
	if s == "" {
		return ""
	}
	return ": " + n.scrub(clip(s))
}

func clip(s string) string {
	const max = 200
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// scrub hides every credential the Notifier knows (URL tokens and
// NOTIFY_SECRET) in s: answers and errors from elsewhere may echo them.
func (n *Notifier) scrub(s string) string {
	var secrets []string
	if sec := n.cfg.Secret.reveal(); sec != "" {
		secrets = append(secrets, sec)
	}
	for _, t := range n.cfg.Targets {
		secrets = append(secrets, t.secrets()...)
	}
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, hidden)
		}
	}
	return s
}
