package remediation

import (
	"strings"
	"testing"
	"time"
)

// today is the clock of these tests: 2026-11-30 15:04 UTC.
var today = time.Date(2026, 11, 30, 15, 4, 0, 0, time.UTC)

func mustExceptions(t *testing.T, js string) []Exception {
	t.Helper()
	ex, err := ParseExceptions(js, today, 90)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestExceptionMatchingAndCoverage(t *testing.T) {
	res := Resource{RegionID: "cn-hangzhou", AccountID: "1234567890123456", ResourceID: "sg-1"}
	ssh := in("sgr-ssh", "tcp", "22/22")
	wide := in("sgr-wide", "tcp", "1/65535")
	const base = `"owner":"alice","reason":"vendor VPN","until":"2026-12-31"`
	tests := []struct {
		name       string
		exceptions string
		rule       Rule
		now        time.Time
		excepted   bool
		reasonHas  []string
	}{
		{"group-wide", `[{"group":"sg-1",` + base + `}]`, ssh, today, true, []string{"excepted until 2026-12-31 by alice: vendor VPN", "exposes 22/tcp"}},
		{"other group", `[{"group":"sg-2",` + base + `}]`, ssh, today, false, []string{"exposes 22/tcp"}},
		{"rule-scoped", `[{"group":"sg-1","rule":"sgr-ssh",` + base + `}]`, ssh, today, true, nil},
		{"rule-scoped, other rule", `[{"group":"sg-1","rule":"sgr-other",` + base + `}]`, ssh, today, false, nil},
		{"port-scoped covers", `[{"group":"sg-1","ports":"22",` + base + `}]`, ssh, today, true, nil},
		{"port-scoped partial", `[{"group":"sg-1","ports":"22,3389",` + base + `}]`, wide, today, false,
			[]string{"22/tcp, 3389/tcp excepted until 2026-12-31 by alice", "3306/tcp not"}},
		{"port range", `[{"group":"sg-1","ports":"1-5000",` + base + `}]`, wide, today, true, nil},
		{"region matches", `[{"group":"sg-1","region":"cn-hangzhou",` + base + `}]`, ssh, today, true, nil},
		{"region differs", `[{"group":"sg-1","region":"cn-beijing",` + base + `}]`, ssh, today, false, nil},
		{"account matches", `[{"group":"sg-1","account":"1234567890123456",` + base + `}]`, ssh, today, true, nil},
		{"account differs", `[{"group":"sg-1","account":"2000000000000001",` + base + `}]`, ssh, today, false, nil},
		{"two exceptions cover together", `[{"group":"sg-1","ports":"22,3389",` + base + `},{"group":"sg-1","ports":"3306","owner":"bob","reason":"db move","until":"2026-12-15"}]`,
			wide, today, true, nil},
		{"expired", `[{"group":"sg-1",` + base + `}]`, ssh, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false,
			[]string{"exposes 22/tcp", "exception by alice (vendor VPN) expired 2026-12-31"}},
		{"last second of the day still holds", `[{"group":"sg-1",` + base + `}]`, ssh, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), true, nil},
		{"first second after", `[{"group":"sg-1",` + base + `}]`, ssh, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false, []string{"expired"}},
		{"rfc3339 until", `[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01T12:00:00+08:00"}]`, ssh, time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC), true, nil},
		{"rfc3339 until passed", `[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01T12:00:00+08:00"}]`, ssh, time.Date(2026, 12, 1, 4, 0, 1, 0, time.UTC), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := mustExceptions(t, tt.exceptions)
			d := Decide([]Rule{tt.rule}, mustPorts(t, DefaultRiskyPorts))[0]
			got := except(d, res, ex, tt.now)
			if (got.Excepted != nil) != tt.excepted || got.Risky == tt.excepted {
				t.Fatalf("excepted=%v risky=%v (%s), want excepted=%v", got.Excepted != nil, got.Risky, got.Reason, tt.excepted)
			}
			for _, s := range tt.reasonHas {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q lacks %q", got.Reason, s)
				}
			}
			if tt.excepted && len(got.Exposed) == 0 {
				t.Error("an excepted rule still names the ports it exposes")
			}
		})
	}
}

func TestParseExceptionsInvalid(t *testing.T) {
	tests := map[string]struct{ js, want string }{
		"not json":        {`{`, "not a JSON array"},
		"object":          {`{"group":"sg-1"}`, "not a JSON array"},
		"unknown field":   {`[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01","expires":"x"}]`, `unknown field "expires"`},
		"missing group":   {`[{"owner":"a","reason":"r","until":"2026-12-01"}]`, "entry 0 (group \"\"): group is required"},
		"missing owner":   {`[{"group":"sg-1","reason":"r","until":"2026-12-01"}]`, "owner is required"},
		"empty reason":    {`[{"group":"sg-1","owner":"a","reason":"  ","until":"2026-12-01"}]`, "reason is required"},
		"missing until":   {`[{"group":"sg-1","owner":"a","reason":"r"}]`, "until is required"},
		"bad date":        {`[{"group":"sg-1","owner":"a","reason":"r","until":"31/12/2026"}]`, "is not a date"},
		"too far":         {`[{"group":"sg-1","owner":"a","reason":"r","until":"2027-03-01"}]`, "more than MAX_EXCEPTION_DAYS (90)"},
		"bad ports":       {`[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01","ports":"22,70000"}]`, "ports:"},
		"bad group":       {`[{"group":"i-123","owner":"a","reason":"r","until":"2026-12-01"}]`, "not a security group id"},
		"bad account":     {`[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01","account":"12"}]`, "16-digit"},
		"bad region":      {`[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01","region":"CN HZ"}]`, "not a region id"},
		"second entry":    {`[{"group":"sg-1","owner":"a","reason":"r","until":"2026-12-01"},{"group":"sg-2","owner":"a","until":"2026-12-01"}]`, `entry 1 (group "sg-2"): reason is required`},
		"text after":      {`[] []`, "text after the array"},
		"wrong type":      {`[{"group":"sg-1","owner":"a","reason":"r","until":20261201}]`, "cannot unmarshal"},
		"expired is fine": {`[{"group":"sg-1","owner":"a","reason":"r","until":"2020-01-01"}]`, ""},
		"limit day is ok": {`[{"group":"sg-1","owner":"a","reason":"r","until":"2027-02-28"}]`, ""},
		"day after limit": {`[{"group":"sg-1","owner":"a","reason":"r","until":"2027-03-01"}]`, "MAX_EXCEPTION_DAYS"},
	}
	for name, tt := range tests {
		_, err := ParseExceptions(tt.js, today, 90)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
	}
	// Through the settings: an invalid setting naming the entry.
	_, err := LoadSettingsAt(envOf(map[string]string{"EXCEPTIONS": `[{"group":"sg-9"}]`}), today)
	if err == nil || !strings.Contains(err.Error(), "EXCEPTIONS") || !strings.Contains(err.Error(), `group "sg-9"`) {
		t.Errorf("settings error %v", err)
	}
}

func TestExemptionEndDate(t *testing.T) {
	s := DefaultSettings()
	tag := func(until string) map[string][]string {
		m := map[string][]string{"sg-remediation": {"exempt"}}
		if until != "" {
			m["sg-remediation-until"] = []string{until}
		}
		return m
	}
	tests := []struct {
		name   string
		tags   map[string][]string
		exempt bool
		note   string
	}{
		{"no end date", tag(""), true, "exempt: carries tag sg-remediation=exempt"},
		{"future", tag("2026-12-31"), true, "until 2026-12-31"},
		{"today holds", tag("2026-11-30"), true, "until 2026-11-30"},
		{"past", tag("2026-11-29"), false, "expired 2026-11-29"},
		{"not a date", tag("soon"), false, "is void"},
		{"wrong value", map[string][]string{"sg-remediation": {"no"}}, false, ""},
		{"untagged", map[string][]string{"env": {"prod"}}, false, ""},
	}
	for _, tt := range tests {
		exempt, note := s.exemption(tt.tags, today)
		if exempt != tt.exempt || !strings.Contains(note, tt.note) {
			t.Errorf("%s: exempt=%v %q", tt.name, exempt, note)
		}
	}
}
