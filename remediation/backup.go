package remediation

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// A backup is one log line written before a rule is revoked:
//
//	{"time":"…","level":"INFO","msg":"rule backup","backup":{"groupId":"sg-…","regionId":"cn-…","rule":{…}}}
//
// restore re-creates rules from these lines.
const (
	BackupMessage = "rule backup"
	BackupKey     = "backup"
)

// Backup is a revoked rule with where it lived.
type Backup struct {
	GroupID   string `json:"groupId"`
	Region    string `json:"regionId"`
	AccountID string `json:"accountId,omitempty"`
	Rule      Rule   `json:"rule"`
}

// ReadBackups picks the backup records out of a log as exported from Log
// Service and ignores every other line. A line may be the function's own
// JSON line, or a JSON object that carries it as a string field (an export
// wraps the line in "content" or "message"); text before the first '{' (a
// timestamp prefix) is skipped.
func ReadBackups(r io.Reader) ([]Backup, error) {
	var out []Backup
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if b, ok := ParseBackupLine(sc.Bytes()); ok {
			out = append(out, b)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read backup lines: %w", err)
	}
	return out, nil
}

// ParseBackupLine returns the backup record in one log line, if any.
func ParseBackupLine(line []byte) (Backup, bool) {
	return parseBackup(line, 2)
}

func parseBackup(line []byte, depth int) (Backup, bool) {
	i := bytes.IndexByte(line, '{')
	if i < 0 || depth == 0 {
		return Backup{}, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(line[i:], &obj) != nil {
		return Backup{}, false
	}
	var msg string
	_ = json.Unmarshal(obj["msg"], &msg)
	if raw, ok := obj[BackupKey]; ok && msg == BackupMessage {
		var b Backup
		if json.Unmarshal(raw, &b) == nil && b.valid() {
			return b, true
		}
		return Backup{}, false
	}
	for _, k := range []string{"content", "message", "__raw__", "log"} {
		var inner string
		if json.Unmarshal(obj[k], &inner) == nil && inner != "" {
			if b, ok := parseBackup([]byte(inner), depth-1); ok {
				return b, true
			}
		}
	}
	return Backup{}, false
}

func (b *Backup) valid() bool {
	r := &b.Rule
	return b.GroupID != "" && b.Region != "" && r.IpProtocol != "" && r.PortRange != "" &&
		(r.SourceCidrIp != "" || r.Ipv6SourceCidrIp != "" || r.SourceGroupId != "" || r.SourcePrefixListId != "")
}

// RestoreResult is what restore did with one backup record.
type RestoreResult struct {
	Backup Backup `json:"backup"`
	// Action is created, would-create, exists or failed.
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Restore re-creates the backed-up rules with AuthorizeSecurityGroup, each
// in its group's account (accounts signs for the backup's accountId). It is
// idempotent: a rule that already exists live (same policy, priority,
// protocol, ports, source and NIC type) is not created again, and duplicate
// records are created once. With dryRun it only reports what it would create.
func Restore(ctx context.Context, accounts Accounts, backups []Backup, dryRun bool, log *slog.Logger) ([]RestoreResult, error) {
	retry := DefaultRetryPolicy
	results := make([]RestoreResult, len(backups))
	type groupKey struct{ account, region, id string }
	byGroup := map[groupKey][]int{}
	var order []groupKey
	for i, b := range backups {
		k := groupKey{b.AccountID, b.Region, b.GroupID}
		if _, ok := byGroup[k]; !ok {
			order = append(order, k)
		}
		byGroup[k] = append(byGroup[k], i)
		results[i] = RestoreResult{Backup: b}
	}
	var failures []string
	for _, k := range order {
		// A member account's rule is re-created with that account's keys.
		ecs, err := accounts.ECS(ctx, k.account)
		var live []Rule
		if err == nil {
			live, err = ReadLiveRules(ctx, retry, ecs, k.region, k.id)
		}
		if err == nil {
			var todo []Rule
			var todoIdx []int
			for _, i := range byGroup[k] {
				rule := backups[i].Rule
				rule.Direction = "ingress"
				if ContainsRule(live, rule) || ContainsRule(todo, rule) {
					results[i].Action = "exists"
					continue
				}
				todo, todoIdx = append(todo, rule), append(todoIdx, i)
			}
			action := "would-create"
			if !dryRun {
				action = "created"
				err = AuthorizeRules(ctx, retry, ecs, k.region, k.id, todo)
			}
			for _, i := range todoIdx {
				results[i].Action = action
			}
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s (%s): %v", k.id, k.region, err))
			for _, i := range byGroup[k] {
				if results[i].Action != "exists" {
					results[i].Action, results[i].Error = "failed", err.Error()
				}
			}
		}
		for _, i := range byGroup[k] {
			if results[i].Action == "failed" {
				log.Error("restore", "groupId", k.id, "regionId", k.region, "action", results[i].Action, "error", results[i].Error, "rule", backups[i].Rule)
				continue
			}
			log.Info("restore", "groupId", k.id, "regionId", k.region, "action", results[i].Action, "rule", backups[i].Rule)
		}
	}
	if len(failures) > 0 {
		return results, fmt.Errorf("restore failed for %d group(s): %s", len(failures), strings.Join(failures, "; "))
	}
	return results, nil
}
