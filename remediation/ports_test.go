package remediation

import (
	"testing"
)

func TestParsePorts(t *testing.T) {
	tests := map[string]string{
		"22,3389,3306":           "22,3306,3389",
		" 22 , 3389 ":            "22,3389",
		"1433-1434":              "1433-1434",
		"22,21-23,3306,3307":     "21-23,3306-3307",
		"1-65535,22":             "1-65535",
		"22,3389,3306,5432,6379": "22,3306,3389,5432,6379",
	}
	for in, want := range tests {
		got, err := ParsePorts(in)
		if err != nil || got.String() != want {
			t.Errorf("ParsePorts(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " ", "0", "65536", "22,", "a", "-1", "5-3", "+22", "22-", "1--2", "99999"} {
		if p, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) = %v, want an error", bad, p)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	for in, want := range map[string][2]int{"22/22": {22, 22}, "3000/4000": {3000, 4000}, "-1/-1": {1, 65535}, "1/65535": {1, 65535}, "0/22": {1, 22}, "0/65535": {1, 65535}, " 22/22 ": {22, 22}} {
		lo, hi, err := ParsePortRange(in)
		if err != nil || lo != want[0] || hi != want[1] {
			t.Errorf("%q: %d %d %v", in, lo, hi, err)
		}
	}
	for _, bad := range []string{"", "22", "22/", "/22", "0/0", "22/65536", "30/20", "-1/22", "a/b", "22/22/22"} {
		if _, _, err := ParsePortRange(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestPortSetArithmetic(t *testing.T) {
	p := PortSet{{22, 22}, {3306, 3306}, {3389, 3389}}
	if got := p.intersect(3000, 4000).String(); got != "3306,3389" {
		t.Errorf("intersect = %s", got)
	}
	if got := p.subtract(3306, 3306).String(); got != "22,3389" {
		t.Errorf("subtract = %s", got)
	}
	if got := (PortSet{{1, 100}}).subtract(10, 20).String(); got != "1-9,21-100" {
		t.Errorf("subtract middle = %s", got)
	}
}

// FuzzParsePortRange: never panics; a success is always within 1..65535 and
// ordered.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"22/22", "-1/-1", "1/65535", "3000/4000", "", "/", "0/0", "65535/65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err == nil && (lo < 1 || hi > 65535 || lo > hi) {
			t.Fatalf("%q parsed to %d..%d", s, lo, hi)
		}
	})
}

// FuzzParsePorts: never panics; a success is a sorted list of disjoint
// ranges within 1..65535 that parses back to itself.
func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"22,3389,3306", "1433-1434", "1-65535", "22,,", "0", "70000", "5-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePorts(s)
		if err != nil {
			return
		}
		for i, sp := range p {
			if sp.lo < 1 || sp.hi > 65535 || sp.lo > sp.hi || i > 0 && sp.lo <= p[i-1].hi+1 {
				t.Fatalf("%q parsed to %v", s, p)
			}
		}
		again, err := ParsePorts(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("%q -> %s -> %v, %v", s, p, again, err)
		}
	})
}
