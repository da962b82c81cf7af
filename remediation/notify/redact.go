package notify

import (
	"net/url"
	"sort"
	"strings"
)

// publicSegments are the path segments of the known webhook URLs that are
// not credentials; Redact keeps them and hides every other segment.
//
//	https://oapi.dingtalk.com/robot/send?access_token=TOKEN
//	https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN
//	https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
//	https://hooks.slack.com/services/T000/B000/TOKEN
var publicSegments = map[string]bool{
	"robot": true, "send": true, "open-apis": true, "bot": true, "v2": true,
	"hook": true, "cgi-bin": true, "webhook": true, "services": true,
	"api": true, "hooks": true, "webhooks": true, "notify": true,
}

const hidden = "***"

// Redact returns a webhook URL (with or without a kind prefix) with every
// possible credential hidden: query values, user info, the fragment, and
// every path segment that is not one of the known public ones (so Lark's
// /hook/<token> and Slack's /services/T../B../<token> are hidden). Scheme,
// host, port, query keys and the public segments stay, which is enough to
// tell webhooks apart in a log. A string that does not parse as a URL gives
// only what precedes "://" and the host, if any.
func Redact(raw string) string {
	if strings.TrimSpace(raw) == "" {
		return ""
	}
	kind, rest := splitKind(strings.TrimSpace(raw))
	prefix := ""
	if kind != "" {
		prefix = string(kind) + "+"
	}
	u, err := url.Parse(rest)
	if err != nil || u.Opaque != "" {
		return prefix + redactUnparsed(rest)
	}
	if u.Scheme == "" || u.Host == "" {
		return prefix + "<not a URL>"
	}
	return prefix + redactURL(u)
}

func redactURL(u *url.URL) string {
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteString("://")
	}
	if u.User != nil {
		b.WriteString(hidden + "@")
	}
	b.WriteString(cleanHost(u.Host))
	path := u.EscapedPath()
	if path != "" {
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if s != "" && !publicSegments[s] {
				segs[i] = hidden
			}
		}
		path = strings.Join(segs, "/")
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		b.WriteString(path)
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil || len(q) == 0 {
			b.WriteString("?" + hidden)
		} else {
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if i == 0 {
					b.WriteByte('?')
				} else {
					b.WriteByte('&')
				}
				b.WriteString(safeKey(k) + "=" + hidden)
			}
		}
	}
	if u.Fragment != "" || u.RawFragment != "" {
		b.WriteString("#" + hidden)
	}
	return b.String()
}

// safeKey keeps a query key only if it looks like a parameter name; a key
// such as "?TOKEN" (a bare token in the query) is hidden.
func safeKey(k string) string {
	if len(k) == 0 || len(k) > 32 {
		return hidden
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r == '_' || r == '-') {
			return hidden
		}
	}
	return k
}

// cleanHost keeps a host only if it is made of host name characters.
func cleanHost(h string) string {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '-' || r == ':' || r == '[' || r == ']') {
			return hidden
		}
	}
	return h
}

func redactUnparsed(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "<not a URL>"
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	user := ""
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		user, host = hidden+"@", host[i+1:]
	}
	return cleanHost(strings.ToLower(scheme)) + "://" + user + cleanHost(host) + "/" + hidden
}
