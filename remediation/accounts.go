package remediation

import (
	"context"
	"fmt"
	"sync"
)

// STSAPI is the STS call of account group mode (section 6).
type STSAPI interface {
	// AssumeRole returns credentials of roleArn's account, signed with the
	// caller's (the invocation's) credentials.
	AssumeRole(ctx context.Context, roleArn, sessionName string, durationSeconds int) (AssumedCredentials, error)
}

// AssumedCredentials are the temporary keys of a member account. They are
// never logged.
type AssumedCredentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

// Session parameters of AssumeRole (section 6).
const (
	RoleSessionName     = "sg-remediation"
	RoleDurationSeconds = 900 // the least STS grants: the keys die soon after the invocation
)

// MemberAccounts implements Accounts for account group mode: the own
// account's groups are called with the invocation's credentials; a member's
// with the credentials of MEMBER_ROLE_NAME in that account, assumed at most
// once per invocation (lazily, concurrent callers wait for the one call).
// A refusal is remembered for the rest of the invocation. Build one per
// invocation: assumed keys die with the invocation's credentials.
type MemberAccounts struct {
	own      string
	ownECS   ECSAPI
	roleName string
	sts      STSAPI
	retry    RetryPolicy
	newECS   func(AssumedCredentials) (ECSAPI, error)

	mu      sync.Mutex
	members map[string]*member
}

type member struct {
	once sync.Once
	ecs  ECSAPI
	err  error
}

// NewMemberAccounts returns the Accounts of one invocation. own is the
// function's account (resources without accountId belong to it); newECS
// builds the ECS adapter signed with a member's assumed credentials.
func NewMemberAccounts(own string, ownECS ECSAPI, roleName string, sts STSAPI, retry RetryPolicy,
	newECS func(AssumedCredentials) (ECSAPI, error)) *MemberAccounts {
	return &MemberAccounts{own: own, ownECS: ownECS, roleName: roleName, sts: sts, retry: retry, newECS: newECS, members: map[string]*member{}}
}

// RoleArn is the role assumed in a member account.
func RoleArn(accountID, roleName string) string {
	return "acs:ram::" + accountID + ":role/" + roleName
}

// ECS implements Accounts.
func (m *MemberAccounts) ECS(ctx context.Context, accountID string) (ECSAPI, error) {
	if accountID == "" || accountID == m.own {
		return m.ownECS, nil
	}
	if m.roleName == "" {
		return nil, fmt.Errorf("the group belongs to member account %s and MEMBER_ROLE_NAME is not set: no ECS call made", accountID)
	}
	m.mu.Lock()
	mem, ok := m.members[accountID]
	if !ok {
		mem = &member{}
		m.members[accountID] = mem
	}
	m.mu.Unlock()
	mem.once.Do(func() {
		arn := RoleArn(accountID, m.roleName)
		var cred AssumedCredentials
		err := m.retry.Do(ctx, func(ctx context.Context) (err error) {
			cred, err = m.sts.AssumeRole(ctx, arn, RoleSessionName, RoleDurationSeconds)
			return err
		})
		if err != nil {
			mem.err = fmt.Errorf("AssumeRole %s: %w", arn, err)
			return
		}
		mem.ecs, mem.err = m.newECS(cred)
	})
	return mem.ecs, mem.err
}
