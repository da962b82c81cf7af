package cloudtest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	configsdk "github.com/alibabacloud-go/config-20200907/v3/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	openapiutil "github.com/alibabacloud-go/openapi-util/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const region = "cn-hangzhou"

func noProxy(tb testing.TB) {
	tb.Helper()
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		tb.Setenv(k, "")
	}
}

func newServer(tb testing.TB, opts cloudtest.Options) *cloudtest.Server {
	tb.Helper()
	noProxy(tb)
	s, err := cloudtest.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

type creds struct{ ak, secret, token string }

var defaultCreds = creds{"test-ak", "test-secret", ""}

func sdkConfig(s *cloudtest.Server, c creds) *openapi.Config {
	cfg := &openapi.Config{
		AccessKeyId:     tea.String(c.ak),
		AccessKeySecret: tea.String(c.secret),
		Endpoint:        tea.String(s.Endpoint()),
		Protocol:        tea.String("http"),
		RegionId:        tea.String(region),
		NoProxy:         tea.String(s.Endpoint()),
	}
	if c.token != "" {
		cfg.SecurityToken = tea.String(c.token)
	}
	return cfg
}

func ecsClient(tb testing.TB, s *cloudtest.Server, c creds) *ecs.Client {
	tb.Helper()
	cl, err := ecs.NewClient(sdkConfig(s, c))
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

func configClient(tb testing.TB, s *cloudtest.Server) *configsdk.Client {
	tb.Helper()
	cl, err := configsdk.NewClient(sdkConfig(s, defaultCreds))
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

// apiErr returns the HTTP status and code of an SDK error.
func apiErr(tb testing.TB, err error) (int, string) {
	tb.Helper()
	if err == nil {
		tb.Fatal("call succeeded, want an error")
	}
	var se *tea.SDKError
	if !errors.As(err, &se) {
		tb.Fatalf("not an SDK error: %v", err)
	}
	return tea.IntValue(se.StatusCode), tea.StringValue(se.Code)
}

func wantErr(tb testing.TB, err error, status int, code string) {
	tb.Helper()
	st, c := apiErr(tb, err)
	if st != status || c != code {
		tb.Fatalf("got %d %s, want %d %s (%v)", st, c, status, code, err)
	}
}

func load(tb testing.TB, s *cloudtest.Server, fixture string) {
	tb.Helper()
	if err := s.Load(strings.NewReader(fixture)); err != nil {
		tb.Fatal(err)
	}
}

// describeAll lists every rule of a group through the typed client.
func describeAll(tb testing.TB, c *ecs.Client, id, dir string) []*ecs.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission {
	tb.Helper()
	var out []*ecs.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String(id), MaxResults: tea.Int32(1000)}
	if dir != "" {
		req.Direction = tea.String(dir)
	}
	for {
		resp, err := c.DescribeSecurityGroupAttribute(req)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, resp.Body.Permissions.Permission...)
		if tea.StringValue(resp.Body.NextToken) == "" {
			return out
		}
		req.NextToken = resp.Body.NextToken
	}
}

func revokeIDs(c *ecs.Client, id string, ruleIDs ...string) error {
	_, err := c.RevokeSecurityGroup(&ecs.RevokeSecurityGroupRequest{
		RegionId: tea.String(region), SecurityGroupId: tea.String(id), SecurityGroupRuleId: tea.StringSlice(ruleIDs),
	})
	return err
}

func authorize(c *ecs.Client, id string, perms ...*ecs.AuthorizeSecurityGroupRequestPermissions) error {
	_, err := c.AuthorizeSecurityGroup(&ecs.AuthorizeSecurityGroupRequest{
		RegionId: tea.String(region), SecurityGroupId: tea.String(id), Permissions: perms,
	})
	return err
}

func perm(proto, ports, cidr string) *ecs.AuthorizeSecurityGroupRequestPermissions {
	return &ecs.AuthorizeSecurityGroupRequestPermissions{IpProtocol: tea.String(proto), PortRange: tea.String(ports), SourceCidrIp: tea.String(cidr)}
}

// rawCall sends a request signed with the SDK's own GetAuthorization;
// tamper (optional) may change the request after signing.
func rawCall(tb testing.TB, s *cloudtest.Server, c creds, method, action, version string, query url.Values, body string, tamper func(*http.Request)) (int, map[string]any) {
	tb.Helper()
	q := make(map[string]*string)
	for k := range query {
		q[k] = tea.String(query.Get(k))
	}
	sum := sha256.Sum256([]byte(body))
	hdr := map[string]*string{
		"host":                  tea.String(s.Endpoint()),
		"x-acs-action":          tea.String(action),
		"x-acs-version":         tea.String(version),
		"x-acs-date":            tea.String(time.Now().UTC().Format("2006-01-02T15:04:05Z")),
		"x-acs-signature-nonce": tea.String(fmt.Sprint(time.Now().UnixNano())),
		"x-acs-content-sha256":  tea.String(hex.EncodeToString(sum[:])),
	}
	if body != "" {
		hdr["content-type"] = tea.String("application/x-www-form-urlencoded")
	}
	treq := tea.NewRequest()
	treq.Method, treq.Pathname, treq.Query, treq.Headers = tea.String(method), tea.String("/"), q, hdr
	auth := openapiutil.GetAuthorization(treq, tea.String("ACS3-HMAC-SHA256"), hdr["x-acs-content-sha256"], tea.String(c.ak), tea.String(c.secret))

	hr, err := http.NewRequest(method, s.URL()+"/?"+query.Encode(), strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		if k != "host" {
			hr.Header.Set(k, *v)
		}
	}
	hr.Header.Set("Authorization", *auth)
	if tamper != nil {
		tamper(hr)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(hr)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		tb.Errorf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("body %s: %v", b, err)
	}
	if m["RequestId"] == "" || m["RequestId"] == nil {
		tb.Errorf("no RequestId in %s", b)
	}
	return resp.StatusCode, m
}

// rpcRawCall sends an STS call signed with the legacy RPC signature the
// way the SDK does (openapi-util GetRPCSignature); tamper (optional) may
// change the signed query afterwards.
func rpcRawCall(tb testing.TB, s *cloudtest.Server, c creds, method, action string, params url.Values, tamper func(url.Values)) (int, map[string]any) {
	tb.Helper()
	q := url.Values{"Action": {action}, "Version": {cloudtest.STSVersion}, "Format": {"json"},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}, "SignatureNonce": {fmt.Sprint(time.Now().UnixNano())},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "AccessKeyId": {c.ak}}
	if c.token != "" {
		q.Set("SecurityToken", c.token)
	}
	for k := range params {
		q.Set(k, params.Get(k))
	}
	signed := make(map[string]*string, len(q))
	for k := range q {
		signed[k] = tea.String(q.Get(k))
	}
	q.Set("Signature", *openapiutil.GetRPCSignature(signed, tea.String(method), tea.String(c.secret)))
	if tamper != nil {
		tamper(q)
	}
	hr, err := http.NewRequest(method, s.URL()+"/?"+q.Encode(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(hr)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("body %s: %v", b, err)
	}
	return resp.StatusCode, m
}
