// Package notifytest is a webhook emulator for tests: one HTTP server on
// 127.0.0.1 (random port) that plays a DingTalk robot, a Lark/Feishu bot,
// a WeCom robot, a Slack incoming webhook and a generic JSON endpoint. It
// checks each request as the real service does (token, signature with a
// configured secret and its one-hour window, body shape, size limit, the
// 20-messages-a-minute robot limit), answers with the service's success or
// error codes, records what it accepted, and injects faults on demand.
//
// It deliberately shares no code with package notify: signatures are
// recomputed here from the services' published algorithms, so a wrong
// signature in the client fails the tests.
package notifytest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Kind is a webhook dialect the emulator plays.
type Kind string

// The dialects, spelled as the explicit URL prefixes of NOTIFY_URL.
const (
	DingTalk Kind = "dingtalk"
	Lark     Kind = "feishu"
	WeCom    Kind = "wecom"
	Slack    Kind = "slack"
	Generic  Kind = "json"
)

// Kinds lists every dialect.
var Kinds = []Kind{DingTalk, Lark, WeCom, Slack, Generic}

// Limits the emulator enforces, as the services document them.
const (
	DingTalkMaxBody   = 20000     // "message too long, exceed 20000 bytes"
	LarkMaxBody       = 20 * 1024 // request body at most 20 KB
	WeComMaxContent   = 4096      // markdown.content at most 4096 bytes
	SlackMaxText      = 40000     // characters
	RateLimit         = 20        // messages a minute per robot
	RateWindow        = time.Minute
	DingTalkPenalty   = 10 * time.Minute // DingTalk refuses this long after the limit
	SignatureValidFor = time.Hour        // timestamp must be this close to now
)

// Fault is an injected failure for one request.
type Fault int

const (
	// Fault500 answers HTTP 500.
	Fault500 Fault = iota + 1
	// Fault429 answers HTTP 429 (rate limited at the gateway).
	Fault429
	// FaultHang never answers: it holds the request until the client
	// gives up (or the server closes).
	FaultHang
	// FaultRefuse answers the kind's refusal as the service does for a
	// bad signature, keyword or IP whitelist: DingTalk errcode 310000,
	// Lark code 19021, WeCom errcode 93000, Slack 403 invalid_token,
	// generic 401.
	FaultRefuse
)

// Received is one accepted message.
type Received struct {
	Kind  Kind
	Token string
	Path  string
	Query string
	Body  []byte
	// Title and Text are the message's title and text as the kind carries
	// them (Lark: the post paragraphs joined by newlines; WeCom and Slack
	// have no title).
	Title string
	Text  string
	// Timestamp and Sign are the signature fields, if any.
	Timestamp string
	Sign      string
}

// Server is the emulator. Its methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	now      func() time.Time
	tokens   map[Kind]string
	secrets  map[Kind]string
	keyword  string
	faults   map[Kind][]Fault
	sent     map[Kind][]time.Time // accepted messages, for the rate limit
	penalty  map[Kind]time.Time   // DingTalk: refused until then
	received []Received
	requests map[Kind]int
	total    int
}

// NewServer starts an emulator on 127.0.0.1 with a random port and fresh
// random tokens. Close it when done.
func NewServer() *Server {
	s := &Server{
		closed:   make(chan struct{}),
		now:      time.Now,
		tokens:   map[Kind]string{},
		secrets:  map[Kind]string{},
		faults:   map[Kind][]Fault{},
		sent:     map[Kind][]time.Time{},
		penalty:  map[Kind]time.Time{},
		requests: map[Kind]int{},
	}
	for _, k := range Kinds {
		s.tokens[k] = randomToken()
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// SetClock sets the clock used for signature windows and the rate limit.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetSecret makes kind (DingTalk or Lark) require signatures with secret;
// "" turns signing off.
func (s *Server) SetSecret(kind Kind, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[kind] = secret
}

// SetKeyword makes the DingTalk robot require a keyword in each message
// (its "custom keywords" security setting).
func (s *Server) SetKeyword(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyword = k
}

// Token returns kind's access token (the credential in its URL).
func (s *Server) Token(kind Kind) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[kind]
}

// URL returns kind's webhook URL with the explicit kind prefix, as
// NOTIFY_URL takes it, e.g.
// dingtalk+http://127.0.0.1:PORT/robot/send?access_token=TOKEN.
func (s *Server) URL(kind Kind) string {
	return string(kind) + "+" + s.RawURL(kind)
}

// RawURL is URL without the kind prefix.
func (s *Server) RawURL(kind Kind) string {
	t := s.Token(kind)
	switch kind {
	case DingTalk:
		return s.srv.URL + "/robot/send?access_token=" + t
	case Lark:
		return s.srv.URL + "/open-apis/bot/v2/hook/" + t
	case WeCom:
		return s.srv.URL + "/cgi-bin/webhook/send?key=" + t
	case Slack:
		return s.srv.URL + "/services/T0EMULATOR/B0EMULATOR/" + t
	}
	return s.srv.URL + "/generic/" + t
}

// Inject queues faults for kind's next requests, one per request, in order.
func (s *Server) Inject(kind Kind, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[kind] = append(s.faults[kind], faults...)
}

// Received returns the accepted messages, oldest first.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Requests returns how many requests reached kind's endpoint (accepted or
// not).
func (s *Server) Requests(kind Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// TotalRequests counts every request the server saw.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// route finds the kind and token of a request path.
func route(r *http.Request) (Kind, string) {
	p := r.URL.Path
	switch {
	case p == "/robot/send":
		return DingTalk, r.URL.Query().Get("access_token")
	case strings.HasPrefix(p, "/open-apis/bot/v2/hook/"):
		return Lark, strings.TrimPrefix(p, "/open-apis/bot/v2/hook/")
	case p == "/cgi-bin/webhook/send":
		return WeCom, r.URL.Query().Get("key")
	case strings.HasPrefix(p, "/services/"):
		parts := strings.Split(strings.TrimPrefix(p, "/services/"), "/")
		if len(parts) == 3 {
			return Slack, parts[2]
		}
		return Slack, ""
	case strings.HasPrefix(p, "/generic/"):
		return Generic, strings.TrimPrefix(p, "/generic/")
	}
	return "", ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	kind, token := route(r)
	s.mu.Lock()
	s.total++
	if kind == "" {
		s.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	s.requests[kind]++
	var fault Fault
	if q := s.faults[kind]; len(q) > 0 {
		fault, s.faults[kind] = q[0], q[1:]
	}
	s.mu.Unlock()

	switch fault {
	case Fault500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case Fault429:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	case FaultRefuse:
		refuse(w, kind)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost {
		reject(w, kind, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		reject(w, kind, http.StatusBadRequest, "content type must be application/json")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if token == "" || token != s.tokens[kind] {
		badToken(w, kind)
		return
	}
	rec := Received{Kind: kind, Token: token, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body}
	if !s.check(w, kind, r, body, now, &rec) {
		return
	}
	if !s.admit(w, kind, now) {
		return
	}
	s.received = append(s.received, rec)
	ok(w, kind)
}

// check validates one message as the kind's service would, answering the
// refusal itself; rec gets the message's title, text and signature.
func (s *Server) check(w http.ResponseWriter, kind Kind, r *http.Request, body []byte, now time.Time, rec *Received) bool {
	switch kind {
	case DingTalk:
		return s.checkDingTalk(w, r, body, now, rec)
	case Lark:
		return s.checkLark(w, body, now, rec)
	case WeCom:
		return checkWeCom(w, body, rec)
	case Slack:
		return checkSlack(w, body, rec)
	case Generic:
		return checkGeneric(w, body, rec)
	}
	return true
}

// checkDingTalk checks a DingTalk robot message: size, signature, markdown, keyword.
func (s *Server) checkDingTalk(w http.ResponseWriter, r *http.Request, body []byte, now time.Time, rec *Received) bool {
	if len(body) > DingTalkMaxBody {
		writeJSON(w, 200, map[string]any{"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"})
		return false
	}
	if sec := s.secrets[DingTalk]; sec != "" {
		q := r.URL.Query()
		rec.Timestamp, rec.Sign = q.Get("timestamp"), q.Get("sign")
		if !validMillis(rec.Timestamp, now) {
			writeJSON(w, 200, map[string]any{"errcode": 310000, "errmsg": "sign not match, timestamp is not in the allowed window"})
			return false
		}
		if !hmac.Equal([]byte(rec.Sign), []byte(dingTalkSign(sec, rec.Timestamp))) {
			writeJSON(w, 200, map[string]any{"errcode": 310000, "errmsg": "sign not match"})
			return false
		}
	}
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown *struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
	}
	if json.Unmarshal(body, &m) != nil || m.MsgType != "markdown" || m.Markdown == nil || m.Markdown.Title == "" || m.Markdown.Text == "" {
		writeJSON(w, 200, map[string]any{"errcode": 40035, "errmsg": "missing or invalid parameter: markdown.title and markdown.text"})
		return false
	}
	if s.keyword != "" && !strings.Contains(m.Markdown.Title+m.Markdown.Text, s.keyword) {
		writeJSON(w, 200, map[string]any{"errcode": 310000, "errmsg": "keywords not in content"})
		return false
	}
	rec.Title, rec.Text = m.Markdown.Title, m.Markdown.Text
	return true
}

// checkLark checks a Lark/Feishu bot message: size, signature in the body, post or text.
func (s *Server) checkLark(w http.ResponseWriter, body []byte, now time.Time, rec *Received) bool {
	if len(body) > LarkMaxBody {
		writeJSON(w, 400, map[string]any{"code": 9499, "msg": "Bad Request: request body exceeds 20 KB", "data": map[string]any{}})
		return false
	}
	var m struct {
		Timestamp string `json:"timestamp"`
		Sign      string `json:"sign"`
		MsgType   string `json:"msg_type"`
		Content   struct {
			Text string `json:"text"`
			Post map[string]struct {
				Title   string `json:"title"`
				Content [][]struct {
					Tag  string `json:"tag"`
					Text string `json:"text"`
				} `json:"content"`
			} `json:"post"`
		} `json:"content"`
	}
	if json.Unmarshal(body, &m) != nil {
		writeJSON(w, 400, map[string]any{"code": 9499, "msg": "Bad Request: invalid JSON", "data": map[string]any{}})
		return false
	}
	if sec := s.secrets[Lark]; sec != "" {
		rec.Timestamp, rec.Sign = m.Timestamp, m.Sign
		if !validSeconds(m.Timestamp, now) || !hmac.Equal([]byte(m.Sign), []byte(larkSign(sec, m.Timestamp))) {
			writeJSON(w, 200, map[string]any{"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time", "data": map[string]any{}})
			return false
		}
	}
	switch m.MsgType {
	case "text":
		rec.Text = m.Content.Text
	case "post":
		for _, p := range m.Content.Post {
			rec.Title = p.Title
			var lines []string
			for _, para := range p.Content {
				var b strings.Builder
				for _, el := range para {
					if el.Tag != "text" {
						continue
					}
					b.WriteString(el.Text)
				}
				lines = append(lines, b.String())
			}
			rec.Text = strings.Join(lines, "\n")
		}
	}
	if rec.Text == "" {
		writeJSON(w, 400, map[string]any{"code": 9499, "msg": "Bad Request: msg_type post or text with content required", "data": map[string]any{}})
		return false
	}
	return true
}

// checkWeCom checks a WeCom robot message: markdown content of at most 4096 bytes.
func checkWeCom(w http.ResponseWriter, body []byte, rec *Received) bool {
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown *struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	if json.Unmarshal(body, &m) != nil || m.MsgType != "markdown" || m.Markdown == nil || m.Markdown.Content == "" {
		writeJSON(w, 200, map[string]any{"errcode": 40008, "errmsg": "invalid message type or missing markdown.content"})
		return false
	}
	if len(m.Markdown.Content) > WeComMaxContent {
		writeJSON(w, 200, map[string]any{"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
		return false
	}
	rec.Text = m.Markdown.Content
	return true
}

// checkSlack checks a Slack incoming-webhook message: a text within the limit.
func checkSlack(w http.ResponseWriter, body []byte, rec *Received) bool {
	var m struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(body, &m) != nil {
		writePlain(w, 400, "invalid_payload")
		return false
	}
	if m.Text == "" {
		writePlain(w, 400, "no_text")
		return false
	}
	if utf8.RuneCountInString(m.Text) > SlackMaxText {
		writePlain(w, 400, "msg_too_long")
		return false
	}
	rec.Text = m.Text
	return true
}

// checkGeneric checks a generic JSON message: the report with title and text.
func checkGeneric(w http.ResponseWriter, body []byte, rec *Received) bool {
	var m struct {
		Title     *string          `json:"title"`
		Text      *string          `json:"text"`
		Resources *json.RawMessage `json:"resources"`
	}
	if json.Unmarshal(body, &m) != nil || m.Title == nil || m.Text == nil || m.Resources == nil {
		writePlain(w, 400, "want a JSON object with title, text and the report's resources")
		return false
	}
	rec.Title, rec.Text = *m.Title, *m.Text
	return true
}

// admit applies the robot limit of about 20 messages a minute.
func (s *Server) admit(w http.ResponseWriter, kind Kind, now time.Time) bool {
	if until, ok := s.penalty[kind]; ok && now.Before(until) {
		limited(w, kind)
		return false
	}
	var recent []time.Time
	for _, t := range s.sent[kind] {
		if now.Sub(t) < RateWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= RateLimit {
		s.sent[kind] = recent
		if kind == DingTalk {
			s.penalty[kind] = now.Add(DingTalkPenalty)
		}
		limited(w, kind)
		return false
	}
	s.sent[kind] = append(recent, now)
	return true
}

func limited(w http.ResponseWriter, kind Kind) {
	switch kind {
	case DingTalk:
		writeJSON(w, 200, map[string]any{"errcode": 410100, "errmsg": "send too fast, exceed 20 times per minute"})
	case WeCom:
		writeJSON(w, 200, map[string]any{"errcode": 45009, "errmsg": "api freq out of limit"})
	case Lark:
		writeJSON(w, 200, map[string]any{"code": 11232, "msg": "frequency limited", "data": map[string]any{}})
	default:
		w.Header().Set("Retry-After", "60")
		writePlain(w, http.StatusTooManyRequests, "rate_limited")
	}
}

func ok(w http.ResponseWriter, kind Kind) {
	switch kind {
	case DingTalk, WeCom:
		writeJSON(w, 200, map[string]any{"errcode": 0, "errmsg": "ok"})
	case Lark:
		writeJSON(w, 200, map[string]any{"code": 0, "msg": "success", "data": map[string]any{}})
	case Slack:
		writePlain(w, 200, "ok")
	default:
		writeJSON(w, 200, map[string]any{})
	}
}

func refuse(w http.ResponseWriter, kind Kind) {
	switch kind {
	case DingTalk:
		writeJSON(w, 200, map[string]any{"errcode": 310000, "errmsg": "keywords not in content, sign not match or ip not in whitelist"})
	case Lark:
		writeJSON(w, 200, map[string]any{"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time", "data": map[string]any{}})
	case WeCom:
		writeJSON(w, 200, map[string]any{"errcode": 93000, "errmsg": "invalid webhook url"})
	case Slack:
		writePlain(w, 403, "invalid_token")
	default:
		writePlain(w, 401, "unauthorized")
	}
}

func badToken(w http.ResponseWriter, kind Kind) {
	switch kind {
	case DingTalk:
		writeJSON(w, 200, map[string]any{"errcode": 300001, "errmsg": "token is not exist"})
	case Lark:
		writeJSON(w, 200, map[string]any{"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": map[string]any{}})
	case WeCom:
		writeJSON(w, 200, map[string]any{"errcode": 93000, "errmsg": "invalid webhook url"})
	case Slack:
		writePlain(w, 404, "no_service")
	default:
		writePlain(w, 404, "not found")
	}
}

func reject(w http.ResponseWriter, kind Kind, status int, msg string) {
	switch kind {
	case DingTalk:
		writeJSON(w, 200, map[string]any{"errcode": 43004, "errmsg": msg})
	case WeCom:
		writeJSON(w, 200, map[string]any{"errcode": 40008, "errmsg": msg})
	case Lark:
		writeJSON(w, 400, map[string]any{"code": 9499, "msg": msg, "data": map[string]any{}})
	default:
		writePlain(w, status, msg)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writePlain(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}

func validMillis(ts string, now time.Time) bool {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.UnixMilli(ms))
	return d < SignatureValidFor && d > -SignatureValidFor
}

func validSeconds(ts string, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(sec, 0))
	return d < SignatureValidFor && d > -SignatureValidFor
}

// dingTalkSign is DingTalk's algorithm: base64(HMAC-SHA256(key=secret,
// msg=timestamp+"\n"+secret)). The query value arrives URL-decoded.
func dingTalkSign(secret, ts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%s\n%s", ts, secret)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// larkSign is Lark's algorithm: base64(HMAC-SHA256(key=timestamp+"\n"+secret,
// msg="")).
func larkSign(secret, ts string) string {
	mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
