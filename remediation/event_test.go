package remediation

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeEvent(t *testing.T) {
	one := `{"regionId":"cn-hangzhou","accountId":"1234567890123456","resourceId":"sg-1","resourceType":"ACS::ECS::SecurityGroup","configRuleId":"cr-1","complianceType":"NON_COMPLIANT"}`
	double, _ := json.Marshal("[" + one + "]")
	tests := []struct {
		name    string
		payload string
		ids     string
		errHas  string
	}{
		{name: "array", payload: "[" + one + "]", ids: "sg-1"},
		{name: "single object", payload: one, ids: "sg-1"},
		{name: "double-encoded", payload: string(double), ids: "sg-1"},
		{name: "account as number", payload: `[{"regionId":"cn-hangzhou","accountId":1234567890123456,"resourceId":"sg-2"}]`, ids: "sg-2"},
		{name: "capitalized keys", payload: `{"RegionId":"cn-beijing","ResourceId":"sg-3"}`, ids: "sg-3"},
		{name: "two", payload: `[{"regionId":"r","resourceId":"a"},{"regionId":"r","resourceId":"b"}]`, ids: "a,b"},
		{name: "null account is the own account", payload: `{"regionId":"r","resourceId":"a","accountId":null}`, ids: "a"},
		{name: "whitespace", payload: "\n  " + one + "\n", ids: "sg-1"},
		{name: "empty", payload: "", errHas: "empty payload"},
		{name: "blank", payload: "   ", errHas: "empty payload"},
		{name: "not json", payload: "hello", errHas: "not JSON: at byte 1"},
		{name: "broken json", payload: `[{"regionId":`, errHas: "ends early, at byte 13"},
		{name: "truncated object", payload: `{"resourceId":"sg-1","regionId":"cn-hangzhou"`, errHas: "ends early"},
		{name: "bad character", payload: `[{"regionId":"r",,"resourceId":"a"}]`, errHas: "at byte 18"},
		{name: "region not a region id", payload: `[{"regionId":"cn-hangzhou.evil.example/","resourceId":"a"}]`, errHas: "is not a region id"},
		{name: "short account id", payload: `[{"regionId":"r","resourceId":"a","accountId":"12"}]`, errHas: "not a 16-digit account id"},
		{name: "account id not digits", payload: `[{"regionId":"r","resourceId":"a","accountId":"12345678901234ab"}]`, errHas: "not a 16-digit account id"},
		{name: "empty array", payload: `[]`, errHas: "no resources"},
		{name: "number", payload: `42`, errHas: "want a resource object"},
		{name: "empty string", payload: `""`, errHas: "empty payload"},
		{name: "missing resourceId", payload: `[{"regionId":"cn-hangzhou"}]`, errHas: "missing resourceId"},
		{name: "missing regionId", payload: `[{"resourceId":"sg-1"}]`, errHas: "missing regionId"},
		{name: "element not object", payload: `["sg-1"]`, errHas: "not a JSON object"},
		{name: "resourceId object", payload: `[{"regionId":"r","resourceId":{"a":1}}]`, errHas: "want a string or a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEvent([]byte(tt.payload))
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !errors.Is(err, ErrBadEvent) {
					t.Fatalf("err = %v, want ErrBadEvent containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ResourceID)
			}
			if strings.Join(ids, ",") != tt.ids {
				t.Errorf("ids = %v, want %s", ids, tt.ids)
			}
		})
	}
}

func TestDecodeEventKeepsFields(t *testing.T) {
	got, err := DecodeEvent([]byte(`{"regionId":"cn-hangzhou","accountId":1234567890123456,"resourceId":"sg-1","resourceType":"ACS::ECS::SecurityGroup","configRuleName":"risky"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := got[0]
	if r.AccountID != "1234567890123456" || r.ResourceType != SecurityGroupType || string(r.Extra["configRuleName"]) != `"risky"` {
		t.Errorf("got %+v", r)
	}
}

func TestDecodeEventLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range MaxEventElements + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"regionId":"r","resourceId":"sg"}`)
	}
	b.WriteString("]")
	if _, err := DecodeEvent([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "over the limit of 1000") {
		t.Errorf("1001 resources: err = %v", err)
	}
	big := `{"regionId":"r","resourceId":"sg","pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`
	if _, err := DecodeEvent([]byte(big)); err == nil || !strings.Contains(err.Error(), "over the 1048576-byte limit") {
		t.Errorf("big payload: err = %v", err)
	}
}

// FuzzDecodeEvent: never panics; a success always has ids and regions and
// at most MaxEventElements resources, and re-encoding the result decodes to
// the same resources (round trip).
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`[{"regionId":"cn-hangzhou","resourceId":"sg-1"}]`,
		`{"regionId":"cn-hangzhou","accountId":12,"resourceId":"sg-1","resourceType":"ACS::ECS::SecurityGroup"}`,
		`{"regionId":"cn-hangzhou","accountId":1234567890123456,"resourceId":"sg-1"}`,
		`"[{\"regionId\":\"r\",\"resourceId\":\"x\"}]"`,
		``, `[]`, `null`, `"x"`, `[{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := DecodeEvent(payload)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error does not wrap ErrBadEvent: %v", err)
			}
			return
		}
		if len(got) == 0 || len(got) > MaxEventElements {
			t.Fatalf("%d resources", len(got))
		}
		for _, r := range got {
			if !ValidRegion(r.RegionID) {
				t.Fatalf("accepted region %q", r.RegionID)
			}
			if r.AccountID != "" && !ValidAccountID(r.AccountID) {
				t.Fatalf("accepted account id %q", r.AccountID)
			}
			if r.ResourceID == "" || r.RegionID == "" {
				t.Fatalf("resource without id or region: %+v", r)
			}
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeEvent(again)
		if err != nil {
			t.Fatalf("round trip: %v (%s)", err, again)
		}
		for i := range got {
			if back[i].ResourceID != got[i].ResourceID || back[i].RegionID != got[i].RegionID || back[i].AccountID != got[i].AccountID ||
				back[i].ResourceType != got[i].ResourceType || len(back[i].Extra) != len(got[i].Extra) {
				t.Fatalf("round trip changed %+v into %+v", got[i], back[i])
			}
		}
	})
}
