package remediation

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.RiskyPorts.String() != "22,3306,3389" || s.DryRun || s.ExemptKey != "sg-remediation" || s.ExemptValue != "exempt" ||
		s.ConfigRegion != "cn-shanghai" || s.MaxConcurrency != 8 || len(s.AllowedCIDRs) != 0 || s.ConfigEndpoint != "" || s.ECSEndpoint != "" {
		t.Errorf("defaults = %+v", s)
	}
}

func TestLoadSettings(t *testing.T) {
	s, err := LoadSettings(envOf(map[string]string{
		"RISKY_PORTS": "22,1433-1434", "DRY_RUN": "TRUE", "EXEMPT_TAG": "keep", "CONFIG_REGION": "ap-southeast-1",
		"CONFIG_ENDPOINT": "http://127.0.0.1:9000", "ECS_ENDPOINT": "127.0.0.1:9001", "MAX_CONCURRENCY": "64",
		"ALLOWED_CIDRS": "203.0.113.0/24, 2001:db8::/32,198.51.100.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.RiskyPorts.String() != "22,1433-1434" || !s.DryRun || s.ExemptKey != "keep" || s.ExemptValue != "" || s.MaxConcurrency != 64 {
		t.Errorf("got %+v", s)
	}
	if len(s.AllowedCIDRs) != 3 || s.AllowedCIDRs[2].String() != "198.51.100.7/32" {
		t.Errorf("allowed = %v", s.AllowedCIDRs)
	}
	if ok, _ := s.exemption(map[string][]string{"keep": {"anything"}}, time.Now()); !ok {
		t.Error("key-only exemption")
	}
	if ok, _ := s.exemption(map[string][]string{"other": {""}}, time.Now()); ok {
		t.Error("key-only exemption")
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"RISKY_PORTS":          {"RISKY_PORTS": "22,99999"},
		"DRY_RUN":              {"DRY_RUN": "maybe"},
		"EXEMPT_TAG":           {"EXEMPT_TAG": "=x"},
		"CONFIG_REGION":        {"CONFIG_REGION": "us-east-1"},
		"CONFIG_ENDPOINT":      {"CONFIG_ENDPOINT": "ftp://x"},
		"ECS_ENDPOINT":         {"ECS_ENDPOINT": "http://"},
		"MAX_CONCURRENCY":      {"MAX_CONCURRENCY": "65"},
		"ALLOWED_CIDRS":        {"ALLOWED_CIDRS": "10.0.0.0/8,0.0.0.0/0"},
		"STS_ENDPOINT":         {"STS_ENDPOINT": "sts?x"},
		"AGGREGATOR_ID":        {"AGGREGATOR_ID": "ca-1 2"},
		"MEMBER_ROLE_NAME":     {"MEMBER_ROLE_NAME": "role/x"},
		"MAX_EXCEPTION_DAYS":   {"MAX_EXCEPTION_DAYS": "0"},
		"EXCEPTIONS":           {"EXCEPTIONS": "[{}]"},
		"MAX_CALLS_PER_SECOND": {"MAX_CALLS_PER_SECOND": "-1"},
	}
	// Every setting of the table has a row here: a new one needs its own.
	for _, st := range SettingsTable() {
		if _, ok := tests[st.Name]; !ok && st.Name != "NOTIFY_URL" && st.Name != "NOTIFY_SECRET" && st.Name != "NOTIFY_ON" {
			t.Errorf("no invalid value tested for %s", st.Name)
		}
	}
	for name, env := range tests {
		_, err := LoadSettings(envOf(env))
		if err == nil || !errors.Is(err, ErrBadSetting) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	_, err := LoadSettings(envOf(map[string]string{"MAX_CONCURRENCY": "0", "DRY_RUN": "x"}))
	if err == nil || !strings.Contains(err.Error(), "MAX_CONCURRENCY") || !strings.Contains(err.Error(), "DRY_RUN") {
		t.Errorf("want both errors reported: %v", err)
	}
}

func TestParseAllowedCIDRs(t *testing.T) {
	for _, bad := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/33", "nope", "", " , ", "::ffff:10.0.0.0/104"} {
		if _, err := ParseAllowedCIDRs(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	got, err := ParseAllowedCIDRs("10.1.2.3/8")
	if err != nil || got[0].String() != "10.0.0.0/8" {
		t.Errorf("masking: %v %v", got, err)
	}
}

func TestSplitEndpoint(t *testing.T) {
	for in, want := range map[string][2]string{
		"http://127.0.0.1:9000":           {"127.0.0.1:9000", "http"},
		"https://ecs.example/":            {"ecs.example", "https"},
		"config.cn-shanghai.aliyuncs.com": {"config.cn-shanghai.aliyuncs.com", "https"},
	} {
		h, p, err := SplitEndpoint(in)
		if err != nil || h != want[0] || p != want[1] {
			t.Errorf("%q: %s %s %v", in, h, p, err)
		}
	}
}

// Every setting of the table is documented in the README's settings table
// and set in the Terraform module's function environment: adding a setting
// without both fails here.
func TestSettingsDocumentedAndDeployed(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.ReadFile("../terraform/function.tf")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range SettingsTable() {
		if !regexp.MustCompile("(?m)^\\|\\s*`" + st.Name + "`\\s*\\|").Match(readme) {
			t.Errorf("README.md has no settings table row for %s", st.Name)
		}
		if !regexp.MustCompile(`(?m)^\s*` + st.Name + `\s*=`).Match(tf) {
			t.Errorf("terraform/function.tf does not set %s in the function's environment", st.Name)
		}
	}
	// And the generated usage names every setting with its default.
	usage := SettingsUsage()
	for _, st := range SettingsTable() {
		if !strings.Contains(usage, st.Name) || st.Default != "" && !strings.Contains(usage, st.Default) {
			t.Errorf("usage lacks %s (default %q)", st.Name, st.Default)
		}
	}
}
