package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/sg-remediation/sg-remediation/remediation"
)

const restoreHelp = `
Re-creates revoked rules (AuthorizeSecurityGroup) from the backup records in
the function's log: the log as exported from Log Service, or the --log file of
a replay ("-" reads stdin). Every line that is not a backup record is ignored.
Region and group come from each record.

Idempotent: a rule that already exists live (same policy, priority, protocol,
ports, source and NIC type) is not created again, so a second restore changes
nothing. --dry-run prints what would be created.

Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / ALIBABA_CLOUD_SECURITY_TOKEN
or the credentials-go chain. ECS_ENDPOINT (and the other settings) are read
from the environment as by the function.

Exit status: 0 done, 1 a rule could not be restored or the file holds no
backup record, 2 usage error, invalid setting or unreadable file.
`

func (c *cli) restore(ctx context.Context, args []string) int {
	const name = "restore"
	fs := c.flagSet(name, "[flags] BACKUP.jsonl", restoreHelp)
	dryRun := fs.Bool("dry-run", false, "print what would be created, create nothing")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of the table")
	logPath := fs.String("log", "", "append the JSON log lines to this file instead of stderr (\"-\": stdout)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pos, code, done := c.parse(fs, args)
	switch {
	case done:
		return code
	case len(pos) != 1:
		return c.usageError(name, "want one BACKUP.jsonl, got %d arguments", len(pos))
	}
	path := pos[0]

	s, err := remediation.LoadSettings(c.getenv)
	if err != nil {
		return c.fail(exitUsage, name, "nothing done: %s", oneLine(err))
	}
	var in io.Reader = c.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return c.fail(exitUsage, name, "%v", err)
		}
		defer f.Close()
		in = f
	}
	backups, err := remediation.ReadBackups(in)
	if err != nil {
		return c.fail(exitUsage, name, "%s: %v", path, err)
	}
	if len(backups) == 0 {
		return c.fail(exitFailed, name, "%s holds no backup record (lines with \"msg\":%q); nothing to restore", path, remediation.BackupMessage)
	}
	cloud, log, closeLog, err := c.cloudAndLog(s, *logPath)
	if err != nil {
		return c.fail(exitUsage, name, "%v", err)
	}
	defer closeLog()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// Backups of member accounts (account group mode) are restored with
	// MEMBER_ROLE_NAME assumed in each member, as the function revoked them.
	inv := &invocation{settings: s}
	owners := make([]remediation.Resource, len(backups))
	for i, b := range backups {
		owners[i] = remediation.Resource{AccountID: b.AccountID}
	}
	accounts, err := inv.accounts(ctx, cloud, owners)
	if err != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	results, rerr := remediation.Restore(ctx, accounts, backups, *dryRun, log)
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return c.fail(exitFailed, name, "%v", err)
		}
	} else {
		writeRestore(c.stdout, results, *dryRun, tableWidth)
	}
	if rerr != nil {
		return c.fail(exitFailed, name, "%v", rerr)
	}
	return exitOK
}
