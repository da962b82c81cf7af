package remediation

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings are the function's configuration (contract sections 4 and 6-9).
// Every field is read from one environment variable declared in
// settingTable, the single list of settings: the usage text, the README's
// settings table and the Terraform module's environment are checked against it.
type Settings struct {
	RiskyPorts        PortSet
	DryRun            bool
	ExemptKey         string // tag key that exempts a group
	ExemptValue       string // required tag value; "" means any value
	ConfigRegion      string
	ConfigEndpoint    string // "" = derived from ConfigRegion
	ECSEndpoint       string // "" = ecs.<regionId>.aliyuncs.com per resource
	STSEndpoint       string // "" = sts.<function region>.aliyuncs.com
	MaxConcurrency    int
	AllowedCIDRs      []netip.Prefix // restrict mode when non-empty
	AggregatorID      string         // account group mode when non-empty
	MemberRoleName    string         // role assumed in member accounts
	MaxExceptionDays  int
	Exceptions        []Exception
	NotifyURL         Sensitive // parsed and checked by package notify; tokens inside
	NotifySecret      Sensitive
	NotifyOn          string  // parsed and checked by package notify
	MaxCallsPerSecond float64 // 0: adaptive only
}

// Setting is one environment variable: its name, default, one-line help and
// parser. set is called only for a non-empty value.
type Setting struct {
	Name, Default, Help string
	set                 func(s *Settings, v string, now time.Time) error
}

// settingTable is the one declaration of every setting, in the order they
// are read (MAX_EXCEPTION_DAYS before EXCEPTIONS, which it bounds).
var settingTable = []Setting{
	{"RISKY_PORTS", DefaultRiskyPorts, "ports and ranges to close, e.g. 22,3389,3306,1433-1434", func(s *Settings, v string, _ time.Time) (err error) {
		s.RiskyPorts, err = ParsePorts(v)
		return err
	}},
	{"DRY_RUN", "false", "select and report, revoke nothing (true/false, yes/no, on/off, 1/0)", func(s *Settings, v string, _ time.Time) (err error) {
		s.DryRun, err = parseBool(v)
		return err
	}},
	{"EXEMPT_TAG", "sg-remediation=exempt", "key=value (or key) that exempts a group; <key>-until=DATE ends it", func(s *Settings, v string, _ time.Time) error {
		k, val, _ := strings.Cut(v, "=")
		s.ExemptKey, s.ExemptValue = strings.TrimSpace(k), strings.TrimSpace(val)
		if s.ExemptKey == "" {
			return fmt.Errorf("%q has no tag key; want key=value or key", v)
		}
		return nil
	}},
	{"CONFIG_REGION", "cn-shanghai", "region of the Cloud Config API: cn-shanghai, or ap-southeast-1 for international sites", func(s *Settings, v string, _ time.Time) error {
		if v != "cn-shanghai" && v != "ap-southeast-1" {
			return fmt.Errorf("%q: Cloud Config's API lives in cn-shanghai or ap-southeast-1", v)
		}
		s.ConfigRegion = v
		return nil
	}},
	{"CONFIG_ENDPOINT", "", "Config endpoint override, e.g. http://127.0.0.1:9000 (http:// means plain HTTP)", endpoint(func(s *Settings) *string { return &s.ConfigEndpoint })},
	{"ECS_ENDPOINT", "", "ECS endpoint override for every region (default ecs.<regionId>.aliyuncs.com)", endpoint(func(s *Settings) *string { return &s.ECSEndpoint })},
	{"STS_ENDPOINT", "", "STS endpoint override (default sts.<function region>.aliyuncs.com)", endpoint(func(s *Settings) *string { return &s.STSEndpoint })},
	{"MAX_CONCURRENCY", "8", "resources processed at once, 1..64; never more cloud calls in flight", func(s *Settings, v string, _ time.Time) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return fmt.Errorf("%q: want a whole number from 1 to 64", v)
		}
		s.MaxConcurrency = n
		return nil
	}},
	{"ALLOWED_CIDRS", "", "restrict mode: re-create each revoked rule for these CIDRs (comma-separated)", func(s *Settings, v string, _ time.Time) (err error) {
		s.AllowedCIDRs, err = ParseAllowedCIDRs(v)
		return err
	}},
	{"AGGREGATOR_ID", "", "account group mode: read configurations through this Config aggregator", func(s *Settings, v string, _ time.Time) error {
		if strings.ContainsAny(v, " /?#&") {
			return fmt.Errorf("%q is not an aggregator id", v)
		}
		s.AggregatorID = v
		return nil
	}},
	{"MEMBER_ROLE_NAME", "", "role assumed in member accounts: acs:ram::<accountId>:role/<name>", func(s *Settings, v string, _ time.Time) error {
		if !validRoleName(v) {
			return fmt.Errorf("%q is not a RAM role name (1..64 of letters, digits, '.', '-', '_')", v)
		}
		s.MemberRoleName = v
		return nil
	}},
	{"MAX_EXCEPTION_DAYS", "90", "an exception may end at most this many days after today (UTC)", func(s *Settings, v string, _ time.Time) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return fmt.Errorf("%q: want a whole number of days from 1 to 3650", v)
		}
		s.MaxExceptionDays = n
		return nil
	}},
	{"EXCEPTIONS", "", "accepted risks: JSON array of {group, rule, ports, region, account, until, owner, reason}", func(s *Settings, v string, now time.Time) (err error) {
		s.Exceptions, err = ParseExceptions(v, now, s.MaxExceptionDays)
		return err
	}},
	{"NOTIFY_URL", "", "webhook URLs, comma-separated (DingTalk, Lark/Feishu, WeCom, Slack or JSON)", func(s *Settings, v string, _ time.Time) error {
		s.NotifyURL = Sensitive(v)
		return nil
	}},
	{"NOTIFY_SECRET", "", "signing secret for DingTalk and Lark/Feishu robots", func(s *Settings, v string, _ time.Time) error {
		s.NotifySecret = Sensitive(v)
		return nil
	}},
	{"NOTIFY_ON", "revoked,would-revoke,failed", "outcomes that cause a message (revoked, would-revoke, failed, excepted, skipped, compliant)", func(s *Settings, v string, _ time.Time) error {
		s.NotifyOn = v
		return nil
	}},
	{"MAX_CALLS_PER_SECOND", "", "hard cap on calls per second per region and API action (empty: adaptive only)", func(s *Settings, v string, _ time.Time) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 10000) {
			return fmt.Errorf("%q: want a number of calls per second above 0 and at most 10000", v)
		}
		s.MaxCallsPerSecond = f
		return nil
	}},
}

// SettingsTable returns the declaration of every setting, in order.
func SettingsTable() []Setting { return slices.Clone(settingTable) }

// SettingsUsage is the settings part of the command-line help.
func SettingsUsage() string {
	var b strings.Builder
	for _, st := range settingTable {
		def := st.Default
		if def == "" {
			def = "empty"
		}
		fmt.Fprintf(&b, "  %-21s %s (default: %s)\n", st.Name, st.Help, def)
	}
	return b.String()
}

func endpoint(field func(*Settings) *string) func(*Settings, string, time.Time) error {
	return func(s *Settings, v string, _ time.Time) error {
		if _, _, err := SplitEndpoint(v); err != nil {
			return err
		}
		*field(s) = v
		return nil
	}
}

// Sensitive is a setting that carries a credential (a webhook URL with its
// token, a signing secret). It never prints: every fmt verb and slog show a
// placeholder; convert it to string to use it.
type Sensitive string

func (Sensitive) String() string               { return "[redacted]" }
func (Sensitive) GoString() string             { return "[redacted]" }
func (Sensitive) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Sensitive) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte("[redacted]")) }
func (Sensitive) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// ErrBadSetting is wrapped by every settings error.
var ErrBadSetting = errors.New("invalid setting")

// DefaultSettings returns the contract's defaults: every setting's Default.
func DefaultSettings() Settings {
	var s Settings
	for _, st := range settingTable {
		if st.Default != "" {
			if err := st.set(&s, st.Default, time.Time{}); err != nil {
				panic("default of " + st.Name + ": " + err.Error()) // a bug in settingTable
			}
		}
	}
	return s
}

// LoadSettings reads the settings from environment variables through getenv
// (os.Getenv in production), at the current time.
func LoadSettings(getenv func(string) string) (Settings, error) {
	return LoadSettingsAt(getenv, time.Now())
}

// LoadSettingsAt reads the settings as of now (exception end dates are
// bounded from today). Every invalid value is reported, not only the first,
// and the error wraps ErrBadSetting.
func LoadSettingsAt(getenv func(string) string, now time.Time) (Settings, error) {
	s := DefaultSettings()
	var errs []error
	for _, st := range settingTable {
		v := strings.TrimSpace(getenv(st.Name))
		if v == "" {
			continue
		}
		if err := st.set(&s, v, now); err != nil {
			errs = append(errs, fmt.Errorf("%w %s: %s", ErrBadSetting, st.Name, strings.ReplaceAll(err.Error(), "\n", "; ")))
		}
	}
	return s, errors.Join(errs...)
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean; want true or false (also accepted: yes/no, on/off, 1/0)", v)
}

// ValidRegion reports whether v looks like a region id (cn-hangzhou).
func ValidRegion(v string) bool {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return v != "" && len(v) <= 64
}

// ValidGroupID reports whether v looks like a security group id (sg-...).
func ValidGroupID(v string) bool {
	if !strings.HasPrefix(v, "sg-") || len(v) < 4 || len(v) > 64 {
		return false
	}
	for _, c := range v[3:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidAccountID reports whether v is a 16-digit Alibaba Cloud account id.
func ValidAccountID(v string) bool {
	if len(v) != 16 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validRoleName(v string) bool {
	if len(v) < 1 || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseAllowedCIDRs parses a comma-separated list of IPv4/IPv6 CIDRs for
// restrict mode. The whole internet (a /0) is refused: it would re-create
// the very exposure being removed.
func ParseAllowedCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			// A bare address means that one host.
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%q is the whole internet; restrict mode needs narrower CIDRs", item)
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: write IPv4 CIDRs in IPv4 form", item)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CIDR given")
	}
	return out, nil
}

// SplitEndpoint splits an endpoint override into the SDK's host[:port] and
// protocol: "http://127.0.0.1:9000" speaks plain HTTP, "https://h" or a bare
// host speaks HTTPS.
func SplitEndpoint(v string) (host, protocol string, err error) {
	protocol = "https"
	switch {
	case strings.HasPrefix(v, "http://"):
		protocol, v = "http", strings.TrimPrefix(v, "http://")
	case strings.HasPrefix(v, "https://"):
		v = strings.TrimPrefix(v, "https://")
	case strings.Contains(v, "://"):
		return "", "", fmt.Errorf("endpoint %q: only http:// and https:// are supported", v)
	}
	v = strings.TrimSuffix(v, "/")
	if v == "" || strings.ContainsAny(v, "/?# ") {
		return "", "", fmt.Errorf("endpoint %q: want host[:port] with an optional http:// or https://", v)
	}
	return v, protocol, nil
}
