package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

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
	switch {
	case done:
		return code
	case len(pos) != 0:
		return c.usageError(name, "unexpected arguments: %s", strings.Join(pos, " "))
	case opts.Region == "" || opts.GroupID == "":
		return c.usageError(name, "--region and --group are required")
	case ip != "" && ipFrom != "":
		return c.usageError(name, "give --ip or --ip-from, not both")
	}
	if ipFrom == "" {
		ipFrom = c.getenv(pin.EnvIPURL)
	}
	if ip == "" && ipFrom == "" {
		return c.usageError(name, "no address: give --ip, --ip-from URL or set %s", pin.EnvIPURL)
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
	if ip != "" {
		if opts.IP, err = netip.ParseAddr(ip); err != nil {
			return c.usageError(name, "--ip %q is not an IP address", ip)
		}
	} else {
		if opts.IP, err = pin.PublicIP(ctx, ipFrom, nil); err != nil {
			return c.fail(exitFailed, name, "%v", err)
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
	}
	if err != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	return exitOK
}
