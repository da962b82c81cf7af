package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/sg-remediation/sg-remediation/remediation"
)

const replayHelp = `
Runs one invocation of the function, locally, on a Cloud Config event (the
JSON payload Config sends; "-" reads stdin), and prints one row per group and
rule (RULE, PORTS, SOURCE, DECISION, REASON) and a summary line.

OFFLINE (default): against the built-in emulator of ECS and Cloud Config,
seeded with the sample security groups beside the event (groups.json in the
event's directory, or --groups FILE). No account, no network; the emulator's
state is thrown away at the end.

--live: against the real cloud (or CONFIG_ENDPOINT / ECS_ENDPOINT), with the
credentials of ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN
or the credentials-go chain. A live replay is a dry run (nothing is revoked)
unless --apply is given. To try it without an account, point it at the
"emulator" command, whose state lasts between commands.

Settings come from the environment as under FC (e.g. DRY_RUN=true,
RISKY_PORTS=22,3389); an invalid one stops the replay before any call.
The function's JSON log lines, with the backup of every revoked rule (the
input of restore), go to stderr or to the --log file.

Exit status: 0 done, 1 a resource failed, 2 usage error, invalid setting or
invalid event.
`

type replayOpts struct {
	live, apply, dryRun, asJSON bool
	groups, logPath             string
	timeout                     time.Duration
}

func (c *cli) replay(ctx context.Context, args []string) int {
	const name = "replay"
	var o replayOpts
	fs := c.flagSet(name, "[flags] EVENT.json", replayHelp)
	fs.BoolVar(&o.live, "live", false, "call the real cloud (or the CONFIG_ENDPOINT/ECS_ENDPOINT overrides) instead of the emulator; dry run unless --apply")
	fs.BoolVar(&o.apply, "apply", false, "with --live: really revoke the risky rules")
	fs.BoolVar(&o.dryRun, "dry-run", false, "report what would be revoked, revoke nothing (as DRY_RUN=true)")
	fs.BoolVar(&o.asJSON, "json", false, "print the function's JSON report instead of the table")
	fs.StringVar(&o.groups, "groups", "", "offline: the emulator's security groups (default: groups.json beside the event)")
	fs.StringVar(&o.logPath, "log", "", "append the function's JSON log lines to this file instead of stderr (\"-\": stdout)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "the invocation's timeout, as FC's function timeout")
	pos, code, done := c.parse(fs, args)
	switch {
	case done:
		return code
	case len(pos) != 1:
		return c.usageError(name, "want one EVENT.json, got %d arguments", len(pos))
	case o.apply && !o.live:
		return c.usageError(name, "--apply needs --live (offline replays always apply, to the emulator)")
	case o.live && o.groups != "":
		return c.usageError(name, "--groups seeds the offline emulator; it means nothing with --live")
	case o.timeout <= remediation.MinReserve:
		return c.usageError(name, "--timeout %s leaves no time after the %s reserve", o.timeout, remediation.MinReserve)
	}
	eventPath := pos[0]
	if !o.live && o.groups == "" {
		if eventPath == "-" {
			return c.usageError(name, "an event on stdin needs --groups FILE for the offline emulator")
		}
		o.groups = filepath.Join(filepath.Dir(eventPath), "groups.json")
	}

	// Everything that can be wrong locally is checked before any call.
	s, err := remediation.LoadSettings(c.getenv)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %s", oneLine(err))
	}
	s.DryRun = s.DryRun || o.dryRun || (o.live && !o.apply)
	payload, err := c.readInput(eventPath, remediation.MaxEventBytes)
	if err != nil {
		return c.fail(exitUsage, name, "read event: %v", err)
	}
	resources, err := remediation.DecodeEvent(payload)
	if err != nil {
		return c.fail(exitUsage, name, "%s: %v", eventPath, err)
	}
	log, closeLog, err := c.logTo(o.logPath)
	if err != nil {
		return c.fail(exitUsage, name, "log file: %v", err)
	}
	defer closeLog()

	var cred credentials.Credential
	if o.live {
		if cred, err = c.credential(); err != nil {
			return c.fail(exitUsage, name, "%v", err)
		}
	} else {
		emu, err := startEmulator(o.groups)
		if err != nil {
			return c.fail(exitUsage, name, "offline emulator: %v (give --groups FILE, or --live)", err)
		}
		defer emu.Close()
		if c.emulatorHook != nil {
			defer c.emulatorHook(emu.Server)
		}
		s.ConfigEndpoint, s.ECSEndpoint = emu.URL(), emu.URL()
		cred = emu.cred
	}
	c.banner(s, o, eventPath)

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	inv := &invocation{settings: s, cred: cred, timeout: o.timeout, log: log}
	report, err := inv.remediate(ctx, resources)
	var failed *remediation.FailedError
	if err != nil && !errors.As(err, &failed) {
		return c.fail(exitFailed, name, "nothing done: %v", err)
	}
	if o.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return c.fail(exitFailed, name, "%v", err)
		}
	} else {
		writeReport(c.stdout, report, tableWidth)
	}
	if failed != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	return exitOK
}

// banner tells on stderr which mode the replay runs in.
func (c *cli) banner(s remediation.Settings, o replayOpts, event string) {
	dry := ""
	if s.DryRun {
		dry = ", DRY RUN (nothing is revoked)"
	}
	switch {
	case !o.live:
		fmt.Fprintf(c.stderr, "OFFLINE replay of %s: built-in emulator seeded with %s (no account, no network)%s\n", event, o.groups, dry)
	case s.DryRun:
		fmt.Fprintf(c.stderr, "LIVE dry-run of %s: reading %s, revoking nothing%s\n", event, target(s), applyHint(o))
	default:
		fmt.Fprintf(c.stderr, "LIVE APPLY of %s: risky rules WILL BE REVOKED in %s; the backups are in the log\n", event, target(s))
	}
}

// target names what a live replay talks to: the real cloud, or the
// endpoints of the overrides when there are any (an emulator, a proxy).
func target(s remediation.Settings) string {
	if s.ConfigEndpoint == "" && s.ECSEndpoint == "" {
		return "the real cloud (" + endpoints(s) + ")"
	}
	return "the endpoints in ECS_ENDPOINT/CONFIG_ENDPOINT (" + endpoints(s) + ")"
}

func applyHint(o replayOpts) string {
	if o.apply {
		return " (DRY_RUN is set)"
	}
	return "; add --apply to revoke"
}

func endpoints(s remediation.Settings) string {
	cfg, ecs := s.ConfigEndpoint, s.ECSEndpoint
	if cfg == "" {
		cfg = "config." + s.ConfigRegion + ".aliyuncs.com"
	}
	if ecs == "" {
		ecs = "ecs.<region>.aliyuncs.com"
	}
	return "Config " + cfg + ", ECS " + ecs
}

// randomHex returns prefix and n random bytes in hex.
func randomHex(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b)
}
