package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Kind is the wire dialect of a webhook.
type Kind string

// The kinds of webhook (contract section 8).
const (
	DingTalk Kind = "dingtalk" // DingTalk custom robot
	Lark     Kind = "feishu"   // Lark / Feishu custom bot
	WeCom    Kind = "wecom"    // WeCom (WeChat Work) group robot
	Slack    Kind = "slack"    // Slack incoming webhook
	Generic  Kind = "json"     // any other endpoint: the report plus title and text
)

// kindPrefixes are the explicit "<kind>+" scheme prefixes.
var kindPrefixes = []Kind{DingTalk, Lark, WeCom, Slack, Generic}

// kindOfHost derives the kind from the webhook's host name.
func kindOfHost(host string) Kind {
	switch strings.ToLower(host) {
	case "oapi.dingtalk.com":
		return DingTalk
	case "open.feishu.cn", "open.larksuite.com":
		return Lark
	case "qyapi.weixin.qq.com":
		return WeCom
	case "hooks.slack.com":
		return Slack
	}
	return Generic
}

// Target is one webhook: its kind and its URL. The URL carries a credential
// (an access token in the query or the path), so a Target never prints it:
// String, GoString and LogValue give the redacted form.
type Target struct {
	kind Kind
	u    *url.URL
}

// Kind returns the target's wire dialect.
func (t Target) Kind() Kind { return t.kind }

// Host returns the host (and port) of the webhook, which is not secret.
func (t Target) Host() string {
	if t.u == nil {
		return ""
	}
	return t.u.Host
}

// String returns the redacted URL with its kind prefix.
func (t Target) String() string {
	if t.u == nil {
		return string(t.kind) + "+<no URL>"
	}
	return string(t.kind) + "+" + redactURL(t.u)
}

// GoString keeps %#v from printing the URL's credential.
func (t Target) GoString() string { return "notify.Target(" + t.String() + ")" }

// LogValue keeps slog from printing the URL's credential.
func (t Target) LogValue() slog.Value { return slog.StringValue(t.String()) }

// secrets returns the parts of the URL that may be credentials: every
// query value, user info and path segment that Redact hides.
func (t Target) secrets() []string {
	if t.u == nil {
		return nil
	}
	var out []string
	for _, vs := range t.u.Query() {
		out = append(out, vs...)
	}
	if t.u.User != nil {
		out = append(out, t.u.User.String())
		if p, ok := t.u.User.Password(); ok {
			out = append(out, p)
		}
		out = append(out, t.u.User.Username())
	}
	for seg := range strings.SplitSeq(t.u.EscapedPath(), "/") {
		if seg != "" && !publicSegments[seg] {
			out = append(out, seg)
			if un, err := url.PathUnescape(seg); err == nil {
				out = append(out, un)
			}
		}
	}
	if t.u.Fragment != "" {
		out = append(out, t.u.Fragment)
	}
	if t.u.RawQuery != "" {
		out = append(out, t.u.RawQuery)
	}
	return out
}

// ErrBadURL is wrapped by every NOTIFY_URL error; ErrBadOn by every
// NOTIFY_ON error. Both wrap remediation.ErrBadSetting.
var (
	ErrBadURL = fmt.Errorf("%w NOTIFY_URL", remediation.ErrBadSetting)
	ErrBadOn  = fmt.Errorf("%w NOTIFY_ON", remediation.ErrBadSetting)
)

// ParseTargets parses NOTIFY_URL: one or more comma-separated webhook URLs.
// An empty value gives no targets. Each URL is https://, or http:// to a
// loopback address; an optional "dingtalk+", "feishu+", "wecom+", "slack+"
// or "json+" before the scheme sets the kind, otherwise the host decides.
// Errors name a URL only in its redacted form.
func ParseTargets(urls string) ([]Target, error) {
	var out []Target
	var errs []error
	seen := map[string]bool{}
	for i, item := range strings.Split(urls, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		t, err := parseTarget(item)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: URL %d (%s): %w", ErrBadURL, i+1, Redact(item), err))
			continue
		}
		key := t.u.String()
		if seen[key] {
			errs = append(errs, fmt.Errorf("%w: URL %d (%s) is listed twice", ErrBadURL, i+1, t))
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func parseTarget(raw string) (Target, error) {
	kind, rest := splitKind(raw)
	u, err := url.Parse(rest)
	if err != nil {
		// url.Parse's error quotes the whole URL: never pass it on.
		return Target{}, errors.New("not a URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return Target{}, errors.New("no host")
	}
	if u.User != nil {
		return Target{}, errors.New("user info (user:password@) is not supported")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return Target{}, fmt.Errorf("http:// is allowed only to a loopback address, not %s; use https://", u.Hostname())
		}
	default:
		return Target{}, fmt.Errorf("scheme %q: want https:// (or http:// to a loopback address), optionally after dingtalk+, feishu+, wecom+, slack+ or json+", u.Scheme)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Fragment, u.RawFragment = "", ""
	if kind == "" {
		kind = kindOfHost(u.Hostname())
	}
	return Target{kind: kind, u: u}, nil
}

// splitKind splits an explicit "<kind>+" prefix off a URL.
func splitKind(raw string) (Kind, string) {
	for _, k := range kindPrefixes {
		p := string(k) + "+"
		if len(raw) > len(p) && strings.EqualFold(raw[:len(p)], p) {
			return k, raw[len(p):]
		}
	}
	return "", raw
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Event is an outcome (or, for Excepted, a rule action) that can cause a
// message.
type Event string

// The events NOTIFY_ON may name.
const (
	OnRevoked     Event = "revoked"
	OnWouldRevoke Event = "would-revoke"
	OnFailed      Event = "failed"
	OnExcepted    Event = "excepted"
	OnSkipped     Event = "skipped"
	OnCompliant   Event = "compliant"
)

// DefaultOn is NOTIFY_ON's default.
const DefaultOn = "revoked,would-revoke,failed"

var allEvents = []Event{OnRevoked, OnWouldRevoke, OnFailed, OnExcepted, OnSkipped, OnCompliant}

// On is the set of events that cause a message.
type On map[Event]bool

// Has reports whether e is in the set.
func (o On) Has(e Event) bool { return o[e] }

// String lists the set in a fixed order, comma-separated.
func (o On) String() string {
	var parts []string
	for _, e := range allEvents {
		if o[e] {
			parts = append(parts, string(e))
		}
	}
	return strings.Join(parts, ",")
}

// ParseOn parses NOTIFY_ON; an empty value gives DefaultOn.
func ParseOn(s string) (On, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultOn
	}
	on := On{}
	var bad []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if item == "" {
			continue
		}
		ok := false
		for _, e := range allEvents {
			if Event(item) == e {
				on[e], ok = true, true
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%q", item))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: unknown value %s; allowed: revoked, would-revoke, failed, excepted, skipped, compliant", ErrBadOn, strings.Join(bad, ", "))
	}
	if len(on) == 0 {
		return nil, fmt.Errorf("%w: no value given", ErrBadOn)
	}
	return on, nil
}

// Secret is NOTIFY_SECRET. It never prints: String, GoString and LogValue
// give a placeholder.
type Secret string

func (Secret) String() string               { return "[secret]" }
func (Secret) GoString() string             { return "[secret]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[secret]") }
func (s Secret) reveal() string             { return string(s) }
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[secret]")) }

// Config is the notification settings plus what tests may inject.
type Config struct {
	Targets []Target
	Secret  Secret
	On      On

	// Now is the clock for signature timestamps; nil means time.Now.
	Now func() time.Time
	// AttemptTimeout bounds one HTTP attempt; zero means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// PerURLTimeout bounds all attempts to one URL; zero means
	// DefaultPerURLTimeout.
	PerURLTimeout time.Duration
	// RetryDelay is the pause before the second attempt; zero means
	// DefaultRetryDelay.
	RetryDelay time.Duration
}

// LoadConfig reads NOTIFY_URL, NOTIFY_SECRET and NOTIFY_ON through getenv
// (os.Getenv in production). Every invalid value is reported; the error
// wraps remediation.ErrBadSetting and never contains a credential.
func LoadConfig(getenv func(string) string) (Config, error) {
	return ParseConfig(getenv("NOTIFY_URL"), getenv("NOTIFY_SECRET"), getenv("NOTIFY_ON"))
}

// ParseConfig builds a Config from the three settings' values.
func ParseConfig(urls, secret, on string) (Config, error) {
	targets, errT := ParseTargets(urls)
	set, errO := ParseOn(on)
	if err := errors.Join(errT, errO); err != nil {
		return Config{}, err
	}
	return Config{Targets: targets, Secret: Secret(strings.TrimSpace(secret)), On: set}, nil
}
