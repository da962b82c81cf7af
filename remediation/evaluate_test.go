package remediation_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// evaluator is an Evaluator on the env's emulator with the real SDK clients.
func (e *env) evaluator(t testing.TB) *remediation.Evaluator {
	t.Helper()
	ev, err := remediation.NewEvaluator(e.settings, e.cloud(t), slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ev.Retry = remediation.RetryPolicy{Base: time.Millisecond, Ceiling: 20 * time.Millisecond, TransientAttempts: 3}
	return ev
}

// evalEvent builds the event Config sends a CUSTOM_FC rule for group g, its
// configuration in the event (COMMON) unless oversize.
func evalEvent(t testing.TB, token string, g cloudtest.Group, oversize, invokingAsString bool) []byte {
	t.Helper()
	tags := []map[string]string{}
	for k, v := range g.Tags {
		tags = append(tags, map[string]string{"TagKey": k, "TagValue": v})
	}
	doc, err := json.Marshal(map[string]any{
		"SecurityGroupId": g.SecurityGroupId, "RegionId": g.RegionId, "ServiceManaged": g.ServiceManaged,
		"Tags": map[string]any{"Tag": tags}, "Permissions": map[string]any{"Permission": g.Permissions},
	})
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]any{
		"accountId": 1234567890123456, "regionId": g.RegionId, "resourceId": g.SecurityGroupId,
		"resourceType": remediation.SecurityGroupType, "resourceName": "web", "resourceStatus": "ResourceDiscovered",
		"captureTime": 1764460800000, "tags": g.Tags,
	}
	cfgType := "COMMON"
	if oversize {
		cfgType = "OVERSIZE"
	} else {
		item["configuration"] = string(doc)
	}
	var invoking any = map[string]any{
		"messageType": "ConfigurationItemChangeNotification", "configurationType": cfgType,
		"accountId": 1234567890123456, "notificationCreationTimestamp": 1764460800000, "configurationItem": item,
	}
	if invokingAsString {
		b, _ := json.Marshal(invoking)
		invoking = string(b)
	}
	payload, err := json.Marshal(map[string]any{
		"invokingEvent": invoking, "ruleParameters": map[string]string{"ports": "22,3389,3306"},
		"resultToken": token, "orderingTimestamp": 1764460800123,
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

func (e *env) evaluate(t testing.TB, payload []byte) (*remediation.EvaluationReport, error) {
	t.Helper()
	if !remediation.IsEvaluationEvent(payload) {
		t.Fatalf("not told apart as an evaluation: %s", payload)
	}
	ev, err := remediation.DecodeEvaluation(payload)
	if err != nil {
		t.Fatal(err)
	}
	return e.evaluator(t).Evaluate(context.Background(), ev, 0)
}

// Each row of the decision table through an evaluation event: the verdict,
// the annotation, the recorded evaluation, and never an ECS call.
func TestEvaluationDecisionTable(t *testing.T) {
	drop := func(r *cloudtest.Rule) { r.Policy = "Drop" }
	prio := func(p int) func(*cloudtest.Rule) {
		return func(r *cloudtest.Rule) { r.Priority = cloudtest.Priority(p) }
	}
	tests := []struct {
		name, want string
		rules      []cloudtest.Rule
		annotation []string
	}{
		{"1 egress is not exposure", remediation.IsCompliant, []cloudtest.Rule{rule("e", "TCP", "22/22", "0.0.0.0/0", func(r *cloudtest.Rule) { r.Direction = "egress" })}, []string{"no rule exposes"}},
		{"2 drop protects", remediation.IsCompliant, []cloudtest.Rule{rule("d", "TCP", "22/22", "0.0.0.0/0", drop)}, []string{"no rule exposes"}},
		{"3 narrow source", remediation.IsCompliant, []cloudtest.Rule{rule("n", "TCP", "22/22", "10.0.0.0/8")}, nil},
		{"3 ipv6 internet", remediation.NonCompliant, []cloudtest.Rule{rule("sgr-6", "TCP", "22/22", "::/0")}, []string{"exposes 22/tcp to ::/0 via sgr-6"}},
		{"4 icmp", remediation.IsCompliant, []cloudtest.Rule{rule("i", "ICMP", "-1/-1", "0.0.0.0/0")}, nil},
		{"5 range covers 3306", remediation.NonCompliant, []cloudtest.Rule{rule("sgr-r", "TCP", "3000/4000", "0.0.0.0/0")}, []string{"exposes 3306/tcp, 3389/tcp to 0.0.0.0/0 via sgr-r"}},
		{"5 web port", remediation.IsCompliant, []cloudtest.Rule{rule("w", "TCP", "443/443", "0.0.0.0/0")}, nil},
		{"6 shadowed by drop", remediation.IsCompliant, []cloudtest.Rule{rule("a", "TCP", "22/22", "0.0.0.0/0", prio(10)), rule("sgr-d", "TCP", "22/22", "0.0.0.0/0", drop, prio(1))},
			[]string{"Drop rule sgr-d priority 1 blocks 22/tcp"}},
		{"6 drop loses", remediation.NonCompliant, []cloudtest.Rule{rule("sgr-a", "TCP", "22/22", "0.0.0.0/0", prio(1)), rule("d", "TCP", "22/22", "0.0.0.0/0", drop, prio(5))}, []string{"via sgr-a"}},
		{"unreadable range", remediation.NonCompliant, []cloudtest.Rule{rule("sgr-u", "TCP", "22", "0.0.0.0/0")}, []string{"cannot read the port range", "sgr-u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			g := group("sg-eval", tt.rules...)
			tok := e.srv.NewResultToken()
			rep, err := e.evaluate(t, evalEvent(t, tok, g, false, false))
			if err != nil {
				t.Fatal(err)
			}
			if rep.ComplianceType != tt.want {
				t.Errorf("verdict %s (%s), want %s", rep.ComplianceType, rep.Annotation, tt.want)
			}
			for _, s := range tt.annotation {
				if !strings.Contains(rep.Annotation, s) {
					t.Errorf("annotation %q lacks %q", rep.Annotation, s)
				}
			}
			evs := e.srv.Evaluations()
			if len(evs) != 1 {
				t.Fatalf("%d evaluations recorded", len(evs))
			}
			got := evs[0]
			if got.ResultToken != tok || got.ComplianceType != tt.want || got.ComplianceResourceId != "sg-eval" || got.ComplianceRegionId != region ||
				got.AccountId != 1234567890123456 || got.OrderingTimestamp != 1764460800123 || got.Annotation != rep.Annotation ||
				got.ComplianceResourceType != remediation.SecurityGroupType {
				t.Errorf("recorded %+v", got)
			}
			assertNoECSCall(t, e.srv)
			if n := e.srv.CallCount("GetDiscoveredResource"); n != 0 {
				t.Errorf("COMMON event read the configuration %d times", n)
			}
		})
	}
}

func assertNoECSCall(t *testing.T, srv *cloudtest.Server) {
	t.Helper()
	for _, c := range srv.Calls() {
		if c.Action != "GetDiscoveredResource" && c.Action != "GetAggregateDiscoveredResource" && c.Action != "PutEvaluations" {
			t.Errorf("evaluation made a call other than a Config read or PutEvaluations: %s", c.Action)
		}
	}
}

func TestEvaluationOversizeReadsConfig(t *testing.T) {
	g := group("sg-big", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"))
	e := newEnv(t, g)
	rep, err := e.evaluate(t, evalEvent(t, e.srv.NewResultToken(), g, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if rep.ComplianceType != remediation.NonCompliant || e.srv.CallCount("GetDiscoveredResource") != 1 {
		t.Errorf("verdict %s, %d reads", rep.ComplianceType, e.srv.CallCount("GetDiscoveredResource"))
	}
	assertNoECSCall(t, e.srv)
}

func TestEvaluationNotApplicable(t *testing.T) {
	open := group("sg-na", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"))
	managed := open
	managed.ServiceManaged = true
	for name, tc := range map[string]struct {
		g    cloudtest.Group
		edit func(item map[string]any)
	}{
		"managed": {managed, nil},
		"deleted": {open, func(item map[string]any) { item["resourceStatus"] = "ResourceDeleted" }},
		"type":    {open, func(item map[string]any) { item["resourceType"] = "ACS::ECS::Instance" }},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			payload := evalEvent(t, e.srv.NewResultToken(), tc.g, false, false)
			if tc.edit != nil {
				var m map[string]any
				if err := json.Unmarshal(payload, &m); err != nil {
					t.Fatal(err)
				}
				tc.edit(m["invokingEvent"].(map[string]any)["configurationItem"].(map[string]any))
				payload, _ = json.Marshal(m)
			}
			rep, err := e.evaluate(t, payload)
			if err != nil || rep.ComplianceType != remediation.NotApplicable || rep.Annotation == "" {
				t.Fatalf("%v %+v", err, rep)
			}
			if evs := e.srv.Evaluations(); len(evs) != 1 || evs[0].ComplianceType != remediation.NotApplicable {
				t.Errorf("recorded %+v", evs)
			}
			assertNoECSCall(t, e.srv)
		})
	}
}

// Exempt and excepted exposure is real and accepted: NON_COMPLIANT, the
// annotation saying by whom and until when.
func TestEvaluationAcceptedRisk(t *testing.T) {
	g := group("sg-acc", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0"))
	e := newEnv(t)
	now := time.Now().UTC()
	until := now.AddDate(0, 0, 10).Format(time.DateOnly)
	e.settings.Exceptions, _ = remediation.ParseExceptions(`[{"group":"sg-acc","until":"`+until+`","owner":"alice","reason":"vendor VPN"}]`, now, 90)
	rep, err := e.evaluate(t, evalEvent(t, e.srv.NewResultToken(), g, false, false))
	if err != nil || rep.ComplianceType != remediation.NonCompliant || !strings.Contains(rep.Annotation, "excepted until "+until+" by alice: vendor VPN") {
		t.Errorf("excepted: %v %+v", err, rep)
	}

	e = newEnv(t)
	g.Tags = map[string]string{"sg-remediation": "exempt", "sg-remediation-until": until}
	rep, err = e.evaluate(t, evalEvent(t, e.srv.NewResultToken(), g, false, false))
	if err != nil || rep.ComplianceType != remediation.NonCompliant || !strings.Contains(rep.Annotation, "until "+until) || !strings.Contains(rep.Annotation, "via sgr-ssh") {
		t.Errorf("exempt: %v %+v", err, rep)
	}
}

func TestEvaluationLongAnnotationIsCut(t *testing.T) {
	var rules []cloudtest.Rule
	for i := range 40 {
		rules = append(rules, rule("sgr-long-rule-id-"+strings.Repeat("x", 10)+string(rune('a'+i%26))+string(rune('a'+i/26)), "TCP", "22/22", "0.0.0.0/0"))
	}
	e := newEnv(t)
	rep, err := e.evaluate(t, evalEvent(t, e.srv.NewResultToken(), group("sg-long", rules...), false, false))
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(rep.Annotation); n != remediation.MaxAnnotation || !strings.HasSuffix(rep.Annotation, "…") {
		t.Errorf("annotation of %d characters: %q", n, rep.Annotation)
	}
}

func TestEvaluationThrottledThenAccepted(t *testing.T) {
	e := newEnv(t)
	e.srv.FailNext("PutEvaluations", 2, 400, "Throttling.User")
	rep, err := e.evaluate(t, evalEvent(t, e.srv.NewResultToken(), group("sg-t", rule("sgr-ssh", "TCP", "22/22", "0.0.0.0/0")), false, false))
	if err != nil || rep.ComplianceType != remediation.NonCompliant {
		t.Fatalf("%v %+v", err, rep)
	}
	if n := e.srv.CallCount("PutEvaluations"); n != 3 || len(e.srv.Evaluations()) != 1 {
		t.Errorf("%d calls, %d recorded", n, len(e.srv.Evaluations()))
	}
}

func TestEvaluationUnknownTokenFails(t *testing.T) {
	e := newEnv(t)
	_, err := e.evaluate(t, evalEvent(t, "not-a-token", group("sg-t"), false, false))
	if err == nil || !strings.Contains(err.Error(), "PutEvaluations sg-t") {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeEvaluationBadInput(t *testing.T) {
	for name, payload := range map[string]string{
		"no token":       `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1","regionId":"r"}},"resultToken":""}`,
		"no resource":    `{"invokingEvent":{"configurationItem":{"regionId":"r"}},"resultToken":"t"}`,
		"no region":      `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1"}},"resultToken":"t"}`,
		"bad region":     `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1","regionId":"CN HZ"}},"resultToken":"t"}`,
		"bad account":    `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1","regionId":"r","accountId":12}},"resultToken":"t"}`,
		"invoking junk":  `{"invokingEvent":"{not json","resultToken":"t"}`,
		"truncated":      `{"invokingEvent":{"configurationItem":{`,
		"bad timestamp":  `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1","regionId":"r"}},"resultToken":"t","orderingTimestamp":"x"}`,
		"params not obj": `{"invokingEvent":{"configurationItem":{"resourceId":"sg-1","regionId":"r"}},"resultToken":"t","ruleParameters":[1]}`,
	} {
		if _, err := remediation.DecodeEvaluation([]byte(payload)); !errors.Is(err, remediation.ErrBadEvent) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if remediation.IsEvaluationEvent([]byte(`[{"regionId":"r","resourceId":"sg-1"}]`)) || remediation.IsEvaluationEvent([]byte(`{"resultToken":"t"}`)) {
		t.Error("a remediation event taken for an evaluation")
	}
}

// BenchmarkEvaluation1000Rules: one evaluation of a 1000-rule configuration
// carried in the event (COMMON): decode, judge, PutEvaluations to the
// emulator. The CPU per evaluation is the figure.
func BenchmarkEvaluation1000Rules(b *testing.B) {
	var rules []cloudtest.Rule
	for i := range 1000 {
		rules = append(rules, rule("sgr-"+strings.Repeat("0", 4)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)),
			"TCP", []string{"80/80", "443/443", "22/22", "3000/4000"}[i%4], []string{"0.0.0.0/0", "10.0.0.0/8"}[i%2]))
	}
	e := newEnv(b)
	payload := evalEvent(b, e.srv.NewResultToken(), group("sg-bench", rules...), false, false)
	b.ReportAllocs()
	for b.Loop() {
		ev, err := remediation.DecodeEvaluation(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.evaluator(b).Evaluate(context.Background(), ev, 0); err != nil {
			b.Fatal(err)
		}
	}
}
