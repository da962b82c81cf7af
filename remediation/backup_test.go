package remediation

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// The backup line the Remediator logs is what ReadBackups reads, whether as
// the raw line or wrapped by a Log Service export.
func TestBackupLineRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	want := Backup{GroupID: "sg-1", Region: "cn-hangzhou", Rule: in("sgr-1", "TCP", "22/22", prio(7), func(r *Rule) {
		r.Description, r.SourcePortRange = "ssh for \"ops\"", "-1/-1"
	})}
	log.Info("resource", "resourceId", "sg-1")
	log.Info(BackupMessage, BackupKey, want)
	line := strings.TrimSpace(strings.Split(buf.String(), "\n")[1])
	for _, field := range []string{`"groupId":"sg-1"`, `"regionId":"cn-hangzhou"`, `"SecurityGroupRuleId":"sgr-1"`, `"Direction":"ingress"`,
		`"Policy":"Accept"`, `"Priority":7`, `"IpProtocol":"TCP"`, `"PortRange":"22/22"`, `"SourceCidrIp":"0.0.0.0/0"`,
		`"SourcePortRange":"-1/-1"`, `"NicType":"intranet"`, `"Description":"ssh for \"ops\""`} {
		if !strings.Contains(line, field) {
			t.Errorf("backup line lacks %s: %s", field, line)
		}
	}
	wrapped, _ := json.Marshal(map[string]string{"__time__": "1764000000", "content": line})
	export := strings.Join([]string{
		buf.String(),
		string(wrapped),
		"2026-11-25 10:00:00 " + line,
		`{"msg":"rule backup","backup":{"groupId":"sg-1"}}`, // incomplete record: ignored
		"not json at all",
		"",
	}, "\n")
	got, err := ReadBackups(strings.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("read %d backups, want 3: %+v", len(got), got)
	}
	for _, b := range got {
		if b != want {
			t.Errorf("got %+v, want %+v", b, want)
		}
	}
}
