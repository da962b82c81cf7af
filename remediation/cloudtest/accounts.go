package cloudtest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// DefaultAccountID owns the credentials of Options and every group that
// names no account.
const DefaultAccountID = "1234567890123456"

// Key is a set of credentials and the account they act for.
type Key struct {
	AccessKeyID, AccessKeySecret string
	// SecurityToken is empty for a long-term key; STS credentials carry one.
	SecurityToken string
	AccountID     string
}

// accessKey is the server's state of one key.
type accessKey struct {
	Key
	parent  *accessKey // the caller's key for AssumeRole credentials
	revoked bool
	expires time.Time // zero: never
	// role and session are set on AssumeRole credentials.
	role, roleID, session string
}

// deadReason tells why a key may no longer sign ("" = it may). The caller
// holds s.amu.
func (k *accessKey) deadReason(now time.Time) string {
	for c := k; c != nil; c = c.parent {
		switch {
		case c.revoked && c == k:
			return "revoked"
		case c.revoked:
			return "the credentials it was assumed with were revoked"
		case !c.expires.IsZero() && now.After(c.expires):
			return "expired"
		}
	}
	return ""
}

type account struct {
	roles map[string]*role
}

type role struct {
	account, name, id string
	trusted           map[string]bool
}

type aggregator struct {
	id, owner string
	members   map[string]bool
}

// validAccountID: a decimal int64, as Config serves account ids.
func validAccountID(id string) error {
	if id == "" {
		return errors.New("cloudtest: empty account id")
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return fmt.Errorf("cloudtest: account id %q is not decimal", id)
		}
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return fmt.Errorf("cloudtest: account id %q is not an int64", id)
	}
	return nil
}

// AddAccount adds a member account (with no keys or roles). Adding an
// existing account does nothing. Loading a group of an unknown account adds
// that account too.
func (s *Server) AddAccount(id string) error {
	if err := validAccountID(id); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	s.addAccountLocked(id)
	return nil
}

func (s *Server) addAccountLocked(id string) *account {
	a := s.accounts[id]
	if a == nil {
		a = &account{roles: make(map[string]*role)}
		s.accounts[id] = a
	}
	return a
}

// Accounts returns the ids of the known accounts, sorted.
func (s *Server) Accounts() []string {
	s.amu.RLock()
	defer s.amu.RUnlock()
	out := make([]string, 0, len(s.accounts))
	for id := range s.accounts {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// AddKey adds credentials of an existing account. With a non-empty token
// the key behaves as STS credentials (the token must come with every
// call); a call with a revoked one answers InvalidSecurityToken.Expired
// instead of InvalidAccessKeyId.NotFound.
func (s *Server) AddKey(accountID, ak, secret, token string) error {
	if ak == "" || secret == "" {
		return errors.New("cloudtest: AddKey needs an access key id and a secret")
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if s.accounts[accountID] == nil {
		return fmt.Errorf("cloudtest: unknown account %q", accountID)
	}
	if s.keys[ak] != nil {
		return fmt.Errorf("cloudtest: access key %q exists", ak)
	}
	s.keys[ak] = &accessKey{Key: Key{AccessKeyID: ak, AccessKeySecret: secret, SecurityToken: token, AccountID: accountID}}
	return nil
}

// RevokeKey makes a key unusable, and with it every credential AssumeRole
// issued to it (they "expire with the invocation's").
func (s *Server) RevokeKey(ak string) error {
	s.amu.Lock()
	defer s.amu.Unlock()
	k := s.keys[ak]
	if k == nil {
		return fmt.Errorf("cloudtest: unknown access key %q", ak)
	}
	k.revoked = true
	return nil
}

// RotateKey revokes a key (as RevokeKey) and returns new credentials of
// the same account, with a security token if the old key had one: what FC
// does to an invocation's credentials.
func (s *Server) RotateKey(ak string) (Key, error) {
	s.amu.Lock()
	defer s.amu.Unlock()
	old := s.keys[ak]
	if old == nil {
		return Key{}, fmt.Errorf("cloudtest: unknown access key %q", ak)
	}
	if old.revoked {
		return Key{}, fmt.Errorf("cloudtest: access key %q is already revoked", ak)
	}
	old.revoked = true
	nk := &accessKey{Key: Key{AccessKeySecret: randomString(30), AccountID: old.AccountID},
		parent: old.parent, expires: old.expires, role: old.role, roleID: old.roleID, session: old.session}
	prefix := "LTAI"
	if old.SecurityToken != "" {
		prefix = "STS."
		nk.SecurityToken = randomToken(90)
	}
	nk.AccessKeyID = s.newKeyID(prefix)
	s.keys[nk.AccessKeyID] = nk
	return nk.Key, nil
}

// newKeyID returns an unused access key id. The caller holds s.amu.
func (s *Server) newKeyID(prefix string) string {
	for {
		id := prefix + randomString(24)
		if s.keys[id] == nil {
			return id
		}
	}
}

// AddRole adds a RAM role to an account. trustedAccounts may assume it;
// with none, only the role's own account may.
func (s *Server) AddRole(accountID, roleName string, trustedAccounts ...string) error {
	if roleName == "" {
		return errors.New("cloudtest: empty role name")
	}
	for _, t := range trustedAccounts {
		if err := validAccountID(t); err != nil {
			return err
		}
	}
	if len(trustedAccounts) == 0 {
		trustedAccounts = []string{accountID}
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		return fmt.Errorf("cloudtest: unknown account %q", accountID)
	}
	r := &role{account: accountID, name: roleName, id: "3" + randomDigits(18), trusted: make(map[string]bool)}
	for _, t := range trustedAccounts {
		r.trusted[t] = true
	}
	a.roles[roleName] = r
	return nil
}

// AddAggregator adds a Config account group owned by ownerAccount. The
// owner's own resources are always part of it; members lists the others.
func (s *Server) AddAggregator(id, ownerAccount string, members ...string) error {
	if id == "" {
		return errors.New("cloudtest: empty aggregator id")
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if s.accounts[ownerAccount] == nil {
		return fmt.Errorf("cloudtest: unknown account %q", ownerAccount)
	}
	if s.aggregators[id] != nil {
		return fmt.Errorf("cloudtest: aggregator %q exists", id)
	}
	ag := &aggregator{id: id, owner: ownerAccount, members: map[string]bool{ownerAccount: true}}
	for _, m := range members {
		if s.accounts[m] == nil {
			return fmt.Errorf("cloudtest: unknown member account %q", m)
		}
		ag.members[m] = true
	}
	s.aggregators[id] = ag
	return nil
}

// NewResultToken issues a token PutEvaluations accepts, as Cloud Config
// puts one in each evaluation event.
func (s *Server) NewResultToken() string {
	tok := randomString(64)
	s.amu.Lock()
	s.resultTokens[tok] = true
	s.amu.Unlock()
	return tok
}

// Evaluation is one evaluation PutEvaluations recorded.
type Evaluation struct {
	ComplianceResourceId   string
	ComplianceResourceType string
	ComplianceRegionId     string
	AccountId              int64
	ComplianceType         string
	OrderingTimestamp      int64 // ms since the epoch
	Annotation             string
	// ResultToken, DeleteMode and CallerAccountID are the call's.
	ResultToken     string
	DeleteMode      bool
	CallerAccountID string
}

// Evaluations returns the evaluations recorded so far, in call order.
func (s *Server) Evaluations() []Evaluation {
	s.amu.RLock()
	defer s.amu.RUnlock()
	return slices.Clone(s.evaluations)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("cloudtest: crypto/rand failed"))
	}
	for i, c := range b {
		b[i] = alnum[int(c)%len(alnum)]
	}
	return string(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("cloudtest: crypto/rand failed"))
	}
	for i, c := range b {
		b[i] = '0' + c%10
	}
	return string(b)
}

// randomToken is an opaque base64 token (security tokens look like this).
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("cloudtest: crypto/rand failed"))
	}
	return base64.StdEncoding.EncodeToString(b)
}
