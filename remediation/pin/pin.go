// Package pin keeps one ingress rule of a security group pinned to the
// operator's current public IP: the operator's side of closing SSH/RDP/MySQL
// to the internet.
//
// The rule pin manages is found by a marker at the start of its description
// (Marker), not by a local state file, so any machine can run pin and a
// crashed run is repaired by the next one. Rules without the marker are never
// touched. A change of address authorizes the new /32 (or /128) first and
// only then revokes the old rule, so access is never lost in between.
package pin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Marker starts the description of every rule pin manages. A rule is managed
// when its description is Marker or starts with Marker followed by a space;
// the rest names the protocol, port and creation time, for example
// "sg-remediation:pin tcp/22 2026-11-25T10:00Z managed by pin, do not edit".
const Marker = "sg-remediation:pin"

// Defaults of Options.
const (
	DefaultPort     = 22
	DefaultProtocol = "tcp"
	// DefaultTimeout bounds one Pin call when ctx has no deadline: the retry
	// policy retries throttling until the deadline, so without one a
	// throttled call would be retried for ever.
	DefaultTimeout = 2 * time.Minute
)

// EnvIPURL is the environment variable naming the "what is my IP" endpoint
// when no --ip or --ip-from is given.
const EnvIPURL = "PIN_IP_URL"

// Actions are the RAM actions Pin calls, all on the one security group
// (resource acs:ecs:<region>:<account-id>:securitygroup/<sg-id>).
var Actions = []string{"ecs:DescribeSecurityGroupAttribute", "ecs:AuthorizeSecurityGroup", "ecs:RevokeSecurityGroup"}

// Options say which rule to pin to which address.
type Options struct {
	Region, GroupID string
	Port            int        // 0 means DefaultPort (22)
	Protocol        string     // "tcp" (default) or "udp", any case
	IP              netip.Addr // the operator's address; IPv4 -> /32, IPv6 -> /128
	DryRun          bool       // read only; the Result says what would happen

	// Now gives the time written into a new rule's description; nil means
	// time.Now.
	Now func() time.Time
	// Retry wraps every call; the zero value means remediation.DefaultRetryPolicy.
	Retry remediation.RetryPolicy
	// Timeout bounds the whole call when ctx has no deadline; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Outcome is what Pin did, or would do in a dry run.
type Outcome string

const (
	// Unchanged: the wanted rule exists and no stale managed rule; no write call.
	Unchanged Outcome = "unchanged"
	// Created: no managed rule existed; the wanted one was authorized.
	Created Outcome = "created"
	// Replaced: the wanted rule was authorized, then the old managed rules revoked.
	Replaced Outcome = "replaced"
	// Cleaned: the wanted rule already existed; stale managed rules were revoked.
	Cleaned Outcome = "cleaned"
	// Failed: an error was returned; the Result says how far Pin got.
	Failed Outcome = "failed"

	WouldCreate  Outcome = "would-create"
	WouldReplace Outcome = "would-replace"
	WouldClean   Outcome = "would-clean"
)

// Result is what Pin found and did.
type Result struct {
	Region, GroupID string
	Protocol        string // "tcp" or "udp"
	Port            int
	Source          string // the wanted source, e.g. "203.0.113.7/32"
	DryRun          bool
	Outcome         Outcome

	// Managed are the managed rules for this protocol and port found live.
	Managed []remediation.Rule
	// NotManaged are ingress Accept rules for this protocol and port without
	// the marker. Pin never touches them; they are reported so the operator
	// knows what else opens the port.
	NotManaged []remediation.Rule
	// Current is the rule that already granted the wanted source, if any: a
	// managed rule, or an identical rule pin does not manage (ECS refuses a
	// second identical rule, so pin then creates none).
	Current *remediation.Rule
	// Created are the rules authorized (or that would be, in a dry run).
	Created []remediation.Rule
	// Revoked are the stale managed rules revoked (or that would be).
	Revoked []remediation.Rule
	// Gone are IDs of stale rules that had already disappeared when revoked.
	Gone []string
}

// Unchanged reports whether the wanted rule was already in place and nothing
// had to be written.
func (r Result) Unchanged() bool { return r.Outcome == Unchanged }

// String is the result for the terminal, one line per rule.
func (r Result) String() string {
	var b strings.Builder
	mode := ""
	if r.DryRun {
		mode = " (dry run)"
	}
	fmt.Fprintf(&b, "%s (%s) %s/%d pinned to %s: %s%s\n", r.GroupID, r.Region, r.Protocol, r.Port, r.Source, r.Outcome, mode)
	created, revoked := "created", "revoked"
	if r.DryRun {
		created, revoked = "would create", "would revoke"
	}
	if r.Current != nil {
		who := "managed"
		if !managedDescription(r.Current.Description) {
			who = "not managed by pin"
		}
		fmt.Fprintf(&b, "  in place      %s\n", ruleLine(*r.Current, who))
	}
	for _, c := range r.Created {
		fmt.Fprintf(&b, "  %-13s %s\n", created, ruleLine(c, ""))
	}
	for _, v := range r.Revoked {
		fmt.Fprintf(&b, "  %-13s %s\n", revoked, ruleLine(v, ""))
	}
	for _, id := range r.Gone {
		fmt.Fprintf(&b, "  already gone  %s\n", id)
	}
	for _, n := range r.NotManaged {
		fmt.Fprintf(&b, "  not managed   %s (left alone)\n", ruleLine(n, ""))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func ruleLine(r remediation.Rule, note string) string {
	id := r.SecurityGroupRuleId
	if id == "" {
		id = "(new)"
	}
	s := fmt.Sprintf("%s %s priority %d", id, r.Source(), r.Priority.Effective())
	if r.Description != "" {
		s += fmt.Sprintf(" %q", r.Description)
	}
	if note != "" {
		s += " [" + note + "]"
	}
	return s
}

// ErrInvalidOptions is wrapped by every validation error of Pin.
var ErrInvalidOptions = errors.New("invalid pin options")

// normalize checks the options and fills in defaults. It makes no call.
func (o *Options) normalize() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...)))
	}
	o.Region = strings.TrimSpace(o.Region)
	switch {
	case o.Region == "":
		bad("no region (--region, e.g. cn-hangzhou)")
	case !remediation.ValidRegion(o.Region):
		bad("region %q is not a region id (lower-case letters, digits and '-')", o.Region)
	}
	o.GroupID = strings.TrimSpace(o.GroupID)
	switch {
	case o.GroupID == "":
		bad("no security group (--group sg-...)")
	case !remediation.ValidGroupID(o.GroupID):
		bad("security group %q is not a security group id (sg- followed by letters and digits)", o.GroupID)
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Port < 1 || o.Port > 65535 {
		bad("port %d is outside 1..65535", o.Port)
	}
	o.Protocol = strings.ToLower(strings.TrimSpace(o.Protocol))
	if o.Protocol == "" {
		o.Protocol = DefaultProtocol
	}
	if o.Protocol != "tcp" && o.Protocol != "udp" {
		bad("protocol %q: want tcp or udp", o.Protocol)
	}
	if ip, err := checkAddr(o.IP); err != nil {
		bad("IP: %v", err)
	} else {
		o.IP = ip
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retry == (remediation.RetryPolicy{}) {
		o.Retry = remediation.DefaultRetryPolicy
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return errors.Join(errs...)
}

// checkAddr unmaps an IPv4-mapped IPv6 address and refuses addresses that
// cannot be an operator's source: invalid, zoned, unspecified, multicast and
// the IPv4 limited broadcast. Private and loopback addresses are accepted
// (tests, and operators on a private network reaching a VPC).
func checkAddr(a netip.Addr) (netip.Addr, error) {
	switch {
	case !a.IsValid():
		return a, errors.New("no valid IP address given")
	case a.Zone() != "":
		return a, fmt.Errorf("%s has a zone; a security group rule takes a plain address", a)
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return a, fmt.Errorf("%s is the unspecified address", a)
	case a.IsMulticast():
		return a, fmt.Errorf("%s is a multicast address", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return a, fmt.Errorf("%s is the broadcast address", a)
	}
	return a, nil
}

// wanted returns the source prefix for ip: /32 for IPv4, /128 for IPv6.
func wanted(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// Description returns the description of a new managed rule: the marker,
// protocol/port and the creation time in UTC to the minute.
func Description(protocol string, port int, now time.Time) string {
	return fmt.Sprintf("%s %s/%d %s managed by pin, do not edit", Marker, strings.ToLower(protocol), port, now.UTC().Format("2006-01-02T15:04Z"))
}

// NewRule returns the rule Pin authorizes: ingress, Accept, priority 1, NIC
// type intranet, from ip's /32 or /128, any source port. The source port
// range is left empty, which ECS reads as any: ECS refuses "-1/-1" for TCP
// and UDP in AuthorizeSecurityGroup. Rules read back with "-1/-1" or ""
// are treated alike.
func NewRule(protocol string, port int, ip netip.Addr, now time.Time) remediation.Rule {
	ip = ip.Unmap()
	r := remediation.Rule{
		Direction:   "ingress",
		Policy:      "Accept",
		Priority:    1,
		IpProtocol:  strings.ToUpper(protocol),
		PortRange:   portRange(port),
		NicType:     "intranet",
		Description: Description(protocol, port, now),
	}
	if ip.Is4() {
		r.SourceCidrIp = wanted(ip).String()
	} else {
		r.Ipv6SourceCidrIp = wanted(ip).String()
	}
	return r
}

func portRange(port int) string { return strconv.Itoa(port) + "/" + strconv.Itoa(port) }

// managedDescription reports whether a description carries the marker.
func managedDescription(d string) bool {
	d = strings.TrimSpace(d)
	return d == Marker || strings.HasPrefix(d, Marker+" ")
}

// forPort reports whether r is an ingress Accept rule for exactly this
// protocol and port ("22/22"; a bare "22" is read the same).
func forPort(r *remediation.Rule, protocol string, port int) bool {
	if d := strings.TrimSpace(r.Direction); d != "" && !strings.EqualFold(d, "ingress") {
		return false
	}
	if p := strings.TrimSpace(r.Policy); p != "" && !strings.EqualFold(p, "accept") {
		return false
	}
	if !strings.EqualFold(strings.TrimSpace(r.IpProtocol), protocol) {
		return false
	}
	lo, hi, ok := strings.Cut(strings.TrimSpace(r.PortRange), "/")
	if !ok {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	return err1 == nil && err2 == nil && a == port && b == port
}

// source returns the rule's CIDR source (IPv4 or IPv6), if it has one. A
// bare address is read as a single-host prefix.
func source(r *remediation.Rule) (netip.Prefix, bool) {
	for _, s := range []string{r.SourceCidrIp, r.Ipv6SourceCidrIp} {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			a, bits := p.Addr(), p.Bits()
			if a.Is4In6() {
				a, bits = a.Unmap(), max(bits-96, 0)
			}
			return netip.PrefixFrom(a, bits).Masked(), true
		}
		if a, err := netip.ParseAddr(s); err == nil {
			return wanted(a.Unmap()), true
		}
	}
	return netip.Prefix{}, false
}

// Pin makes the group hold one managed ingress rule for opts' protocol and
// port from opts.IP's /32 or /128:
//
//  1. It reads every live ingress rule (paged).
//  2. When a managed rule for the wanted source exists and no other managed
//     rule for this protocol and port does, it returns Unchanged with no
//     write call.
//  3. Otherwise it authorizes the new rule first (a duplicate answer counts
//     as done) and then revokes the other managed rules by ID (a rule already
//     gone counts as done). When authorizing fails nothing is revoked. When
//     revoking fails the new rule is in place and the error says so; running
//     Pin again converges.
//
// Rules without the marker are never touched. With DryRun no write call is
// made and the Result says what would happen. Invalid options are refused
// before any call. Every call goes through the retry policy; one log line is
// written per action.
func Pin(ctx context.Context, ecs remediation.ECSAPI, opts Options, log *slog.Logger) (Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := opts.normalize(); err != nil {
		return Result{Outcome: Failed}, err
	}
	if ecs == nil {
		return Result{Outcome: Failed}, errors.New("pin: no ECS client")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	p := &run{opts: opts, ecs: ecs, log: log, want: wanted(opts.IP), newRule: NewRule(opts.Protocol, opts.Port, opts.IP, opts.Now())}
	p.res = Result{
		Region: opts.Region, GroupID: opts.GroupID, Protocol: opts.Protocol, Port: opts.Port,
		Source: p.want.String(), DryRun: opts.DryRun, Outcome: Failed,
	}
	p.attrs = []any{"regionId", opts.Region, "groupId", opts.GroupID, "rule", fmt.Sprintf("%s/%d", opts.Protocol, opts.Port), "source", p.res.Source, "dryRun", opts.DryRun}

	live, err := remediation.ReadLiveRules(ctx, opts.Retry, ecs, opts.Region, opts.GroupID)
	if err != nil {
		log.Error("pin: read rules", append(p.attrs, "error", err)...)
		return p.res, fmt.Errorf("pin %s (%s): read rules: %w", opts.GroupID, opts.Region, err)
	}
	p.classify(live)
	if p.current != nil && len(p.stale) == 0 {
		p.res.Outcome = Unchanged
		log.Info("pin: unchanged", append(p.attrs, "ruleId", p.current.SecurityGroupRuleId)...)
		return p.res, nil
	}
	p.plan()
	if opts.DryRun {
		if p.current == nil {
			log.Info("pin: would authorize", append(p.attrs, "description", p.newRule.Description)...)
		}
		if len(p.stale) > 0 {
			log.Info("pin: would revoke", append(p.attrs, "ruleIds", ruleIDs(p.stale))...)
		}
		return p.res, nil
	}
	return p.apply(ctx)
}

// run is one Pin call: its options, what it found and what it decided.
type run struct {
	opts    Options
	ecs     remediation.ECSAPI
	log     *slog.Logger
	attrs   []any
	want    netip.Prefix
	newRule remediation.Rule
	res     Result
	current *remediation.Rule // the rule that already grants the access
	stale   []remediation.Rule
}

// classify sorts the live rules for the protocol and port into managed and
// not managed, picks the current rule and the stale managed ones.
func (p *run) classify(live []remediation.Rule) {
	res := &p.res
	for i := range live {
		r := live[i]
		if !forPort(&r, p.opts.Protocol, p.opts.Port) {
			continue
		}
		if !managedDescription(r.Description) {
			res.NotManaged = append(res.NotManaged, r)
			continue
		}
		res.Managed = append(res.Managed, r)
	}
	// The managed rule to keep: one for the wanted source, preferring one
	// identical to the rule pin would create. Every other managed rule is
	// stale (an old address, or a duplicate left by an interrupted run).
	keep := -1
	for i := range res.Managed {
		if src, ok := source(&res.Managed[i]); ok && src == p.want {
			if keep < 0 || remediation.SameRule(&res.Managed[i], &p.newRule) && !remediation.SameRule(&res.Managed[keep], &p.newRule) {
				keep = i
			}
		}
	}
	for i := range res.Managed {
		if i == keep {
			r := res.Managed[i]
			p.current = &r
		} else {
			p.stale = append(p.stale, res.Managed[i])
		}
	}
	// An identical rule pin does not manage already grants the access, and
	// ECS would refuse (or silently drop) a second one: create nothing.
	if p.current == nil {
		for i := range res.NotManaged {
			if remediation.SameRule(&res.NotManaged[i], &p.newRule) {
				r := res.NotManaged[i]
				p.current = &r
				break
			}
		}
	}
	res.Current = p.current
	p.log.Info("pin: found", append(p.attrs, "managed", ruleIDs(res.Managed), "notManaged", ruleIDs(res.NotManaged),
		"current", idOf(p.current), "stale", ruleIDs(p.stale))...)
}

// plan sets what the run creates, revokes, and its outcome.
func (p *run) plan() {
	if p.current == nil {
		p.res.Created = []remediation.Rule{p.newRule}
	}
	p.res.Revoked = p.stale
	switch {
	case p.current != nil:
		p.res.Outcome = Cleaned
	case len(p.stale) > 0:
		p.res.Outcome = Replaced
	default:
		p.res.Outcome = Created
	}
	if p.opts.DryRun {
		p.res.Outcome = map[Outcome]Outcome{Cleaned: WouldClean, Replaced: WouldReplace, Created: WouldCreate}[p.res.Outcome]
	}
}

// apply authorizes the new rule first, so that access is never lost, then
// revokes the stale managed rules, by ID only.
func (p *run) apply(ctx context.Context) (Result, error) {
	opts, res, outcome := p.opts, &p.res, p.res.Outcome
	if p.current == nil {
		err := remediation.AuthorizeRules(ctx, opts.Retry, p.ecs, opts.Region, opts.GroupID, []remediation.Rule{p.newRule})
		if err != nil {
			res.Outcome, res.Revoked = Failed, nil
			p.log.Error("pin: authorize", append(p.attrs, "error", err)...)
			return *res, fmt.Errorf("pin %s (%s): authorize %s %s/%d: %w; nothing was revoked", opts.GroupID, opts.Region, res.Source, opts.Protocol, opts.Port, err)
		}
		p.log.Info("pin: authorize", append(p.attrs, "description", p.newRule.Description)...)
	}
	if len(p.stale) == 0 {
		return *res, nil
	}
	goneSet, err := remediation.RevokeRules(ctx, opts.Retry, p.ecs, opts.Region, opts.GroupID, ruleIDs(p.stale))
	res.Gone, res.Revoked = nil, nil
	for _, r := range p.stale {
		if goneSet[r.SecurityGroupRuleId] {
			res.Gone = append(res.Gone, r.SecurityGroupRuleId)
		} else {
			res.Revoked = append(res.Revoked, r)
		}
	}
	if err != nil {
		res.Outcome, res.Revoked = Failed, nil
		p.log.Error("pin: revoke", append(p.attrs, "ruleIds", ruleIDs(p.stale), "error", err)...)
		return *res, fmt.Errorf("pin %s (%s): the rule for %s %s/%d is in place, but the old managed rule(s) %s remain: revoke: %w; run pin again to remove them",
			opts.GroupID, opts.Region, res.Source, opts.Protocol, opts.Port, strings.Join(ruleIDs(p.stale), ", "), err)
	}
	p.log.Info("pin: revoke", append(p.attrs, "ruleIds", ruleIDs(res.Revoked), "alreadyGone", res.Gone)...)
	res.Outcome = outcome
	return *res, nil
}

func ruleIDs(rules []remediation.Rule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.SecurityGroupRuleId
	}
	return ids
}

func idOf(r *remediation.Rule) string {
	if r == nil {
		return ""
	}
	return r.SecurityGroupRuleId
}
