package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

const pinHelp = `
Keeps one ingress rule of a security group pinned to your current public IP
(a /32, or /128 for IPv6): the operator's side of closing SSH/RDP/MySQL to the
internet. It authorizes the rule for the new address first, then revokes the
rule it pinned before; only rules whose description starts with
"sg-remediation:pin" are ever revoked.

The address is --ip, or the answer of --ip-from URL (default: the PIN_IP_URL
environment variable), an https:// endpoint that answers with your address
as text or as {"ip":"..."}. No third-party service is built in.

Every option is checked first, with no call. pin never touches a rule it did
not create; when such a rule still exposes the port to the internet, a
WARNING line names it.

Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN
or the credentials-go chain; ECS_ENDPOINT is honoured.

Exit status: 0 done, 1 the pin failed, 2 usage error or invalid setting.
`

func (c *cli) pin(ctx context.Context, args []string) int {
	const name = "pin"
	var (
		opts   pin.Options
		ip     string
		ipFrom string
	)
	fs := c.flagSet(name, "[flags] --region R --group sg-...", pinHelp)
	fs.StringVar(&opts.Region, "region", "", "region of the security group, e.g. cn-hangzhou (required)")
	fs.StringVar(&opts.GroupID, "group", "", "the security group id, sg-... (required)")
	fs.IntVar(&opts.Port, "port", pin.DefaultPort, "the port to pin")
	fs.StringVar(&opts.Protocol, "protocol", pin.DefaultProtocol, "tcp or udp")
	fs.StringVar(&ip, "ip", "", "the address to pin (default: ask --ip-from)")
	fs.StringVar(&ipFrom, "ip-from", "", "URL answering with your public IP (default: $"+pin.EnvIPURL+")")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print what would change, change nothing")
	logPath := fs.String("log", "", "append the JSON log lines to this file instead of stderr (\"-\": stdout)")
	timeout := fs.Duration("timeout", pin.DefaultTimeout, "give up after this long")
	pos, code, done := c.parse(fs, args)
	if done {
		return code
	}
	// Every option is checked before anything else (settings, credentials,
	// the IP endpoint): a usage error is exit 2 with no call.
	ipFromName := "--ip-from"
	if ipFrom == "" && ip == "" {
		ipFrom, ipFromName = c.getenv(pin.EnvIPURL), pin.EnvIPURL
	}
	if problems := checkPinFlags(pos, &opts, ip, ipFrom, ipFromName, *timeout); len(problems) > 0 {
		return c.usageError(name, "%s", strings.Join(problems, "; "))
	}

	s, err := remediation.LoadSettings(c.getenv)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %s", oneLine(err))
	}
	cloud, log, closeLog, err := c.cloudAndLog(s, *logPath)
	if err != nil {
		return c.fail(exitUsage, name, "%v", err)
	}
	defer closeLog()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if ip == "" {
		if opts.IP, err = pin.PublicIP(ctx, ipFrom, nil); err != nil {
			return c.fail(exitFailed, name, "%s", oneLine(err))
		}
		fmt.Fprintf(c.stderr, "public IP from %s: %s\n", ipFrom, opts.IP)
	}
	opts.Timeout = *timeout
	res, err := pin.Pin(ctx, cloud, opts, log)
	if errors.Is(err, pin.ErrInvalidOptions) {
		return c.usageError(name, "%s", oneLine(err))
	}
	if res.GroupID != "" {
		fmt.Fprintln(c.stdout, res.String())
		for _, d := range c.stillExposed(ctx, cloud, res) {
			fmt.Fprintf(c.stdout, "WARNING: %s/%d is still exposed to the internet: rule %s %s (pin never touches a rule it did not create: remove it, or let the remediation close it)\n",
				res.Protocol, res.Port, d.Rule.SecurityGroupRuleId, d.Reason)
		}
	}
	if err != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	return exitOK
}

// checkPinFlags checks every option of pin, with no call, and returns what
// is wrong with them (nil: nothing); ipFromName says where ipFrom came from. It fills opts.IP from ip and
// normalizes opts.Protocol.
func checkPinFlags(pos []string, opts *pin.Options, ip, ipFrom, ipFromName string, timeout time.Duration) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(pos) != 0 {
		bad("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if opts.Region == "" || opts.GroupID == "" {
		bad("--region and --group are required")
	}
	if opts.Region != "" && !remediation.ValidRegion(opts.Region) {
		bad("--region %q is not a region id (lower-case letters, digits and '-', e.g. cn-hangzhou)", opts.Region)
	}
	if opts.GroupID != "" && !remediation.ValidGroupID(opts.GroupID) {
		bad("--group %q is not a security group id (sg- followed by letters and digits)", opts.GroupID)
	}
	// The library reads port 0 as "the default"; on the command line (whose
	// default is 22) it is a mistake, like any port outside 1..65535.
	if opts.Port < 1 || opts.Port > 65535 {
		bad("--port %d is outside 1..65535", opts.Port)
	}
	opts.Protocol = strings.ToLower(strings.TrimSpace(opts.Protocol))
	if opts.Protocol != "tcp" && opts.Protocol != "udp" {
		bad("--protocol %q: want tcp or udp", opts.Protocol)
	}
	if timeout <= 0 {
		bad("--timeout %s: want a positive duration", timeout)
	}
	switch {
	case ip != "" && ipFrom != "":
		bad("give --ip or --ip-from, not both")
	case ip == "" && ipFrom == "":
		bad("no address: give --ip, --ip-from URL or set %s", pin.EnvIPURL)
	case ip != "":
		a, err := netip.ParseAddr(ip)
		switch {
		case err != nil:
			bad("--ip %q is not an IP address", ip)
		case pinnableAddr(a) != nil:
			bad("--ip %q: %v", ip, pinnableAddr(a))
		}
		opts.IP = a.Unmap()
	default:
		if err := ipEndpointURL(ipFrom); err != nil {
			bad("%s: %v", ipFromName, err)
		}
	}
	return problems
}

// pinnableAddr refuses what cannot be an operator's source address, as the
// pin library does: a zone, the unspecified, a multicast and the IPv4
// broadcast address.
func pinnableAddr(a netip.Addr) error {
	if a.Zone() != "" {
		return errors.New("a security group rule takes an address without a zone")
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return errors.New("the unspecified address opens nothing to you")
	case a.IsMulticast():
		return errors.New("a multicast address is not a source")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address is not a source")
	}
	return nil
}

// ipEndpointURL checks the "what is my IP" URL as pin.PublicIP does before
// its request: https://, or plain http:// to the loopback only.
func ipEndpointURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "https" && scheme != "http":
		return fmt.Errorf("%q: want an https:// URL", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("%q has no host", u.Redacted())
	case scheme == "http":
		switch strings.ToLower(u.Hostname()) {
		case "127.0.0.1", "::1", "localhost":
		default:
			return fmt.Errorf("%q: plain http:// is allowed only to 127.0.0.1, ::1 or localhost; use https://", u.Redacted())
		}
	}
	return nil
}

// stillExposed returns the rules pin left alone that still expose the
// pinned port to the whole internet, judged by the decision table on the
// live group (a Drop rule that blocks the port is taken into account). It
// reads the group again only when such a rule may exist; when that read
// fails it says so on stderr.
func (c *cli) stillExposed(ctx context.Context, ecs remediation.ECSAPI, res pin.Result) []remediation.Decision {
	suspects := map[string]bool{}
	for _, r := range res.NotManaged {
		if p, err := netip.ParsePrefix(strings.TrimSpace(r.Source())); err == nil && p.Bits() == 0 {
			suspects[r.SecurityGroupRuleId] = true
		}
	}
	if len(suspects) == 0 {
		return nil
	}
	port, err := remediation.ParsePorts(strconv.Itoa(res.Port))
	if err != nil {
		return nil // res.Port was validated: 1..65535
	}
	live, err := remediation.ReadLiveRules(ctx, remediation.DefaultRetryPolicy, ecs, res.Region, res.GroupID)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s pin: cannot tell whether %s/%d is still open to the internet: %s\n", c.prog, res.Protocol, res.Port, oneLine(err))
		return nil
	}
	var out []remediation.Decision
	for _, d := range remediation.Decide(live, port) {
		if d.Risky && suspects[d.Rule.SecurityGroupRuleId] {
			out = append(out, d)
		}
	}
	return out
}
