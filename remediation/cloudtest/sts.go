package cloudtest

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)

// parseRoleArn splits acs:ram::<account>:role/<name>.
func parseRoleArn(arn string) (account, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "acs:ram::")
	if !ok {
		return "", "", false
	}
	account, name, ok = strings.Cut(rest, ":role/")
	if !ok || validAccountID(account) != nil || name == "" || strings.ContainsAny(name, "/:") {
		return "", "", false
	}
	return account, name, true
}

type stsCredentials struct{ AccessKeyId, AccessKeySecret, SecurityToken, Expiration string }

// assumeRole issues temporary credentials of a role's account, valid for
// that account only, until they expire or the caller's key is revoked.
func (s *Server) assumeRole(r *request) (any, *apiError) {
	p := r.params
	arn := p.Get("RoleArn")
	if arn == "" {
		return nil, missingParam("RoleArn")
	}
	account, name, ok := parseRoleArn(arn)
	if !ok {
		return nil, errorf(400, "InvalidParameter.RoleArn", "The parameter RoleArn %q is wrongly formed; want acs:ram::<account id>:role/<role name>.", arn)
	}
	session := p.Get("RoleSessionName")
	if session == "" {
		return nil, missingParam("RoleSessionName")
	}
	if !sessionNameRE.MatchString(session) {
		return nil, errorf(400, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName %q is wrongly formed: 2 to 64 of A-Z a-z 0-9 . @ - _.", session)
	}
	duration := 3600
	if d := p.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 3600 {
			return nil, errorf(400, "InvalidParameter.DurationSeconds", "The parameter DurationSeconds %q is not in 900..3600.", d)
		}
		duration = n
	}
	if pol := p.Get("Policy"); pol != "" && !json.Valid([]byte(pol)) {
		return nil, errorf(400, "InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check.")
	}

	now := time.Now()
	s.amu.Lock()
	defer s.amu.Unlock()
	var ro *role
	if a := s.accounts[account]; a != nil {
		ro = a.roles[name]
	}
	if ro == nil {
		return nil, errorf(404, "EntityNotExist.Role", "The role %q does not exist.", arn)
	}
	if !ro.trusted[r.caller.AccountID] {
		return nil, errorf(403, "NoPermission", "You are not authorized to do this action. The trust policy of %s does not admit account %s.", arn, r.caller.AccountID)
	}
	k := &accessKey{
		Key: Key{AccessKeyID: s.newKeyID("STS."), AccessKeySecret: randomString(44),
			SecurityToken: randomToken(90), AccountID: account},
		parent: r.caller, expires: now.Add(time.Duration(duration) * time.Second),
		role: name, roleID: ro.id, session: session,
	}
	s.keys[k.AccessKeyID] = k
	return struct {
		RequestId       string
		AssumedRoleUser struct{ Arn, AssumedRoleId string }
		Credentials     stsCredentials
	}{
		RequestId:       r.requestID,
		AssumedRoleUser: struct{ Arn, AssumedRoleId string }{"acs:ram::" + account + ":role/" + name + "/" + session, ro.id + ":" + session},
		Credentials:     stsCredentials{k.AccessKeyID, k.AccessKeySecret, k.SecurityToken, k.expires.UTC().Format(ecsTime)},
	}, nil
}

// getCallerIdentity says who signed: an account's key (IdentityType
// "Account") or AssumeRole credentials ("AssumedRoleUser").
func (s *Server) getCallerIdentity(r *request) (any, *apiError) {
	k := r.caller
	out := struct{ RequestId, AccountId, Arn, UserId, IdentityType, PrincipalId, RoleId string }{
		RequestId: r.requestID, AccountId: k.AccountID,
		Arn: "acs:ram::" + k.AccountID + ":root", UserId: k.AccountID, IdentityType: "Account", PrincipalId: k.AccountID,
	}
	if k.role != "" {
		out.Arn = "acs:ram::" + k.AccountID + ":assumed-role/" + k.role + "/" + k.session
		out.UserId = k.roleID + ":" + k.session
		out.PrincipalId = out.UserId
		out.RoleId = k.roleID
		out.IdentityType = "AssumedRoleUser"
	}
	return out, nil
}
