package remediation

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Settings are the function's configuration (contract section 4).
type Settings struct {
	RiskyPorts     PortSet
	DryRun         bool
	ExemptKey      string // tag key that exempts a group
	ExemptValue    string // required tag value; "" means any value
	ConfigRegion   string
	ConfigEndpoint string // "" = derived from ConfigRegion
	ECSEndpoint    string // "" = ecs.<regionId>.aliyuncs.com per resource
	MaxConcurrency int
	AllowedCIDRs   []netip.Prefix // restrict mode when non-empty
}

// ErrBadSetting is wrapped by every settings error.
var ErrBadSetting = errors.New("invalid setting")

// DefaultSettings returns the contract's defaults.
func DefaultSettings() Settings {
	ports, _ := ParsePorts(DefaultRiskyPorts)
	return Settings{
		RiskyPorts:     ports,
		ExemptKey:      "sg-remediation",
		ExemptValue:    "exempt",
		ConfigRegion:   "cn-shanghai",
		MaxConcurrency: 8,
	}
}

// LoadSettings reads the settings from environment variables through getenv
// (os.Getenv in production). Every invalid value is reported, not only the
// first, and the error wraps ErrBadSetting.
func LoadSettings(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrBadSetting, name, fmt.Sprintf(format, args...)))
	}
	get := func(name string) (string, bool) {
		v := strings.TrimSpace(getenv(name))
		return v, v != ""
	}
	if v, ok := get("RISKY_PORTS"); ok {
		ports, err := ParsePorts(v)
		if err != nil {
			bad("RISKY_PORTS", "%v", err)
		}
		s.RiskyPorts = ports
	}
	if v, ok := get("DRY_RUN"); ok {
		b, err := parseBool(v)
		if err != nil {
			bad("DRY_RUN", "%v", err)
		}
		s.DryRun = b
	}
	if v, ok := get("EXEMPT_TAG"); ok {
		k, val, _ := strings.Cut(v, "=")
		s.ExemptKey, s.ExemptValue = strings.TrimSpace(k), strings.TrimSpace(val)
		if s.ExemptKey == "" {
			bad("EXEMPT_TAG", "%q has no tag key; want key=value or key", v)
		}
	}
	if v, ok := get("CONFIG_REGION"); ok {
		if !validRegion(v) {
			bad("CONFIG_REGION", "%q is not a region id", v)
		}
		s.ConfigRegion = v
	}
	for _, e := range []struct {
		name string
		dst  *string
	}{{"CONFIG_ENDPOINT", &s.ConfigEndpoint}, {"ECS_ENDPOINT", &s.ECSEndpoint}} {
		if v, ok := get(e.name); ok {
			if _, _, err := SplitEndpoint(v); err != nil {
				bad(e.name, "%v", err)
			}
			*e.dst = v
		}
	}
	if v, ok := get("MAX_CONCURRENCY"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			bad("MAX_CONCURRENCY", "%q: want a whole number from 1 to 64", v)
		}
		s.MaxConcurrency = n
	}
	if v, ok := get("ALLOWED_CIDRS"); ok {
		cidrs, err := ParseAllowedCIDRs(v)
		if err != nil {
			bad("ALLOWED_CIDRS", "%v", err)
		}
		s.AllowedCIDRs = cidrs
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
	return false, fmt.Errorf("%q is not a boolean; want true or false", v)
}

func validRegion(v string) bool {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return v != ""
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

// exempt reports whether the tags carry the exemption tag.
func (s *Settings) exempt(tags map[string][]string) bool {
	vals, ok := tags[s.ExemptKey]
	if !ok {
		return false
	}
	if s.ExemptValue == "" {
		return true
	}
	for _, v := range vals {
		if v == s.ExemptValue {
			return true
		}
	}
	return false
}
