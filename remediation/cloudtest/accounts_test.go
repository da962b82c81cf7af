package cloudtest_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	sts "github.com/alibabacloud-go/sts-20150401/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const (
	member     = "2000000000000002"
	member2    = "3000000000000003"
	memberRole = "sg-remediation"
)

func stsClient(tb testing.TB, s *cloudtest.Server, c creds) *sts.Client {
	tb.Helper()
	cl, err := sts.NewClient(sdkConfig(s, c))
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

func keyCreds(k cloudtest.Key) creds { return creds{k.AccessKeyID, k.AccessKeySecret, k.SecurityToken} }

func roleArn(account, name string) string { return "acs:ram::" + account + ":role/" + name }

func assume(c *sts.Client, arn, session string, seconds int64) (*sts.AssumeRoleResponseBody, error) {
	req := &sts.AssumeRoleRequest{RoleArn: tea.String(arn), RoleSessionName: tea.String(session)}
	if seconds != 0 {
		req.DurationSeconds = tea.Int64(seconds)
	}
	resp, err := c.AssumeRole(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// multiAccount: sg-web etc. in the default account, sg-member in member
// (trusting the default account's role assumption), sg-member2 in member2
// (whose role trusts nobody but itself).
func multiAccount(t *testing.T) *cloudtest.Server {
	t.Helper()
	s := newServer(t, cloudtest.Options{})
	load(t, s, fixture)
	load(t, s, `{"groups":[
	 {"SecurityGroupId":"sg-member","RegionId":"cn-hangzhou","accountId":"`+member+`",
	  "Permissions":[{"SecurityGroupRuleId":"sgr-m22","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0"}]},
	 {"SecurityGroupId":"sg-member2","RegionId":"cn-hangzhou","AccountId":"`+member2+`"}]}`)
	for _, err := range []error{
		s.AddRole(member, memberRole, cloudtest.DefaultAccountID),
		s.AddRole(member2, memberRole),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func describeReq(id string) *ecs.DescribeSecurityGroupAttributeRequest {
	return &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String(id)}
}

func TestAccountsIsolateGroups(t *testing.T) {
	s := multiAccount(t)
	if got := s.Accounts(); !slices.Equal(got, []string{cloudtest.DefaultAccountID, member, member2}) {
		t.Fatalf("accounts %v (groups add their owners)", got)
	}
	if err := s.AddKey(member, "member-ak", "member-secret", ""); err != nil {
		t.Fatal(err)
	}
	def, mem := ecsClient(t, s, defaultCreds), ecsClient(t, s, creds{"member-ak", "member-secret", ""})
	if _, err := def.DescribeSecurityGroupAttribute(describeReq("sg-web")); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.DescribeSecurityGroupAttribute(describeReq("sg-member")); err != nil {
		t.Fatal(err)
	}
	// Another account's group does not exist for the caller, for reads and writes.
	_, err := def.DescribeSecurityGroupAttribute(describeReq("sg-member"))
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	_, err = mem.DescribeSecurityGroupAttribute(describeReq("sg-web"))
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	wantErr(t, revokeIDs(def, "sg-member", "sgr-m22"), 404, "InvalidSecurityGroupId.NotFound")
	wantErr(t, authorize(mem, "sg-web", perm("TCP", "80/80", "10.0.0.0/8")), 404, "InvalidSecurityGroupId.NotFound")
	if got := liveIDs(t, s, "sg-member"); !slices.Equal(got, []string{"sgr-m22"}) {
		t.Errorf("sg-member changed by another account: %v", got)
	}
	if err := revokeIDs(mem, "sg-member", "sgr-m22"); err != nil {
		t.Fatal(err)
	}
	// Config: only the own account's resources.
	cfg := configClientFor(t, s, creds{"member-ak", "member-secret", ""})
	if _, err := getDiscovered(cfg, "sg-member"); err != nil {
		t.Fatal(err)
	}
	_, err = getDiscovered(cfg, "sg-web")
	wantErr(t, err, 404, "ResourceNotExist")
	_, err = getDiscovered(configClient(t, s), "sg-member")
	wantErr(t, err, 404, "ResourceNotExist")

	// The call log names the caller's account and key.
	for _, c := range s.Calls() {
		want := cloudtest.DefaultAccountID
		if c.AccessKeyID == "member-ak" {
			want = member
		} else if c.AccessKeyID != "test-ak" {
			t.Errorf("call %s by key %q", c.Action, c.AccessKeyID)
		}
		if c.AccountID != want {
			t.Errorf("call %s by %s recorded account %q, want %q", c.Action, c.AccessKeyID, c.AccountID, want)
		}
	}

	for name, err := range map[string]error{
		"unknown account":  s.AddKey("4000000000000004", "k", "s", ""),
		"duplicate key":    s.AddKey(member, "test-ak", "s", ""),
		"empty secret":     s.AddKey(member, "k2", "", ""),
		"bad account":      s.AddAccount("12ab"),
		"role of nobody":   s.AddRole("4000000000000004", "r"),
		"bad trusted":      s.AddRole(member, "r", "x"),
		"revoke unknown":   s.RevokeKey("nope"),
		"aggregator owner": s.AddAggregator("ca-1", "4000000000000004"),
		"unknown member":   s.AddAggregator("ca-1", member, "4000000000000004"),
		"group account":    s.AddGroupFor("-1", cloudtest.Group{SecurityGroupId: "sg-x", RegionId: region}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestAssumeRole(t *testing.T) {
	s := multiAccount(t)
	sc := stsClient(t, s, defaultCreds)
	before := time.Now()
	body, err := assume(sc, roleArn(member, memberRole), "sg-remediation", 900)
	if err != nil {
		t.Fatal(err)
	}
	cr := body.Credentials
	assumed := creds{tea.StringValue(cr.AccessKeyId), tea.StringValue(cr.AccessKeySecret), tea.StringValue(cr.SecurityToken)}
	if !strings.HasPrefix(assumed.ak, "STS.") || assumed.secret == "" || assumed.token == "" {
		t.Fatalf("credentials %v", cr)
	}
	exp, err := time.Parse(time.RFC3339, tea.StringValue(cr.Expiration))
	if err != nil || exp.Before(before.Add(899*time.Second)) || exp.After(time.Now().Add(901*time.Second)) {
		t.Errorf("Expiration %q (%v)", tea.StringValue(cr.Expiration), err)
	}
	if arn := tea.StringValue(body.AssumedRoleUser.Arn); arn != roleArn(member, memberRole)+"/sg-remediation" {
		t.Errorf("AssumedRoleUser.Arn %q", arn)
	}
	if id := tea.StringValue(body.AssumedRoleUser.AssumedRoleId); !strings.HasSuffix(id, ":sg-remediation") {
		t.Errorf("AssumedRoleId %q", id)
	}

	// The assumed key acts for the member account only.
	mc := ecsClient(t, s, assumed)
	if _, err := mc.DescribeSecurityGroupAttribute(describeReq("sg-member")); err != nil {
		t.Fatal(err)
	}
	_, err = mc.DescribeSecurityGroupAttribute(describeReq("sg-web"))
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	_, err = mc.DescribeSecurityGroupAttribute(describeReq("sg-member2"))
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	// The token is required with the assumed key, and checked.
	_, err = ecsClient(t, s, creds{assumed.ak, assumed.secret, ""}).DescribeSecurityGroupAttribute(describeReq("sg-member"))
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")
	_, err = ecsClient(t, s, creds{assumed.ak, assumed.secret, assumed.token + "x"}).DescribeSecurityGroupAttribute(describeReq("sg-member"))
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")

	// GetCallerIdentity, with a long-term key and with the assumed one (its
	// security token travels in the signed query: base64 with + / =).
	id, err := sc.GetCallerIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if b := id.Body; tea.StringValue(b.AccountId) != cloudtest.DefaultAccountID || tea.StringValue(b.Arn) != "acs:ram::"+cloudtest.DefaultAccountID+":root" ||
		tea.StringValue(b.UserId) == "" || tea.StringValue(b.RequestId) == "" {
		t.Errorf("identity %v", b)
	}
	id, err = stsClient(t, s, assumed).GetCallerIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if b := id.Body; tea.StringValue(b.AccountId) != member || tea.StringValue(b.Arn) != "acs:ram::"+member+":assumed-role/"+memberRole+"/sg-remediation" ||
		tea.StringValue(b.UserId) != tea.StringValue(body.AssumedRoleUser.AssumedRoleId) || tea.StringValue(b.IdentityType) != "AssumedRoleUser" {
		t.Errorf("assumed identity %v", b)
	}

	// Errors.
	for _, tc := range []struct {
		arn, session string
		secs         int64
		status       int
		code         string
	}{
		{roleArn(member2, memberRole), "s1", 0, 403, "NoPermission"},
		{roleArn(member, "nope"), "s1", 0, 404, "EntityNotExist.Role"},
		{roleArn("5000000000000005", memberRole), "s1", 0, 404, "EntityNotExist.Role"},
		{"acs:ram::" + member + ":user/x", "s1", 0, 400, "InvalidParameter.RoleArn"},
		{"arn:aws:iam::1:role/x", "s1", 0, 400, "InvalidParameter.RoleArn"},
		{roleArn(member, memberRole), "a", 0, 400, "InvalidParameter.RoleSessionName"},
		{roleArn(member, memberRole), "has space", 0, 400, "InvalidParameter.RoleSessionName"},
		{roleArn(member, memberRole), strings.Repeat("x", 65), 0, 400, "InvalidParameter.RoleSessionName"},
		{roleArn(member, memberRole), "s1", 899, 400, "InvalidParameter.DurationSeconds"},
		{roleArn(member, memberRole), "s1", 3601, 400, "InvalidParameter.DurationSeconds"},
	} {
		_, err := assume(sc, tc.arn, tc.session, tc.secs)
		st, code := apiErr(t, err)
		if st != tc.status || code != tc.code {
			t.Errorf("AssumeRole(%s, %q, %d): %d %s, want %d %s", tc.arn, tc.session, tc.secs, st, code, tc.status, tc.code)
		}
	}
	if _, err := assume(sc, roleArn(member, memberRole), "a.b@c_d-e", 3600); err != nil {
		t.Errorf("valid session name refused: %v", err)
	}
	// Role chaining from the assumed key: member's role trusts only the default account.
	_, err = assume(stsClient(t, s, assumed), roleArn(member, memberRole), "again", 0)
	wantErr(t, err, 403, "NoPermission")

	// The call log: STS calls are recorded with their parameters, without the
	// signature machinery (no secret token in the log).
	var n int
	for _, c := range s.Calls() {
		if c.Action != "AssumeRole" {
			continue
		}
		n++
		if c.Params.Get("RoleArn") == "" || c.Params.Has("Signature") || c.Params.Has("SecurityToken") || c.Params.Has("AccessKeyId") {
			t.Errorf("AssumeRole params %v", c.Params)
		}
	}
	if n != 13 || s.CallCount("AssumeRole") != 13 {
		t.Errorf("%d AssumeRole calls logged, count %d", n, s.CallCount("AssumeRole"))
	}
}

func TestAssumedKeysDieWithTheCallers(t *testing.T) {
	s := multiAccount(t)
	// An FC-like invocation key: STS credentials of the default account.
	if err := s.AddKey(cloudtest.DefaultAccountID, "STS.invocation", "inv-secret", "inv-token"); err != nil {
		t.Fatal(err)
	}
	inv := creds{"STS.invocation", "inv-secret", "inv-token"}
	body, err := assume(stsClient(t, s, inv), roleArn(member, memberRole), "sg-remediation", 0)
	if err != nil {
		t.Fatal(err)
	}
	cr := body.Credentials
	assumed := creds{tea.StringValue(cr.AccessKeyId), tea.StringValue(cr.AccessKeySecret), tea.StringValue(cr.SecurityToken)}
	mc := ecsClient(t, s, assumed)
	if _, err := mc.DescribeSecurityGroupAttribute(describeReq("sg-member")); err != nil {
		t.Fatal(err)
	}

	// FC rotates the invocation's credentials: the old ones and every key
	// assumed with them stop working; the new ones work.
	nk, err := s.RotateKey("STS.invocation")
	if err != nil {
		t.Fatal(err)
	}
	if nk.AccountID != cloudtest.DefaultAccountID || nk.SecurityToken == "" || nk.AccessKeyID == "STS.invocation" {
		t.Fatalf("rotated key %+v", nk)
	}
	_, err = mc.DescribeSecurityGroupAttribute(describeReq("sg-member"))
	wantErr(t, err, 400, "InvalidSecurityToken.Expired")
	_, err = ecsClient(t, s, inv).DescribeSecurityGroupAttribute(describeReq("sg-web"))
	wantErr(t, err, 400, "InvalidSecurityToken.Expired")
	_, err = stsClient(t, s, inv).GetCallerIdentity()
	wantErr(t, err, 400, "InvalidSecurityToken.Expired")
	if _, err := ecsClient(t, s, keyCreds(nk)).DescribeSecurityGroupAttribute(describeReq("sg-web")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey("STS.invocation"); err == nil {
		t.Error("rotating a revoked key succeeded")
	}
	// A deleted long-term key is not found.
	if err := s.RevokeKey("test-ak"); err != nil {
		t.Fatal(err)
	}
	_, err = ecsClient(t, s, defaultCreds).DescribeSecurityGroupAttribute(describeReq("sg-web"))
	wantErr(t, err, 404, "InvalidAccessKeyId.NotFound")
}

func TestSTSSignature(t *testing.T) {
	s := multiAccount(t)
	// Wrong secret: the legacy signature does not match.
	_, err := stsClient(t, s, creds{"test-ak", "wrong", ""}).GetCallerIdentity()
	wantErr(t, err, 403, "SignatureDoesNotMatch")
	_, err = stsClient(t, s, creds{"nobody", "test-secret", ""}).GetCallerIdentity()
	wantErr(t, err, 404, "InvalidAccessKeyId.NotFound")
	_, err = stsClient(t, s, creds{"test-ak", "test-secret", "tok"}).GetCallerIdentity()
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")

	// STS also takes ACS3 (a generic client with the default signature).
	cl, err := openapi.NewClient(sdkConfig(s, defaultCreds))
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"RoleArn": roleArn(member, memberRole), "RoleSessionName": "acs3"}
	out, err := cl.CallApi(rpcParams("AssumeRole", cloudtest.STSVersion, "POST"), &openapi.OpenApiRequest{Query: openapiQuery(q)}, &util.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := out["body"].(map[string]any); b == nil || b["Credentials"] == nil {
		t.Fatalf("ACS3 AssumeRole: %v", out)
	}

	// ECS and Config take only ACS3: a legacy-signed ECS call is refused.
	v2 := sdkConfig(s, defaultCreds)
	v2.SignatureAlgorithm = tea.String("v2")
	cl2, err := openapi.NewClient(v2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl2.CallApi(rpcParams("DescribeSecurityGroupAttribute", cloudtest.ECSVersion, "POST"),
		&openapi.OpenApiRequest{Query: openapiQuery(map[string]any{"RegionId": region, "SecurityGroupId": "sg-web"})}, &util.RuntimeOptions{})
	wantErr(t, err, 400, "IncompleteSignature")
	// The same generic client reaches STS with the legacy signature.
	if _, err = cl2.CallApi(rpcParams("GetCallerIdentity", cloudtest.STSVersion, "POST"), &openapi.OpenApiRequest{}, &util.RuntimeOptions{}); err != nil {
		t.Fatal(err)
	}
	// A header naming another action than the signed Action is refused.
	cl2.Headers = map[string]*string{"x-acs-action": tea.String("AssumeRole")}
	_, err = cl2.CallApi(rpcParams("GetCallerIdentity", cloudtest.STSVersion, "POST"), &openapi.OpenApiRequest{}, &util.RuntimeOptions{})
	wantErr(t, err, 400, "InvalidParameter")

	// Raw legacy-signed calls, signed with the SDK's own GetRPCSignature.
	good := url.Values{"RoleArn": {roleArn(member, memberRole)}, "RoleSessionName": {"raw"}, "Policy": {`{"Statement": [{"Action": "ecs:*"}]}`}}
	if st, m := rpcRawCall(t, s, defaultCreds, "POST", "AssumeRole", good, nil); st != 200 {
		t.Fatalf("raw signed AssumeRole: %d %v", st, m)
	}
	if st, m := rpcRawCall(t, s, defaultCreds, "GET", "GetCallerIdentity", nil, nil); st != 200 || m["AccountId"] != cloudtest.DefaultAccountID {
		t.Fatalf("raw signed GET: %d %v", st, m)
	}
	for name, tc := range map[string]struct {
		tamper func(url.Values)
		status int
		code   string
	}{
		"param changed":  {func(q url.Values) { q.Set("RoleSessionName", "other") }, 403, "SignatureDoesNotMatch"},
		"param added":    {func(q url.Values) { q.Set("DurationSeconds", "900") }, 403, "SignatureDoesNotMatch"},
		"nonce changed":  {func(q url.Values) { q.Set("SignatureNonce", "x") }, 403, "SignatureDoesNotMatch"},
		"signature":      {func(q url.Values) { q.Set("Signature", "AAAA") }, 403, "SignatureDoesNotMatch"},
		"no nonce":       {func(q url.Values) { q.Del("SignatureNonce") }, 400, "MissingParameter"},
		"bad timestamp":  {func(q url.Values) { q.Set("Timestamp", "2026-01-01 10:00:00") }, 400, "InvalidTimeStamp.Format"},
		"sha256 method":  {func(q url.Values) { q.Set("SignatureMethod", "HMAC-SHA256") }, 400, "InvalidParameter.SignatureMethod"},
		"version 2.0":    {func(q url.Values) { q.Set("SignatureVersion", "2.0") }, 400, "InvalidParameter.SignatureVersion"},
		"unknown key":    {func(q url.Values) { q.Set("AccessKeyId", "nobody") }, 404, "InvalidAccessKeyId.NotFound"},
		"unsigned token": {func(q url.Values) { q.Set("SecurityToken", "tok") }, 403, "InvalidSecurityToken.Mismatch"},
	} {
		st, m := rpcRawCall(t, s, defaultCreds, "POST", "AssumeRole", good, tc.tamper)
		if st != tc.status || m["Code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", name, st, m, tc.status, tc.code)
		}
	}
}

// TestSTSFaults: FailNext, latency, quota and hooks apply to STS like to any action.
func TestSTSFaults(t *testing.T) {
	s := multiAccount(t)
	sc := stsClient(t, s, defaultCreds)
	s.FailNext("AssumeRole", 1, 503, "ServiceUnavailable")
	_, err := assume(sc, roleArn(member, memberRole), "s1", 0)
	wantErr(t, err, 503, "ServiceUnavailable")
	var hooked url.Values
	s.Before("AssumeRole", func(p url.Values) { hooked = p })
	if _, err := assume(sc, roleArn(member, memberRole), "s1", 0); err != nil {
		t.Fatal(err)
	}
	if hooked.Get("RoleSessionName") != "s1" {
		t.Errorf("hook saw %v", hooked)
	}
	s.SetLatency(30 * time.Millisecond)
	start := time.Now()
	if _, err := sc.GetCallerIdentity(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("GetCallerIdentity took %v with 30ms latency", d)
	}
	s.SetLatency(0)
	s.SetQuota(1)
	sc.GetCallerIdentity()
	_, err = sc.GetCallerIdentity()
	wantErr(t, err, 400, "Throttling.User")
}

func rpcParams(action, version, method string) *openapi.Params {
	return &openapi.Params{Action: tea.String(action), Version: tea.String(version), Protocol: tea.String("HTTPS"),
		Pathname: tea.String("/"), Method: tea.String(method), AuthType: tea.String("AK"), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("json")}
}

func openapiQuery(m map[string]any) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = tea.String(v)
		default:
			panic(errors.New("openapiQuery: strings only"))
		}
	}
	return out
}

// TestAccountsConcurrency: AssumeRole, ECS calls with assumed keys and key
// rotation at once (run with -race). Every call either succeeds or fails
// with the expiry code; none is served for the wrong account.
func TestAccountsConcurrency(t *testing.T) {
	s := multiAccount(t)
	if err := s.AddKey(cloudtest.DefaultAccountID, "STS.inv", "inv-secret", "inv-token"); err != nil {
		t.Fatal(err)
	}
	inv := creds{"STS.inv", "inv-secret", "inv-token"}
	const workers, rounds = 8, 40
	errs := make(chan error, workers*rounds*2)
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			sc := stsClient(t, s, inv)
			for range rounds {
				body, err := assume(sc, roleArn(member, memberRole), fmt.Sprintf("w%d", w), 0)
				if err != nil {
					errs <- err
					continue
				}
				cr := body.Credentials
				_, err = ecsClient(t, s, creds{tea.StringValue(cr.AccessKeyId), tea.StringValue(cr.AccessKeySecret), tea.StringValue(cr.SecurityToken)}).
					DescribeSecurityGroupAttribute(describeReq("sg-member"))
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	// Rotate once some ECS calls went through, while the others are running.
	for deadline := time.Now().Add(10 * time.Second); s.CallCount("DescribeSecurityGroupAttribute") < workers && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.RotateKey("STS.inv"); err != nil {
		t.Fatal(err)
	}
	for range workers {
		<-done
	}
	close(errs)
	for err := range errs {
		if st, code := apiErr(t, err); st != 400 || code != "InvalidSecurityToken.Expired" {
			t.Errorf("got %d %s", st, code)
		}
	}
	for _, c := range s.Calls() {
		switch {
		case c.Action == "AssumeRole" && c.Status == 200 && c.AccountID != cloudtest.DefaultAccountID,
			c.Action == "DescribeSecurityGroupAttribute" && c.Status == 200 && c.AccountID != member:
			t.Errorf("%s served for account %q", c.Action, c.AccountID)
		}
	}
	ok, expired := 0, 0
	for _, c := range s.Calls() {
		switch {
		case c.Status == 200:
			ok++
		case c.Code == "InvalidSecurityToken.Expired":
			expired++
		}
	}
	if ok < 2*workers || expired == 0 {
		t.Errorf("%d calls succeeded, %d expired: the rotation did not fall among the calls", ok, expired)
	}
}
