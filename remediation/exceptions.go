package remediation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Exception is an accepted risk (contract section 7): exposure that is kept,
// with who accepted it, why, and until when. It is read from EXCEPTIONS.
type Exception struct {
	Group   string `json:"group"`
	Rule    string `json:"rule,omitempty"`
	Ports   string `json:"ports,omitempty"`
	Region  string `json:"region,omitempty"`
	Account string `json:"account,omitempty"`
	Until   string `json:"until"`
	Owner   string `json:"owner"`
	Reason  string `json:"reason"`

	ports PortSet   // nil: every port
	end   time.Time // the last instant the exception holds
}

// ParseUntil reads an end date: "YYYY-MM-DD" holds through the end of that
// day (UTC); an RFC 3339 time holds through that instant. It returns the
// last instant covered.
func ParseUntil(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d.Add(24*time.Hour - time.Nanosecond), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD or an RFC 3339 time)", v)
}

// ParseExceptions reads EXCEPTIONS: a JSON array of exceptions, strictly
// (unknown fields are refused, to catch typos). An exception may end at most
// maxDays days after today (UTC); one already expired is valid and has no
// effect. Every invalid entry is reported, by index and group.
func ParseExceptions(v string, now time.Time, maxDays int) ([]Exception, error) {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	var list []Exception
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("not a JSON array of exceptions: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a JSON array of exceptions: text after the array")
	}
	y, m, d := now.UTC().Date()
	limit := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, maxDays+1).Add(-time.Nanosecond)
	var errs []error
	for i := range list {
		if err := list[i].check(limit, maxDays); err != nil {
			errs = append(errs, fmt.Errorf("entry %d (group %q): %w", i, list[i].Group, err))
		}
	}
	return list, errors.Join(errs...)
}

func (e *Exception) check(limit time.Time, maxDays int) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, f := range []struct{ name, v string }{{"group", e.Group}, {"until", e.Until}, {"owner", e.Owner}, {"reason", e.Reason}} {
		if strings.TrimSpace(f.v) == "" {
			bad("%s is required", f.name)
		}
	}
	if e.Group != "" && !ValidGroupID(e.Group) {
		bad("group %q is not a security group id", e.Group)
	}
	if e.Region != "" && !ValidRegion(e.Region) {
		bad("region %q is not a region id", e.Region)
	}
	if e.Account != "" && !ValidAccountID(e.Account) {
		bad("account %q is not a 16-digit account id", e.Account)
	}
	if e.Ports != "" {
		p, err := ParsePorts(e.Ports)
		if err != nil {
			bad("ports: %v", err)
		}
		e.ports = p
	}
	if e.Until != "" {
		end, err := ParseUntil(e.Until)
		switch {
		case err != nil:
			bad("until: %v", err)
		case end.After(limit):
			bad("until %s is more than MAX_EXCEPTION_DAYS (%d) days after today", e.Until, maxDays)
		}
		e.end = end
	}
	return errors.Join(errs...)
}

// matches reports whether the exception names this rule of this resource.
func (e *Exception) matches(res Resource, ruleID string) bool {
	return e.Group == res.ResourceID &&
		(e.Region == "" || e.Region == res.RegionID) &&
		(e.Account == "" || e.Account == res.AccountID) &&
		(e.Rule == "" || e.Rule == ruleID)
}

// String is how a reason names the exception.
func (e *Exception) String() string {
	return fmt.Sprintf("until %s by %s: %s", e.Until, e.Owner, e.Reason)
}

// except applies the exceptions to a risky decision (section 7): it is kept
// (Excepted) when unexpired exceptions cover every port it exposes; else it
// stays risky and its reason says what was excepted, what was not, and which
// exceptions expired.
func except(d Decision, res Resource, exceptions []Exception, now time.Time) Decision {
	if !d.Risky {
		return d
	}
	var active []*Exception
	var notes []string
	for i := range exceptions {
		e := &exceptions[i]
		if !e.matches(res, d.Rule.SecurityGroupRuleId) {
			continue
		}
		if now.After(e.end) {
			notes = append(notes, fmt.Sprintf("the exception by %s (%s) expired %s", e.Owner, e.Reason, e.Until))
			continue
		}
		active = append(active, e)
	}
	var covered, open []string
	for _, x := range d.exposed {
		rest := PortSet{x.ports}
		for _, e := range active {
			if e.ports == nil {
				rest = nil
				break
			}
			rest = rest.minus(e.ports)
		}
		for _, s := range (PortSet{x.ports}).minus(rest) {
			covered = append(covered, s.String()+"/"+x.proto)
		}
		for _, s := range rest {
			open = append(open, s.String()+"/"+x.proto)
		}
	}
	switch {
	case len(active) > 0 && len(open) == 0:
		d.Risky, d.Excepted = false, active[0]
		d.Reason = fmt.Sprintf("excepted %s (%s)", active[0], d.Reason)
	case len(covered) > 0:
		notes = append(notes, fmt.Sprintf("%s excepted %s; %s not", strings.Join(covered, ", "), active[0], strings.Join(open, ", ")))
	}
	if len(notes) > 0 && d.Excepted == nil {
		d.Reason += "; " + strings.Join(notes, "; ")
	}
	return d
}

// exemption decides whether tags exempt a group (section 2 and 7): the
// exemption tag, until the date in "<key>-until" when there is one. An
// end date that is not a date voids the exemption (fail closed). note says
// why a tagged group is not exempt, or until when it is.
func (s *Settings) exemption(tags map[string][]string, now time.Time) (exempt bool, note string) {
	if !s.exemptTagged(tags) {
		return false, ""
	}
	tag := s.ExemptTag()
	until := tags[s.ExemptKey+"-until"]
	if len(until) == 0 {
		return true, "exempt: carries tag " + tag
	}
	end, err := ParseUntil(until[0])
	switch {
	case err != nil:
		return false, fmt.Sprintf("exemption tag %s is void: %s-until: %v", tag, s.ExemptKey, err)
	case now.After(end):
		return false, fmt.Sprintf("exemption tag %s expired %s", tag, strings.TrimSpace(until[0]))
	}
	return true, fmt.Sprintf("exempt: carries tag %s until %s", tag, strings.TrimSpace(until[0]))
}

func (s *Settings) exemptTagged(tags map[string][]string) bool {
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

// ExemptTag is the exemption tag as written in EXEMPT_TAG.
func (s *Settings) ExemptTag() string {
	if s.ExemptValue == "" {
		return s.ExemptKey
	}
	return s.ExemptKey + "=" + s.ExemptValue
}
