package notify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Size limits per kind. A message over its kind's limit is cut at a group
// boundary and says how many groups were left out.
const (
	// DingTalkMaxBody bounds the whole JSON body of a DingTalk robot
	// message: the robot refuses a message over 20000 bytes.
	DingTalkMaxBody = 20000
	// LarkMaxBody bounds the whole JSON body of a Lark/Feishu bot message
	// (documented as 20 KB); 20000 bytes leaves room for the signature.
	LarkMaxBody = 20000 - 100
	// WeComMaxContent bounds markdown.content of a WeCom robot message:
	// 4096 bytes (errcode 40058 beyond).
	WeComMaxContent = 4096
	// SlackMaxText bounds the text of a Slack message: Slack truncates
	// text over 40000 characters; bytes are counted, which is stricter.
	SlackMaxText = 40000
)

// Undo instructions.
const (
	// RestoreCommand re-creates the revoked rules from exported backup lines.
	RestoreCommand = "sg-remediation restore backup.jsonl"
	// queryGroupsPerQuery keeps each Log Service query under its limit of
	// 30 search conditions ("rule backup" plus one per group).
	queryGroupsPerQuery = 25
)

// BackupQueries returns Log Service search statements that find the backup
// lines of the given security groups: the phrase "rule backup" (the message
// of every backup line) and any of the group ids, as full-text terms, so
// they work with the full-text index of a Function Compute logstore. Each
// statement names at most 25 groups (Log Service allows 30 conditions).
func BackupQueries(groupIDs []string) []string {
	ids := append([]string(nil), groupIDs...)
	sort.Strings(ids)
	ids = dedup(ids)
	var out []string
	for len(ids) > 0 {
		n := min(len(ids), queryGroupsPerQuery)
		quoted := make([]string, n)
		for i, id := range ids[:n] {
			quoted[i] = `"` + strings.ReplaceAll(id, `"`, "") + `"`
		}
		q := `"` + remediation.BackupMessage + `"`
		if n == 1 {
			q += " and " + quoted[0]
		} else {
			q += " and (" + strings.Join(quoted, " or ") + ")"
		}
		out = append(out, q)
		ids = ids[n:]
	}
	return out
}

func dedup(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if s != "" && (i == 0 || s != sorted[i-1]) {
			out = append(out, s)
		}
	}
	return out
}

// A message is a list of lines made of spans; each kind renders them in
// its own markup.
type lineKind int

const (
	para lineKind = iota
	heading
	bullet
)

type span struct {
	text       string
	code, bold bool
}

type line struct {
	kind  lineKind
	spans []span
}

func txt(s string) span  { return span{text: oneLine(s)} }
func code(s string) span { return span{text: oneLine(s), code: true} }
func bold(s string) span { return span{text: strings.TrimSpace(oneLine(s)), bold: true} }

// oneLine keeps report text on one line and free of backquotes (which
// would break code spans), keeping one space at either end if it had any.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	out := strings.Join(strings.Fields(s), " ")
	if out == "" {
		return ""
	}
	if strings.TrimLeftFunc(s, unicode.IsSpace) != s {
		out = " " + out
	}
	if strings.TrimRightFunc(s, unicode.IsSpace) != s {
		out += " "
	}
	return out
}

// group is the part of a message about one resource.
type group struct {
	lines    []line
	backups  bool // some rule was revoked: there are backup lines
	replaced bool // restrict mode authorized narrow replacements
	id       string
}

// composed is a message before it is rendered and cut.
type composed struct {
	title  string
	dryRun bool
	head   []line
	groups []group
}

// wants reports whether the report holds anything NOTIFY_ON asks about.
func wants(on On, r *remediation.Report) bool {
	if r == nil {
		return false
	}
	for _, res := range r.Resources {
		if on.Has(Event(res.Outcome)) || on.Has(OnExcepted) && hasAction(res, string(OnExcepted)) {
			return true
		}
	}
	return false
}

func hasAction(res remediation.ResourceReport, action string) bool {
	for _, rule := range res.Rules {
		if rule.Action == action {
			return true
		}
	}
	return false
}

// outcomeOrder puts failures first, so that a cut message keeps them.
var outcomeOrder = map[remediation.Outcome]int{
	remediation.Failed: 0, remediation.Revoked: 1, remediation.WouldRevoke: 2,
	remediation.Skipped: 4, remediation.Compliant: 5,
}

// shownActions are the rule actions a message lists.
var shownActions = map[string]bool{
	"revoked": true, "would-revoke": true, "failed": true, "excepted": true, "gone": true,
}

func compose(on On, r *remediation.Report) composed {
	var c composed
	c.dryRun = r.DryRun
	counts := map[remediation.Outcome]int{}
	excepted := 0
	var picked []remediation.ResourceReport
	for _, res := range r.Resources {
		counts[res.Outcome]++
		exc := hasAction(res, string(OnExcepted))
		if exc {
			excepted++
		}
		// Every failure is named, whatever NOTIFY_ON says.
		if res.Outcome == remediation.Failed || on.Has(Event(res.Outcome)) || on.Has(OnExcepted) && exc {
			picked = append(picked, res)
		}
	}
	sort.SliceStable(picked, func(i, j int) bool {
		oi, ok := outcomeOrder[picked[i].Outcome]
		if !ok {
			oi = 3
		}
		oj, ok := outcomeOrder[picked[j].Outcome]
		if !ok {
			oj = 3
		}
		return oi < oj
	})

	var summary []string
	for _, o := range []remediation.Outcome{remediation.Revoked, remediation.WouldRevoke, remediation.Failed, remediation.Skipped, remediation.Compliant} {
		if counts[o] > 0 {
			summary = append(summary, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if excepted > 0 {
		summary = append(summary, fmt.Sprintf("%d with excepted rules", excepted))
	}
	sumText := strings.Join(summary, ", ")

	if r.DryRun {
		c.title = "sg-remediation DRY RUN: " + sumText
		c.head = append(c.head, line{para, []span{bold("DRY RUN: nothing was changed."), txt(" The rules below would be revoked with DRY_RUN=false.")}})
	} else {
		c.title = "sg-remediation: " + sumText
		if counts[remediation.Revoked] > 0 {
			c.head = append(c.head, line{para, []span{bold("Security group rules open to the internet were revoked."), txt(" Each rule was written to the function's log before it was revoked.")}})
		} else {
			c.head = append(c.head, line{para, []span{bold("Security group remediation report."), txt(" No rule was revoked.")}})
		}
	}
	c.head = append(c.head, line{para, []span{txt(fmt.Sprintf("Resources: %s (of %d).", sumText, len(r.Resources)))}})
	if n := counts[remediation.Failed]; n > 0 {
		c.head = append(c.head, line{para, []span{bold(fmt.Sprintf("%d resource(s) failed", n)), txt(": they are listed first with the reason.")}})
	}

	for _, res := range picked {
		c.groups = append(c.groups, groupLines(res))
	}
	return c
}

func groupLines(res remediation.ResourceReport) group {
	g := group{id: res.ResourceID}
	head := []span{code(res.ResourceID), txt(" " + res.Region)}
	if res.AccountID != "" {
		head = append(head, txt(", account "+res.AccountID))
	}
	head = append(head, txt(": "), bold(string(res.Outcome)))
	g.lines = append(g.lines, line{heading, head})
	if res.Reason != "" {
		label := "Reason: "
		if res.Outcome == remediation.Failed {
			label = "Failure: "
		}
		g.lines = append(g.lines, line{para, []span{txt(label + res.Reason)}})
	}
	for _, rule := range res.Rules {
		if rule.Action == "revoked" {
			g.backups = true
		}
		if !shownActions[rule.Action] {
			continue
		}
		sp := []span{code(rule.RuleID), txt(fmt.Sprintf(" %s %s from %s: ", rule.Protocol, rule.PortRange, rule.Source)), bold(rule.Action)}
		if rule.Reason != "" {
			sp = append(sp, txt(" ("+rule.Reason+")"))
		}
		if len(rule.Replacements) > 0 {
			g.replaced = true
			sp = append(sp, txt("; replaced by "+strings.Join(rule.Replacements, ", ")))
		}
		g.lines = append(g.lines, line{bullet, sp})
	}
	if res.Outcome == remediation.Revoked {
		g.backups = true
	}
	return g
}

// tail is the end of a message: what was left out and how to undo.
func (c *composed) tail(shown []group, omitted int) []line {
	var out []line
	if omitted > 0 {
		out = append(out, line{para, []span{bold(fmt.Sprintf("%d group(s) left out", omitted)), txt(" to fit the message size; the function's log has all of them.")}})
	}
	out = append(out, line{heading, []span{bold("How to undo")}})
	if c.dryRun {
		out = append(out, line{para, []span{txt("Dry run: nothing was revoked, so there is nothing to undo.")}})
		return out
	}
	var ids []string
	replaced := false
	for _, g := range shown {
		if g.backups {
			ids = append(ids, g.id)
		}
		replaced = replaced || g.replaced
	}
	omittedBackups := false
	for _, g := range c.groups[len(shown):] {
		omittedBackups = omittedBackups || g.backups
	}
	if len(ids) == 0 && !omittedBackups {
		out = append(out, line{para, []span{txt("No rule was revoked, so there is nothing to undo.")}})
		return out
	}
	out = append(out, line{para, []span{txt("1. Find the backup lines in the function's Log Service logstore with this query and export them to backup.jsonl:")}})
	for _, q := range BackupQueries(ids) {
		out = append(out, line{bullet, []span{code(q)}})
	}
	if omittedBackups {
		out = append(out, line{bullet, []span{code(`"` + remediation.BackupMessage + `"`), txt(" (every backup, including the groups left out)")}})
	}
	out = append(out, line{para, []span{txt("2. Re-create the rules: "), code(RestoreCommand), txt(" (add "), code("--dry-run"), txt(" to see what it would create first). Restore is idempotent.")}})
	if replaced {
		out = append(out, line{para, []span{txt("The narrow rules authorized in restrict mode stay; revoke them by hand if they are not wanted.")}})
	}
	return out
}

// rendered is one kind's rendering of a message.
type rendered struct {
	title   string
	lines   []line
	text    string
	body    []byte
	shown   int
	omitted int
}

// render renders c for kind, cutting groups from the end until the
// kind's size limit holds.
func render(kind Kind, c *composed, r *remediation.Report) rendered {
	build := func(k int) rendered {
		lines := append([]line(nil), c.head...)
		for _, g := range c.groups[:k] {
			lines = append(lines, g.lines...)
		}
		lines = append(lines, c.tail(c.groups[:k], len(c.groups)-k)...)
		text := markup(kind, lines)
		if kind == Slack {
			// Slack has no title field: the title is the first line.
			text = "*" + slackEscape(oneLine(c.title)) + "*\n" + text
		}
		return rendered{title: c.title, lines: lines, text: text, body: body(kind, c.title, text, lines, r, "", ""), shown: k, omitted: len(c.groups) - k}
	}
	best := build(len(c.groups))
	if fits(kind, best) {
		return best
	}
	// The size grows with the number of groups: binary search the
	// largest count that fits.
	lo, hi := 0, len(c.groups)-1
	best = build(0)
	for lo <= hi {
		mid := (lo + hi) / 2
		m := build(mid)
		if fits(kind, m) {
			best, lo = m, mid+1
		} else {
			hi = mid - 1
		}
	}
	return best
}

func fits(kind Kind, m rendered) bool {
	switch kind {
	case DingTalk:
		return len(m.body) <= DingTalkMaxBody
	case Lark:
		return len(m.body) <= LarkMaxBody
	case WeCom:
		return len(m.text) <= WeComMaxContent
	case Slack:
		return len(m.text) <= SlackMaxText
	}
	return true
}

// markup renders lines as text: markdown for DingTalk, WeCom and the
// generic kind, mrkdwn for Slack, plain text for Lark (its post content
// is built from the lines directly).
func markup(kind Kind, lines []line) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
			// DingTalk markdown needs an empty line between paragraphs.
			if kind == DingTalk && !(l.kind == bullet && lines[i-1].kind == bullet) {
				b.WriteByte('\n')
			}
		}
		b.WriteString(lineText(kind, l))
	}
	return b.String()
}

func lineText(kind Kind, l line) string {
	var b strings.Builder
	switch {
	case l.kind == heading && kind == Slack:
	case l.kind == heading && kind != Lark:
		b.WriteString("#### ")
	case l.kind == bullet && (kind == Slack || kind == Lark):
		b.WriteString("• ")
	case l.kind == bullet:
		b.WriteString("- ")
	}
	for _, s := range l.spans {
		t := s.text
		if kind == Slack {
			t = slackEscape(t)
		}
		switch {
		case kind == Lark:
		case s.code && t != "":
			t = "`" + t + "`"
		case s.bold && t != "":
			if kind == Slack {
				t = "*" + t + "*"
			} else {
				t = "**" + t + "**"
			}
		}
		b.WriteString(t)
	}
	return b.String()
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

type larkText struct {
	Tag  string `json:"tag"`
	Text string `json:"text"`
}

// body is the JSON body for kind; timestamp and sign are Lark's signature
// fields (empty: unsigned).
func body(kind Kind, title, text string, lines []line, r *remediation.Report, timestamp, sign string) []byte {
	var v any
	switch kind {
	case DingTalk:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text}}
	case WeCom:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": text}}
	case Slack:
		v = map[string]string{"text": text}
	case Lark:
		content := make([][]larkText, 0, len(lines))
		for _, l := range lines {
			content = append(content, []larkText{{Tag: "text", Text: lineText(Lark, l)}})
		}
		v = larkBody{
			Timestamp: timestamp, Sign: sign, MsgType: "post",
			Content: larkContent{Post: map[string]larkPost{"zh_cn": {Title: title, Content: content}}},
		}
	default:
		v = genericBody{Title: title, Text: text, Report: r}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings, slices and maps of them: cannot fail.
		panic(fmt.Sprintf("notify: marshal %s body: %v", kind, err))
	}
	return b
}

type larkBody struct {
	Timestamp string      `json:"timestamp,omitempty"`
	Sign      string      `json:"sign,omitempty"`
	MsgType   string      `json:"msg_type"`
	Content   larkContent `json:"content"`
}

type larkContent struct {
	Post map[string]larkPost `json:"post"`
}

type larkPost struct {
	Title   string       `json:"title"`
	Content [][]larkText `json:"content"`
}

// genericBody is the report plus title and text.
type genericBody struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	*remediation.Report
}
