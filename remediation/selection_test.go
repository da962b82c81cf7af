package remediation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jmespath/go-jmespath"
)

// The expression on its own: what it selects from each document shape.
func TestCandidateExpr(t *testing.T) {
	rules := `[
	 {"SecurityGroupRuleId":"in4","Direction":"ingress","SourceCidrIp":"0.0.0.0/0","Policy":"Accept"},
	 {"SecurityGroupRuleId":"in6","Direction":"ingress","Ipv6SourceCidrIp":"::/0","Policy":"Drop"},
	 {"SecurityGroupRuleId":"narrow","Direction":"ingress","SourceCidrIp":"10.0.0.0/8"},
	 {"SecurityGroupRuleId":"group","Direction":"ingress","SourceGroupId":"sg-x"},
	 {"SecurityGroupRuleId":"out","Direction":"egress","DestCidrIp":"0.0.0.0/0","SourceCidrIp":"0.0.0.0/0"}]`
	tests := map[string]string{
		"nested":      `{"Permissions":{"Permission":` + rules + `}}`,
		"flat":        `{"Permissions":` + rules + `}`,
		"empty":       `{"Permissions":{"Permission":[]}}`,
		"none":        `{"SecurityGroupId":"sg-1"}`,
		"flat empty":  `{"Permissions":[]}`,
		"null":        `{"Permissions":null}`,
		"wrong types": `{"Permissions":"x"}`,
	}
	want := map[string]string{"nested": "in4,in6", "flat": "in4,in6"}
	expr := jmespath.MustCompile(CandidateExpr)
	for name, doc := range tests {
		var data any
		if err := json.Unmarshal([]byte(doc), &data); err != nil {
			t.Fatal(err)
		}
		got, err := expr.Search(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		list, _ := got.([]any)
		var ids []string
		for _, item := range list {
			ids = append(ids, item.(map[string]any)["SecurityGroupRuleId"].(string))
		}
		if strings.Join(ids, ",") != want[name] {
			t.Errorf("%s: selected %v, want %q", name, ids, want[name])
		}
	}
}

func TestParseConfiguration(t *testing.T) {
	sel, err := NewSelector()
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"SecurityGroupId":"sg-1","ServiceManaged":"true",
	  "Tags":{"Tag":[{"TagKey":"sg-remediation","TagValue":"exempt"},{"TagKey":"env","TagValue":"prod"}]},
	  "Permissions":{"Permission":[
	    {"SecurityGroupRuleId":"r1","Direction":"ingress","SourceCidrIp":"0.0.0.0/0","IpProtocol":"TCP","PortRange":"22/22","Priority":"5","Policy":"Accept"},
	    {"SecurityGroupRuleId":"r2","Direction":"ingress","SourceCidrIp":"0.0.0.0/0","IpProtocol":"TCP","PortRange":"22/22","Priority":1,"Policy":"Drop"}]}}`
	cfg, err := sel.ParseConfiguration([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SecurityGroupId != "sg-1" || !cfg.ServiceManaged || len(cfg.Candidates) != 2 {
		t.Fatalf("got %+v", cfg)
	}
	if cfg.Candidates[0].Priority != 5 || cfg.Candidates[1].Priority != 1 || cfg.Candidates[0].PortRange != "22/22" {
		t.Errorf("rules decoded wrong: %+v", cfg.Candidates)
	}
	if got := cfg.Tags["sg-remediation"]; len(got) != 1 || got[0] != "exempt" {
		t.Errorf("tags = %v", cfg.Tags)
	}
	for _, bad := range []string{``, `[]`, `{"Permissions":[{"Direction":"ingress","SourceCidrIp":"0.0.0.0/0","Priority":"high"}]}`} {
		if _, err := sel.ParseConfiguration([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// groupDoc builds a configuration document with n rules, a few of them risky.
func groupDoc(n int) []byte {
	perms := make([]map[string]any, n)
	for i := range perms {
		r := map[string]any{"SecurityGroupRuleId": fmt.Sprintf("sgr-%05d", i), "Direction": "ingress", "Policy": "Accept",
			"Priority": 1 + i%100, "IpProtocol": "TCP", "PortRange": fmt.Sprintf("%d/%d", 1000+i, 1000+i), "NicType": "intranet"}
		switch i % 4 {
		case 0:
			r["SourceCidrIp"] = "0.0.0.0/0"
		case 1:
			r["SourceCidrIp"] = "10.0.0.0/8"
		case 2:
			r["Ipv6SourceCidrIp"] = "::/0"
		case 3:
			r["SourceGroupId"] = "sg-peer"
		}
		if i%50 == 0 {
			r["PortRange"] = "22/22"
		}
		perms[i] = r
	}
	b, _ := json.Marshal(map[string]any{"SecurityGroupId": "sg-big", "Permissions": map[string]any{"Permission": perms}})
	return b
}

// BenchmarkSelect1000 is the selection of one 1000-rule group (half of it
// open to the internet, so 500 rules to judge): JMESPath on the decoded
// document, then the decision table.
func BenchmarkSelect1000(b *testing.B) {
	sel, _ := NewSelector()
	var root any
	if err := json.Unmarshal(groupDoc(1000), &root); err != nil {
		b.Fatal(err)
	}
	ports := mustPorts(b, DefaultRiskyPorts)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := sel.Select(root)
		if err != nil {
			b.Fatal(err)
		}
		if d := Decide(cfg.Candidates, ports); len(d) != 500 {
			b.Fatalf("judged %d rules", len(d))
		}
	}
}

// BenchmarkParseSelect1000 adds the JSON decoding of the document
// (about 180 KB for 1000 rules), which dominates.
func BenchmarkParseSelect1000(b *testing.B) {
	sel, _ := NewSelector()
	doc := groupDoc(1000)
	ports := mustPorts(b, DefaultRiskyPorts)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := sel.ParseConfiguration(doc)
		if err != nil {
			b.Fatal(err)
		}
		if d := Decide(cfg.Candidates, ports); len(d) != 500 {
			b.Fatalf("judged %d rules", len(d))
		}
	}
}
