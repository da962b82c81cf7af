package remediation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// span is an inclusive range of ports.
type span struct{ lo, hi int }

func (s span) String() string {
	if s.lo == s.hi {
		return strconv.Itoa(s.lo)
	}
	return fmt.Sprintf("%d-%d", s.lo, s.hi)
}

// PortSet is a sorted list of disjoint, non-adjacent port ranges.
type PortSet []span

// DefaultRiskyPorts is the contract's default: SSH, RDP and MySQL.
const DefaultRiskyPorts = "22,3389,3306"

// ParsePorts parses a RISKY_PORTS value: comma-separated ports or ranges
// ("22,3389,1433-1434"), each within 1..65535. Spaces around items are allowed.
func ParsePorts(spec string) (PortSet, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("port list is empty")
	}
	var spans []span
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		a, errA := parsePort(lo)
		b, errB := parsePort(hi)
		if errA != nil || errB != nil || a > b {
			return nil, fmt.Errorf("invalid port or range %q: want a port 1..65535 or a range a-b with a <= b", item)
		}
		spans = append(spans, span{a, b})
	}
	return normalize(spans), nil
}

func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	// Atoi accepts a sign; a port never has one.
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return n, nil
}

// normalize sorts spans and merges overlapping or adjacent ones.
func normalize(spans []span) PortSet {
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	out := PortSet{spans[0]}
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.lo <= last.hi+1 {
			last.hi = max(last.hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// String renders the set in RISKY_PORTS syntax.
func (p PortSet) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// intersect returns the ports of p within [lo, hi].
func (p PortSet) intersect(lo, hi int) PortSet {
	var out PortSet
	for _, s := range p {
		a, b := max(s.lo, lo), min(s.hi, hi)
		if a <= b {
			out = append(out, span{a, b})
		}
	}
	return out
}

// subtract returns the ports of p outside [lo, hi].
func (p PortSet) subtract(lo, hi int) PortSet {
	var out PortSet
	for _, s := range p {
		if s.hi < lo || s.lo > hi {
			out = append(out, s)
			continue
		}
		if s.lo < lo {
			out = append(out, span{s.lo, lo - 1})
		}
		if s.hi > hi {
			out = append(out, span{hi + 1, s.hi})
		}
	}
	return out
}

// minus returns the ports of p that are not in q.
func (p PortSet) minus(q PortSet) PortSet {
	out := p
	for _, s := range q {
		out = out.subtract(s.lo, s.hi)
	}
	return out
}

// ParsePortRange parses an ECS PortRange ("22/22", "3000/4000", "-1/-1").
// "-1/-1" means every port and returns 1, 65535. A range written "0/b"
// (older records and other tools write full ranges so) reads as "1/b".
func ParsePortRange(s string) (lo, hi int, err error) {
	s = strings.TrimSpace(s)
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("invalid port range %q: want a/b", s)
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "-1" && b == "-1" {
		return 1, 65535, nil
	}
	if a == "0" {
		a = "1"
	}
	lo, errA := parsePort(a)
	hi, errB := parsePort(b)
	if errA != nil || errB != nil || lo > hi {
		return 0, 0, fmt.Errorf("invalid port range %q: want a/b with 1 <= a <= b <= 65535 (0/b reads as 1/b), or -1/-1", s)
	}
	return lo, hi, nil
}
