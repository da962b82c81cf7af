package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// tableWidth is the width the tables are laid out for: a long reason is
// wrapped onto continuation rows rather than running past it.
const tableWidth = 120

// minReasonWidth is the narrowest the last column is wrapped to.
const minReasonWidth = 20

// table is rows of cells whose last column is free text, wrapped to fit.
type table struct {
	header []string
	rows   [][]string
	// noWrap keeps the last column on one line however long (an error
	// message: one line each, a URL in it whole).
	noWrap bool
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write lays the table out with text/tabwriter, two spaces between columns.
func (t *table) write(w io.Writer, width int) {
	n := len(t.header)
	widths := make([]int, n)
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, cell := range row[:n-1] {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	used := 0
	for _, wd := range widths[:n-1] {
		used += wd + 2
	}
	last := max(minReasonWidth, width-used)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	line(t.header)
	for _, row := range t.rows {
		parts := []string{strings.Join(strings.Fields(row[n-1]), " ")}
		if !t.noWrap {
			parts = wrap(row[n-1], last)
		}
		for i, part := range parts {
			cells := make([]string, n)
			if i == 0 {
				copy(cells, row[:n-1])
			}
			cells[n-1] = part
			line(cells)
		}
	}
	tw.Flush()
}

// wrap splits text into lines of at most width runes at spaces; a word
// longer than width stays whole.
func wrap(text string, width int) []string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	cur := words[0]
	for _, word := range words[1:] {
		if utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) > width {
			lines = append(lines, cur)
			cur = word
			continue
		}
		cur += " " + word
	}
	return append(lines, cur)
}

// writeReport prints the report as a table, one row per rule (a group
// without rules, or a failed one, gets a row of its own with its outcome and
// reason), followed by the summary line.
func writeReport(w io.Writer, rep *remediation.Report, width int) {
	t := &table{header: []string{"GROUP", "RULE", "PORTS", "SOURCE", "DECISION", "REASON"}}
	regions := map[string]bool{}
	for _, res := range rep.Resources {
		regions[res.Region] = true
	}
	for _, res := range rep.Resources {
		group := res.ResourceID
		if len(regions) > 1 {
			group = res.Region + "/" + group
		}
		if len(res.Rules) == 0 || res.Outcome == remediation.Failed {
			t.add(group, "-", "-", "-", string(res.Outcome), res.Reason)
			group = ""
		}
		for _, r := range res.Rules {
			reason := r.Reason
			if len(r.Replacements) > 0 {
				verb := "replaced by "
				switch r.Action {
				case string(remediation.WouldRevoke):
					verb = "would replace by "
				case "failed":
					verb = "to be replaced by "
				}
				reason += "; " + verb + strings.Join(r.Replacements, ", ")
			}
			t.add(group, r.RuleID, ports(r.Protocol, r.PortRange), dash(r.Source), r.Action, reason)
			group = ""
		}
		if res.OtherRules > 0 {
			t.add(group, plural(res.OtherRules, "other rule"), "-", "-", "kept", "not open to the internet (egress, or a narrower source)")
		}
	}
	t.write(w, width)
	fmt.Fprintln(w, summary(rep))
}

// plural is "1 rule", "2 rules".
func plural(count int, what string) string {
	if count == 1 {
		return fmt.Sprintf("%d %s", count, what)
	}
	return fmt.Sprintf("%d %ss", count, what)
}

func ports(protocol, portRange string) string {
	switch {
	case protocol == "" && portRange == "":
		return "-"
	case protocol == "":
		return portRange
	}
	return strings.ToLower(protocol) + " " + portRange
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// summary is the report's last line, e.g.
// "4 groups: 2 revoked (3 rules), 1 compliant, 1 skipped, 0 failed".
func summary(rep *remediation.Report) string {
	rules := map[string]int{}
	for _, res := range rep.Resources {
		for _, r := range res.Rules {
			rules[r.Action]++
		}
	}
	n := plural
	var parts []string
	if c := rep.Summary[remediation.Revoked]; c > 0 || !rep.DryRun {
		parts = append(parts, fmt.Sprintf("%d revoked (%s)", c, n(rules[string(remediation.Revoked)], "rule")))
	}
	if c := rep.Summary[remediation.WouldRevoke]; c > 0 || rep.DryRun {
		parts = append(parts, fmt.Sprintf("%d would-revoke (%s)", c, n(rules[string(remediation.WouldRevoke)], "rule")))
	}
	parts = append(parts,
		fmt.Sprintf("%d compliant", rep.Summary[remediation.Compliant]),
		fmt.Sprintf("%d skipped", rep.Summary[remediation.Skipped]),
		fmt.Sprintf("%d failed", rep.Summary[remediation.Failed]))
	line := n(len(rep.Resources), "group") + ": " + strings.Join(parts, ", ")
	if rep.DryRun {
		line += " (dry run: nothing changed)"
	}
	return line
}

// writeRestore prints restore's results, one row per backup record, and a
// summary line.
func writeRestore(w io.Writer, results []remediation.RestoreResult, dryRun bool, width int) {
	t := &table{header: []string{"GROUP", "RULE", "PORTS", "SOURCE", "ACTION", "ERROR"}, noWrap: true}
	counts := map[string]int{}
	last := ""
	for _, r := range results {
		counts[r.Action]++
		group := r.Backup.Region + "/" + r.Backup.GroupID
		shown := group
		if group == last {
			shown = ""
		}
		last = group
		rule := r.Backup.Rule
		t.add(shown, dash(rule.SecurityGroupRuleId), ports(rule.IpProtocol, rule.PortRange), dash(rule.Source()), r.Action, r.Error)
	}
	t.write(w, width)
	created := fmt.Sprintf("%d created", counts["created"])
	if dryRun {
		created = fmt.Sprintf("%d would-create", counts["would-create"])
	}
	rules := "rules"
	if len(results) == 1 {
		rules = "rule"
	}
	line := fmt.Sprintf("%d %s: %s, %d already exist, %d failed", len(results), rules, created, counts["exists"], counts["failed"])
	if dryRun {
		line += " (dry run: nothing changed)"
	}
	fmt.Fprintln(w, line)
}
