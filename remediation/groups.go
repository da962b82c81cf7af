package remediation

import (
	"context"
	"fmt"
	"net/netip"
)

// This file is the one home of the ECS quirks that the remediation, pin and
// restore share: paging the live rules, batches of at most 100, the
// all-or-nothing revoke, and the two answers to a duplicate authorize.

// maxIDsPerCall is the most rule IDs or permissions ECS takes in one call.
const maxIDsPerCall = 100

// maxPages bounds paging (a million rules), in case an API never ends it.
const maxPages = 1000

// Accounts hands out the ECS API signed for the account that owns a
// resource (section 6): no credential of one account ever signs a call on
// another account's group.
type Accounts interface {
	ECS(ctx context.Context, accountID string) (ECSAPI, error)
}

// OneAccount is Accounts for a single account.
type OneAccount struct{ API ECSAPI }

// ECS implements Accounts.
func (o OneAccount) ECS(context.Context, string) (ECSAPI, error) { return o.API, nil }

// ReadLiveRules reads every ingress rule of a live group, page by page,
// each page through retry.
func ReadLiveRules(ctx context.Context, retry RetryPolicy, ecs ECSAPI, region, groupID string) ([]Rule, error) {
	var rules []Rule
	token := ""
	for range maxPages {
		var page RulePage
		err := retry.Do(ctx, func(ctx context.Context) (err error) {
			page, err = ecs.DescribeSecurityGroupAttribute(ctx, region, groupID, token)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("DescribeSecurityGroupAttribute %s: %w", groupID, err)
		}
		rules = append(rules, page.Rules...)
		if page.NextToken == "" || page.NextToken == token {
			return rules, nil
		}
		token = page.NextToken
	}
	return nil, fmt.Errorf("DescribeSecurityGroupAttribute %s: more than %d pages", groupID, maxPages)
}

// indexByID maps each rule's SecurityGroupRuleId to the rule.
func indexByID(rules []Rule) map[string]*Rule {
	m := make(map[string]*Rule, len(rules))
	for i := range rules {
		m[rules[i].SecurityGroupRuleId] = &rules[i]
	}
	return m
}

// RevokeRules revokes ingress rules by id (SecurityGroupRuleId.N, never the
// attribute form) in calls of at most 100. A call with several IDs is all
// or nothing: when it fails because one rule is already gone, the live
// group is read again and the IDs that remain are revoked. It returns the
// IDs that were already gone.
func RevokeRules(ctx context.Context, retry RetryPolicy, ecs ECSAPI, region, groupID string, ids []string) (map[string]bool, error) {
	gone := map[string]bool{}
	for start := 0; start < len(ids); start += maxIDsPerCall {
		chunk := ids[start:min(start+maxIDsPerCall, len(ids))]
		for attempt := 0; len(chunk) > 0; attempt++ {
			err := retry.Do(ctx, func(ctx context.Context) error {
				return ecs.RevokeSecurityGroup(ctx, region, groupID, chunk)
			})
			if err == nil {
				break
			}
			if !IsRuleGone(err) {
				return gone, fmt.Errorf("RevokeSecurityGroup %s: %w", groupID, err)
			}
			if len(chunk) == 1 {
				gone[chunk[0]] = true
				break
			}
			// Each round removes at least the rule that failed the call, so
			// this ends; the bound guards against an API that lies.
			if attempt >= 3 {
				return gone, fmt.Errorf("RevokeSecurityGroup %s: rules keep vanishing: %w", groupID, err)
			}
			live, lerr := ReadLiveRules(ctx, retry, ecs, region, groupID)
			if lerr != nil {
				return gone, lerr
			}
			present := indexByID(live)
			var remain []string
			for _, id := range chunk {
				if present[id] != nil {
					remain = append(remain, id)
				} else {
					gone[id] = true
				}
			}
			chunk = remain
		}
	}
	return gone, nil
}

// AuthorizeRules creates ingress rules in calls of at most 100. An
// identical rule is answered with success or with a duplicate error,
// depending on the API version: both count as done. When a batch fails as a
// duplicate, its rules are created one by one.
func AuthorizeRules(ctx context.Context, retry RetryPolicy, ecs ECSAPI, region, groupID string, rules []Rule) error {
	call := func(batch []Rule) error {
		return retry.Do(ctx, func(ctx context.Context) error {
			return ecs.AuthorizeSecurityGroup(ctx, region, groupID, batch)
		})
	}
	for start := 0; start < len(rules); start += maxIDsPerCall {
		batch := rules[start:min(start+maxIDsPerCall, len(rules))]
		err := call(batch)
		if IsDuplicateRule(err) && len(batch) > 1 {
			err = nil
			for i := range batch {
				if e := call(batch[i : i+1]); e != nil && !IsDuplicateRule(e) {
					err = e
					break
				}
			}
		}
		if err != nil && !IsDuplicateRule(err) {
			return fmt.Errorf("AuthorizeSecurityGroup %s: %w", groupID, err)
		}
	}
	return nil
}

// NarrowRules returns the replacements of a wide rule in restrict mode: the
// same rule for each allowed CIDR of the rule's address family, its
// description naming the original rule.
func NarrowRules(wide Rule, allowed []netip.Prefix) []Rule {
	var out []Rule
	v6 := wide.internetSource() == internetV6 || wide.Ipv6SourceCidrIp != ""
	for _, p := range allowed {
		if p.Addr().Is6() != v6 {
			continue
		}
		n := wide
		n.SecurityGroupRuleId, n.CreateTime = "", ""
		n.SourceCidrIp, n.Ipv6SourceCidrIp = "", ""
		if v6 {
			n.Ipv6SourceCidrIp = p.String()
		} else {
			n.SourceCidrIp = p.String()
		}
		n.Description = "sg-remediation: narrowed from " + wide.SecurityGroupRuleId
		out = append(out, n)
	}
	return out
}

// ContainsRule reports whether rules hold a rule ECS would treat as want.
func ContainsRule(rules []Rule, want Rule) bool {
	for i := range rules {
		if SameRule(&rules[i], &want) {
			return true
		}
	}
	return false
}
