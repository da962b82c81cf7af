package cloudtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	configsdk "github.com/alibabacloud-go/config-20200907/v3/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

func configClientFor(tb testing.TB, s *cloudtest.Server, c creds) *configsdk.Client {
	tb.Helper()
	cl, err := configsdk.NewClient(sdkConfig(s, c))
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

func getDiscovered(c *configsdk.Client, id string) (*configsdk.GetDiscoveredResourceResponseBodyDiscoveredResourceDetail, error) {
	resp, err := c.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{
		Region: tea.String(region), ResourceId: tea.String(id), ResourceType: tea.String(cloudtest.SecurityGroupType)})
	if err != nil {
		return nil, err
	}
	return resp.Body.DiscoveredResourceDetail, nil
}

// getAggregate calls GetAggregateDiscoveredResource through the config
// client's generic CallApi (SDK v3.0.0 has no ResourceAccountId).
func getAggregate(c *configsdk.Client, q map[string]string) (map[string]any, error) {
	query := make(map[string]*string, len(q))
	for k, v := range q {
		query[k] = tea.String(v)
	}
	out, err := c.CallApi(rpcParams("GetAggregateDiscoveredResource", cloudtest.ConfigVersion, "GET"),
		&openapi.OpenApiRequest{Query: query}, &util.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	body, _ := out["body"].(map[string]any)
	d, _ := body["DiscoveredResourceDetail"].(map[string]any)
	if d == nil {
		return nil, fmt.Errorf("no DiscoveredResourceDetail in %v", out)
	}
	return d, nil
}

func TestGetAggregateDiscoveredResource(t *testing.T) {
	s := multiAccount(t)
	if err := s.AddAggregator("ca-rd", cloudtest.DefaultAccountID, member); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAggregator("ca-other", member2); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAggregator("ca-rd", member); err == nil {
		t.Error("duplicate aggregator accepted")
	}
	cc := configClient(t, s)
	q := func(id, account string, more ...string) map[string]string {
		m := map[string]string{"AggregatorId": "ca-rd", "ResourceId": id, "ResourceType": cloudtest.SecurityGroupType,
			"Region": region, "ResourceAccountId": account}
		for i := 0; i+1 < len(more); i += 2 {
			if more[i+1] == "" {
				delete(m, more[i])
			} else {
				m[more[i]] = more[i+1]
			}
		}
		return m
	}
	d, err := getAggregate(cc, q("sg-member", member, "ResourceOwnerId", member))
	if err != nil {
		t.Fatal(err)
	}
	// The same detail as GetDiscoveredResource, AccountId the owner.
	if fmt.Sprint(d["AccountId"]) != member { // a json.Number
		t.Errorf("AccountId %v", d["AccountId"])
	}
	var conf struct {
		SecurityGroupId string
		Permissions     struct {
			Permission []struct{ SecurityGroupRuleId string }
		}
	}
	if err := json.Unmarshal([]byte(fmt.Sprint(d["Configuration"])), &conf); err != nil || conf.SecurityGroupId != "sg-member" ||
		len(conf.Permissions.Permission) != 1 || conf.Permissions.Permission[0].SecurityGroupRuleId != "sgr-m22" {
		t.Errorf("Configuration %v (%v)", d["Configuration"], err)
	}
	if d["ResourceId"] != "sg-member" || d["Region"] != region || fmt.Sprint(d["ResourceDeleted"]) != "1" {
		t.Errorf("detail %v", d)
	}
	// The owner's own resources are part of its aggregator.
	if d, err := getAggregate(cc, q("sg-web", cloudtest.DefaultAccountID)); err != nil || d["ResourceId"] != "sg-web" {
		t.Fatalf("own resource: %v %v", d, err)
	}

	if err := s.AddKey(member, "member-ak", "member-secret", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		c      *configsdk.Client
		q      map[string]string
		status int
		code   string
	}{
		{"unknown aggregator", cc, q("sg-member", member, "AggregatorId", "ca-nope"), 404, "Invalid.AggregatorId.Value"},
		{"another account's aggregator", cc, q("sg-member2", member2, "AggregatorId", "ca-other"), 404, "Invalid.AggregatorId.Value"},
		{"caller not the owner", configClientFor(t, s, creds{"member-ak", "member-secret", ""}), q("sg-member", member), 404, "Invalid.AggregatorId.Value"},
		{"not a member", cc, q("sg-member2", member2), 404, "ResourceNotExist"},
		{"wrong owner named", cc, q("sg-member", cloudtest.DefaultAccountID), 404, "ResourceNotExist"},
		{"unknown resource", cc, q("sg-nope", member), 404, "ResourceNotExist"},
		{"other type", cc, q("sg-member", member, "ResourceType", "ACS::ECS::Instance"), 404, "ResourceNotExist"},
		{"owner ids disagree", cc, q("sg-member", member, "ResourceOwnerId", member2), 400, "InvalidParameter"},
		{"no ResourceAccountId", cc, q("sg-member", member, "ResourceAccountId", "", "ResourceOwnerId", member), 400, "MissingParameter"},
		{"bad ResourceAccountId", cc, q("sg-member", "abc"), 400, "InvalidParameter"},
		{"no AggregatorId", cc, q("sg-member", member, "AggregatorId", ""), 400, "MissingParameter"},
		{"no Region", cc, q("sg-member", member, "Region", ""), 400, "MissingParameter"},
	} {
		_, err := getAggregate(tc.c, tc.q)
		if st, code := apiErr(t, err); st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, code, tc.status, tc.code)
		}
	}
	if c := s.Calls()[0]; c.Action != "GetAggregateDiscoveredResource" || c.AccountID != cloudtest.DefaultAccountID || c.Params.Get("ResourceAccountId") != member {
		t.Errorf("call %+v", c)
	}
}

// putEvaluations calls PutEvaluations as wire.md says: CallApi, POST, form body.
func putEvaluations(c *openapi.Client, body map[string]any) (map[string]any, error) {
	out, err := c.CallApi(rpcParams("PutEvaluations", cloudtest.ConfigVersion, "POST"), &openapi.OpenApiRequest{Body: body}, &util.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	b, _ := out["body"].(map[string]any)
	return b, nil
}

func evalJSON(tb testing.TB, evs ...map[string]any) string {
	tb.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func goodEval() map[string]any {
	return map[string]any{
		"complianceResourceId": "sg-web", "complianceResourceType": cloudtest.SecurityGroupType, "complianceRegionId": region,
		"accountId": int64(1234567890123456), "complianceType": "NON_COMPLIANT", "orderingTimestamp": int64(1764500000000),
		"annotation": "exposes 22/tcp to 0.0.0.0/0 via sgr-ssh — «ünïcödé»",
	}
}

func TestPutEvaluations(t *testing.T) {
	s := newServer(t, cloudtest.Options{})
	cl, err := openapi.NewClient(sdkConfig(s, defaultCreds))
	if err != nil {
		t.Fatal(err)
	}
	tok := s.NewResultToken()
	if tok == "" || tok == s.NewResultToken() {
		t.Fatal("result tokens not unique")
	}
	second := goodEval()
	second["complianceType"], second["complianceResourceId"] = "COMPLIANT", "sg-flat"
	delete(second, "annotation") // optional
	body, err := putEvaluations(cl, map[string]any{"ResultToken": tok, "Evaluations": evalJSON(t, goodEval(), second), "DeleteMode": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if body["Result"] != true || body["RequestId"] == "" {
		t.Errorf("answer %v", body)
	}
	evs := s.Evaluations()
	if len(evs) != 2 {
		t.Fatalf("evaluations %+v", evs)
	}
	want := cloudtest.Evaluation{ComplianceResourceId: "sg-web", ComplianceResourceType: cloudtest.SecurityGroupType,
		ComplianceRegionId: region, AccountId: 1234567890123456, ComplianceType: "NON_COMPLIANT", OrderingTimestamp: 1764500000000,
		Annotation: goodEval()["annotation"].(string), ResultToken: tok, CallerAccountID: cloudtest.DefaultAccountID}
	if evs[0] != want {
		t.Errorf("evaluation\n got %+v\nwant %+v", evs[0], want)
	}
	if evs[1].ComplianceType != "COMPLIANT" || evs[1].Annotation != "" {
		t.Errorf("second %+v", evs[1])
	}
	// 256 characters (not bytes) are fine.
	long := goodEval()
	long["annotation"] = strings.Repeat("é", 256)
	if _, err := putEvaluations(cl, map[string]any{"ResultToken": tok, "Evaluations": evalJSON(t, long)}); err != nil {
		t.Errorf("256-character annotation: %v", err)
	}

	with := func(k string, v any) string {
		e := goodEval()
		if v == nil {
			delete(e, k)
		} else {
			e[k] = v
		}
		return evalJSON(t, e)
	}
	hundredOne := make([]map[string]any, 101)
	for i := range hundredOne {
		hundredOne[i] = goodEval()
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"unknown token", map[string]any{"ResultToken": "forged", "Evaluations": evalJSON(t, goodEval())}, 400, "Invalid.ResultToken"},
		{"no token", map[string]any{"Evaluations": evalJSON(t, goodEval())}, 400, "MissingParameter"},
		{"no evaluations", map[string]any{"ResultToken": tok}, 400, "MissingParameter"},
		{"not JSON", map[string]any{"ResultToken": tok, "Evaluations": "[{"}, 400, "InvalidParameter"},
		{"object, not array", map[string]any{"ResultToken": tok, "Evaluations": `{"complianceResourceId":"sg-web"}`}, 400, "InvalidParameter"},
		{"empty array", map[string]any{"ResultToken": tok, "Evaluations": "[]"}, 400, "InvalidParameter"},
		{"101 evaluations", map[string]any{"ResultToken": tok, "Evaluations": evalJSON(t, hundredOne...)}, 400, "InvalidParameter"},
		{"bad compliance type", map[string]any{"ResultToken": tok, "Evaluations": with("complianceType", "INSUFFICIENT_DATA")}, 400, "InvalidParameter"},
		{"no resource id", map[string]any{"ResultToken": tok, "Evaluations": with("complianceResourceId", nil)}, 400, "InvalidParameter"},
		{"bad resource type", map[string]any{"ResultToken": tok, "Evaluations": with("complianceResourceType", "SecurityGroup")}, 400, "InvalidParameter"},
		{"no region", map[string]any{"ResultToken": tok, "Evaluations": with("complianceRegionId", "")}, 400, "InvalidParameter"},
		{"account as string", map[string]any{"ResultToken": tok, "Evaluations": with("accountId", "1234567890123456")}, 400, "InvalidParameter"},
		{"no account", map[string]any{"ResultToken": tok, "Evaluations": with("accountId", nil)}, 400, "InvalidParameter"},
		{"timestamp in seconds", map[string]any{"ResultToken": tok, "Evaluations": with("orderingTimestamp", 1764500000)}, 400, "InvalidParameter"},
		{"fractional timestamp", map[string]any{"ResultToken": tok, "Evaluations": with("orderingTimestamp", 1764500000000.5)}, 400, "InvalidParameter"},
		{"annotation too long", map[string]any{"ResultToken": tok, "Evaluations": with("annotation", strings.Repeat("x", 257))}, 400, "InvalidParameter"},
		{"unknown field", map[string]any{"ResultToken": tok, "Evaluations": with("complianceResourceName", "x")}, 400, "InvalidParameter"},
		{"bad DeleteMode", map[string]any{"ResultToken": tok, "Evaluations": evalJSON(t, goodEval()), "DeleteMode": "maybe"}, 400, "InvalidParameter"},
	} {
		_, err := putEvaluations(cl, tc.body)
		if st, code := apiErr(t, err); st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s (%v)", tc.name, st, code, tc.status, tc.code, err)
		}
	}
	if n := len(s.Evaluations()); n != 3 {
		t.Errorf("%d evaluations recorded after the refused calls, want 3", n)
	}
	// The ACS3 signature covers the form body.
	form := url.Values{"ResultToken": {tok}, "Evaluations": {evalJSON(t, goodEval())}}.Encode()
	if st, m := rawCall(t, s, defaultCreds, "POST", "PutEvaluations", cloudtest.ConfigVersion, nil, form, nil); st != 200 {
		t.Fatalf("raw: %d %v", st, m)
	}
	st, m := rawCall(t, s, defaultCreds, "POST", "PutEvaluations", cloudtest.ConfigVersion, nil, form, func(r *http.Request) {
		r.Body = nopCloser{strings.NewReader(strings.Replace(form, "sg-web", "sg-xyz", 1))}
	})
	if st != 403 || m["Code"] != "SignatureDoesNotMatch" {
		t.Errorf("body changed after signing: %d %v", st, m)
	}
	if n := len(s.Evaluations()); n != 4 {
		t.Errorf("%d evaluations, want 4", n)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
