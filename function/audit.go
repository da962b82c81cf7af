package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

const auditHelp = `
Reads every security group of the regions given (--region R[,R...]) or of
every region of the account (--all-regions: ECS DescribeRegions first) and
judges it as the function would, changing nothing: managed and exempt groups
are listed and not read; the ingress rules of every other group are read
(DescribeSecurityGroupAttribute) and decided with RISKY_PORTS, EXEMPT_TAG and
EXCEPTIONS, exactly as the remediation decides them.

Prints a table of every risky, excepted and unreadable rule and of every
skipped group or group that could not be read (REGION, GROUP, RULE, PROTOCOL,
PORTS, SOURCE, STATUS, REASON), then a summary per region. --json prints the
same as JSON lines. While it reads, a progress line goes to stderr when stderr
is a terminal.

--event-out FILE writes a remediation event naming every group with a risky
rule (accountId from STS GetCallerIdentity), for the careful next steps:
  replay --live FILE            what the function would revoke (dry run)
  replay --live --apply FILE    revoke it

Only Describe* calls and GetCallerIdentity: never a write. At most
MAX_CONCURRENCY calls in flight; throttled calls are retried with backoff.
Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN
or the credentials-go chain; ECS_ENDPOINT and STS_ENDPOINT override the
endpoints. RAM actions: ecs:DescribeRegions, ecs:DescribeSecurityGroups,
ecs:DescribeSecurityGroupAttribute.

Exit status: 0 every group read and none risky, 1 a risky or unreadable rule,
a group or region that could not be read (the output says which), 2 usage
error or invalid setting (no call made).
`

// stderrIsTerminal reports whether w is a terminal (progress goes there
// only then). A variable so that tests can pretend.
var stderrIsTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type auditOpts struct {
	regions    string
	allRegions bool
	asJSON     bool
	eventOut   string
}

func (c *cli) audit(ctx context.Context, args []string) int {
	const name = "audit"
	var o auditOpts
	fs := c.flagSet(name, "[flags] --region R[,R...] | --all-regions", auditHelp)
	fs.StringVar(&o.regions, "region", "", "regions to read, comma-separated (e.g. cn-hangzhou,cn-beijing)")
	fs.BoolVar(&o.allRegions, "all-regions", false, "read every region of the account (ECS DescribeRegions)")
	fs.BoolVar(&o.asJSON, "json", false, "print JSON lines (one per finding, skipped or unreadable group, region, and a total) instead of the tables")
	fs.StringVar(&o.eventOut, "event-out", "", "write a remediation event naming every group with a risky rule to this file, for replay --live")
	pos, code, done := c.parse(fs, args)
	if done {
		return code
	}
	regions, err := parseRegions(o.regions)
	switch {
	case len(pos) > 0:
		return c.usageError(name, "unexpected argument %q", pos[0])
	case err != nil:
		return c.usageError(name, "--region: %v", err)
	case o.allRegions && len(regions) > 0:
		return c.usageError(name, "give --region or --all-regions, not both")
	case !o.allRegions && len(regions) == 0:
		return c.usageError(name, "which regions? give --region R[,R...] or --all-regions")
	}

	// Everything that can be wrong locally is checked before any call.
	s, err := remediation.LoadSettings(c.getenv)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %s", oneLine(err))
	}
	var out *pendingFile
	if o.eventOut != "" {
		if out, err = newPendingFile(o.eventOut); err != nil {
			return c.fail(exitUsage, name, "--event-out: %v", err)
		}
		defer out.discard()
	}
	cred, err := c.credential()
	if err != nil {
		return c.fail(exitUsage, name, "%v", err)
	}
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		return c.fail(exitUsage, name, "%v", err)
	}
	auditor, err := remediation.NewAuditor(s, cloud)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %v", err)
	}

	// The account: for the event, and for exceptions that name one (they
	// match as in the remediation, where Config's event carries it).
	if out != nil || exceptionsNameAccount(s) {
		if auditor.AccountID, err = callerAccount(ctx, auditor, cloud); err != nil {
			return c.fail(exitFailed, name, "nothing read: STS GetCallerIdentity: %v", err)
		}
	}
	if o.allRegions {
		if regions, err = auditor.Regions(ctx); err != nil {
			return c.fail(exitFailed, name, "nothing read: %v", err)
		}
	}

	var prog *progress
	if stderrIsTerminal(c.stderr) {
		prog = &progress{w: c.stderr}
		auditor.Progress = prog.update
	}
	rep := auditor.Audit(ctx, regions)
	prog.finish()

	if o.asJSON {
		if err := writeAuditJSON(c.stdout, rep); err != nil {
			return c.fail(exitFailed, name, "%v", err)
		}
	} else {
		writeAudit(c.stdout, rep, auditTableWidth)
	}
	if out != nil {
		if err := c.writeEventOut(out, o.eventOut, rep); err != nil {
			return c.fail(exitFailed, name, "--event-out: %v", err)
		}
	}
	if !rep.Clean() {
		return exitFailed
	}
	return exitOK
}

// callerAccount asks STS which account the credentials belong to.
func callerAccount(ctx context.Context, auditor *remediation.Auditor, cloud *remediation.Cloud) (string, error) {
	var id remediation.CallerIdentity
	err := auditor.Retry.Do(ctx, func(ctx context.Context) (err error) {
		id, err = cloud.GetCallerIdentity(ctx)
		return err
	})
	if err == nil && id.AccountID == "" {
		err = fmt.Errorf("the answer names no account")
	}
	return id.AccountID, err
}

// writeEventOut writes the remediation event of the audit's findings to
// path (through out) and says what to run next; with no finding it writes
// nothing and says so.
func (c *cli) writeEventOut(out *pendingFile, path string, rep *remediation.AuditReport) error {
	event := rep.Event()
	if len(event) == 0 {
		fmt.Fprintf(c.stderr, "%s audit: no group with a risky rule: %s not written\n", c.prog, path)
		return nil
	}
	if err := out.commit(event); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "%s audit: wrote %s (%d groups); next: %s replay --live %s, then %s replay --live --apply %s\n",
		c.prog, path, len(event), c.prog, path, c.prog, path)
	return nil
}

// parseRegions reads --region: comma-separated region ids, duplicates
// dropped, order kept.
func parseRegions(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for _, r := range strings.Split(v, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			return nil, fmt.Errorf("%q has an empty region", v)
		case !remediation.ValidRegion(r):
			return nil, fmt.Errorf("%q is not a region id (e.g. cn-hangzhou)", r)
		case !slices.Contains(out, r):
			out = append(out, r)
		}
	}
	return out, nil
}

func exceptionsNameAccount(s remediation.Settings) bool {
	for _, e := range s.Exceptions {
		if e.Account != "" {
			return true
		}
	}
	return false
}

// pendingFile is an output file written in full or not at all: a temporary
// file beside it (created up front, so that an unwritable place is a usage
// error before any call), renamed over it on commit.
type pendingFile struct {
	path string
	tmp  *os.File
}

func newPendingFile(path string) (*pendingFile, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &pendingFile{path: path, tmp: tmp}, nil
}

// commit writes the event as Config sends it (a JSON array) and puts the
// file in place.
func (p *pendingFile) commit(event []remediation.Resource) error {
	b, err := json.MarshalIndent(event, "", "  ")
	if err != nil {
		return err
	}
	if _, err := p.tmp.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := p.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(p.tmp.Name(), p.path); err != nil {
		return err
	}
	p.tmp = nil
	return nil
}

// discard removes the temporary file unless it was committed.
func (p *pendingFile) discard() {
	if p.tmp != nil {
		p.tmp.Close()
		os.Remove(p.tmp.Name())
	}
}

// progress is the line on stderr while the audit reads: groups done of
// those listed so far, redrawn at most every progressEvery.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	shown bool
	done  int
	total int
}

const progressEvery = 100 * time.Millisecond

func (p *progress) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	fmt.Fprintf(p.w, "\raudit: %d/%d groups read", p.done, p.total)
	p.shown = true
}

// finish draws the final count and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}

// auditTableWidth is wider than the other tables: a finding's row carries
// region, group and rule ids before its reason, and each row stays whole
// for grep (the group is repeated on every row).
const auditTableWidth = 160

// writeAudit prints the findings table, the summary per region and a
// verdict line.
func writeAudit(w io.Writer, rep *remediation.AuditReport, width int) {
	t := &table{header: []string{"REGION", "GROUP", "RULE", "PROTOCOL", "PORTS", "SOURCE", "STATUS", "REASON"}}
	for _, reg := range rep.Regions {
		if reg.Error != "" {
			t.add(reg.Region, "-", "-", "-", "-", "-", "unreadable", "listing stopped, groups may be missing: "+reg.Error)
		}
	}
	for _, g := range rep.Groups {
		switch g.Status {
		case remediation.GroupSkipped:
			t.add(g.Region, g.GroupID, "-", "-", "-", "-", "skipped", g.Reason)
		case remediation.GroupFailed:
			t.add(g.Region, g.GroupID, "-", "-", "-", "-", "unreadable", g.Reason)
		}
		for _, f := range g.Rules {
			t.add(g.Region, g.GroupID, f.RuleID, dash(strings.ToLower(f.Protocol)), dash(f.PortRange), dash(f.Source), f.Status, f.Reason)
		}
	}
	if len(t.rows) > 0 {
		t.write(w, width)
		fmt.Fprintln(w)
	}

	sum := &table{header: []string{"REGION", "GROUPS", "READ", "SKIPPED", "UNREADABLE", "RISKY RULES", "EXCEPTED", "UNREADABLE RULES"}}
	var tot remediation.RegionAudit
	for _, r := range rep.Regions {
		sum.add(r.Region, itoa(r.Groups), itoa(r.Read), itoa(r.Skip), itoa(r.Failed), itoa(r.Risky), itoa(r.Excepted), itoa(r.Unreadable))
		tot.Groups, tot.Read, tot.Skip, tot.Failed = tot.Groups+r.Groups, tot.Read+r.Read, tot.Skip+r.Skip, tot.Failed+r.Failed
		tot.Risky, tot.Excepted, tot.Unreadable = tot.Risky+r.Risky, tot.Excepted+r.Excepted, tot.Unreadable+r.Unreadable
	}
	if len(rep.Regions) > 1 {
		sum.add("total", itoa(tot.Groups), itoa(tot.Read), itoa(tot.Skip), itoa(tot.Failed), itoa(tot.Risky), itoa(tot.Excepted), itoa(tot.Unreadable))
	}
	sum.write(w, width)
	fmt.Fprintln(w, verdict(rep, tot))
}

func itoa(n int) string { return strconv.Itoa(n) }

// verdict is the last line: what the exit status says, in words.
func verdict(rep *remediation.AuditReport, tot remediation.RegionAudit) string {
	if rep.Clean() {
		return fmt.Sprintf("OK: %d groups in %d regions, every one read or skipped, no risky rule (nothing changed)", tot.Groups, len(rep.Regions))
	}
	var parts []string
	if n := len(rep.Event()); tot.Risky > 0 {
		parts = append(parts, fmt.Sprintf("%d risky rules in %d groups", tot.Risky, n))
	}
	if tot.Unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d rules whose port range cannot be read", tot.Unreadable))
	}
	if tot.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d groups that could not be read", tot.Failed))
	}
	for _, r := range rep.Regions {
		if r.Error != "" {
			parts = append(parts, "region "+r.Region+" not fully listed")
		}
	}
	return "FOUND: " + strings.Join(parts, ", ") + " (nothing changed)"
}

// writeAuditJSON prints one JSON line per finding, per skipped or
// unreadable group, per region, and a total.
func writeAuditJSON(w io.Writer, rep *remediation.AuditReport) error {
	enc := json.NewEncoder(w)
	type rule struct {
		Type    string `json:"type"`
		Region  string `json:"regionId"`
		GroupID string `json:"groupId"`
		remediation.AuditFinding
	}
	type group struct {
		Type string `json:"type"`
		remediation.GroupAudit
	}
	type region struct {
		Type string `json:"type"`
		remediation.RegionAudit
	}
	for _, g := range rep.Groups {
		if g.Status != remediation.GroupRead {
			g.Rules = nil
			if err := enc.Encode(group{"group", g}); err != nil {
				return err
			}
		}
		for _, f := range g.Rules {
			if err := enc.Encode(rule{"rule", g.Region, g.GroupID, f}); err != nil {
				return err
			}
		}
	}
	total := struct {
		Type      string `json:"type"`
		AccountID string `json:"accountId,omitempty"`
		Clean     bool   `json:"clean"`
		Regions   int    `json:"regions"`
		Groups    int    `json:"groups"`
		Risky     int    `json:"risky"`
		Excepted  int    `json:"excepted"`
		Unread    int    `json:"unreadable"`
		Failed    int    `json:"failed"`
		Skipped   int    `json:"skipped"`
	}{Type: "total", AccountID: rep.AccountID, Clean: rep.Clean(), Regions: len(rep.Regions)}
	for _, r := range rep.Regions {
		if err := enc.Encode(region{"region", r}); err != nil {
			return err
		}
		total.Groups += r.Groups
		total.Risky += r.Risky
		total.Excepted += r.Excepted
		total.Unread += r.Unreadable
		total.Failed += r.Failed
		total.Skipped += r.Skip
	}
	return enc.Encode(total)
}
