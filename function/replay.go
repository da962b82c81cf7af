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

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
	"github.com/sg-remediation/sg-remediation/remediation/notify"
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
	s, ncfg, err := loadSettings(c.getenv)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %s", oneLine(err))
	}
	s.DryRun = s.DryRun || o.dryRun || (o.live && !o.apply)
	payload, err := c.readInput(eventPath, remediation.MaxEventBytes)
	if err != nil {
		return c.fail(exitUsage, name, "read event: %v", err)
	}
	inv := &invocation{settings: s, timeout: o.timeout, noReport: o.live && !o.apply}
	if !o.live {
		inv.ownAccount = cloudtest.DefaultAccountID
	}
	ev, resources, err := inv.decode(payload)
	if err != nil {
		return c.fail(exitUsage, name, "%s: %v", eventPath, err)
	}
	log, closeLog, err := c.logTo(o.logPath)
	if err != nil {
		return c.fail(exitUsage, name, "log file: %v", err)
	}
	defer closeLog()
	inv.log = log

	if o.live {
		if inv.cred, err = c.credential(); err != nil {
			return c.fail(exitUsage, name, "%v", err)
		}
		inv.notifier = newNotifier(ncfg, log)
	} else {
		emu, err := c.offlineCloud(inv, o.groups, ev, resources)
		if err != nil {
			return c.fail(exitUsage, name, "offline emulator: %v (give --groups FILE, or --live)", err)
		}
		defer emu.Close()
		if c.emulatorHook != nil {
			defer c.emulatorHook(emu.Server)
		}
	}
	c.banner(inv.settings, o, eventPath)

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if ev != nil {
		return c.replayEvaluation(ctx, inv, ev, o)
	}
	return c.replayRemediation(ctx, inv, resources, o, ncfg)
}

// offlineCloud starts the built-in emulator seeded with groups and points
// the invocation at it. An event that names member accounts is replayed in
// account group mode: the emulator then also plays the Config account group
// and the member roles (the settings' names, or sample ones). An evaluation
// event gets a result token the emulator accepts.
func (c *cli) offlineCloud(inv *invocation, groups string, ev *remediation.EvaluationEvent, resources []remediation.Resource) (*emulator, error) {
	emu, err := startEmulator(groups)
	if err != nil {
		return nil, err
	}
	s := &inv.settings
	s.ConfigEndpoint, s.ECSEndpoint, s.STSEndpoint = emu.URL(), emu.URL(), emu.URL()
	inv.cred = emu.cred
	if namesOtherAccount(resources, inv.ownAccount) {
		if s.AggregatorID == "" {
			s.AggregatorID = "ca-offline-replay"
		}
		if s.MemberRoleName == "" {
			s.MemberRoleName = "sg-remediation-member"
		}
		if err := emu.addAccountGroup(s.AggregatorID, s.MemberRoleName); err != nil {
			emu.Close()
			return nil, err
		}
		fmt.Fprintf(c.stderr, "account group mode: aggregator %s, member role %s\n", s.AggregatorID, s.MemberRoleName)
	}
	if ev != nil {
		ev.ResultToken = emu.NewResultToken()
	}
	return emu, nil
}

// replayRemediation runs a remediation event and prints the report. Offline,
// the notification is printed, never sent.
func (c *cli) replayRemediation(ctx context.Context, inv *invocation, resources []remediation.Resource, o replayOpts, ncfg notify.Config) int {
	const name = "replay"
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
	if !o.live && len(ncfg.Targets) > 0 {
		c.printPreview(o, notify.New(ncfg, inv.log).Preview(report))
	}
	if failed != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	return exitOK
}

// printPreview shows the messages an offline replay would send (on stderr
// with --json, so that stdout stays one JSON document).
func (c *cli) printPreview(o replayOpts, msgs []notify.Message) {
	w := c.stdout
	if o.asJSON {
		w = c.stderr
	}
	if len(msgs) == 0 {
		fmt.Fprintln(w, "\nNotification: nothing to send (no outcome in NOTIFY_ON).")
		return
	}
	for _, m := range msgs {
		fmt.Fprintf(w, "\nNotification that would be sent (offline replays never send) to %s %s:\n%s\n%s\n", m.Kind, m.URL, m.Title, m.Text)
	}
}

// replayEvaluation runs an evaluation event of the custom rule and prints
// the verdict. A live replay reports it with PutEvaluations only with
// --apply (the event's result token must still be valid).
func (c *cli) replayEvaluation(ctx context.Context, inv *invocation, ev *remediation.EvaluationEvent, o replayOpts) int {
	rep, err := inv.evaluate(ctx, ev)
	if err != nil {
		return c.fail(exitFailed, "replay", "%v", err)
	}
	if o.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return c.fail(exitFailed, "replay", "%v", err)
		}
		return exitOK
	}
	fmt.Fprintf(c.stdout, "EVALUATION of %s (%s, account %s): %s\n%s\n", rep.ResourceID, rep.Region, rep.AccountID, rep.ComplianceType, rep.Annotation)
	if rep.Reported {
		fmt.Fprintln(c.stdout, "reported with PutEvaluations")
	} else {
		fmt.Fprintln(c.stdout, "not reported (dry run; --live --apply reports it with the event's result token)")
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
