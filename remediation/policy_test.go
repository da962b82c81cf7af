package remediation

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The RAM policy must grant exactly the actions the code calls: derived here
// from the two interfaces every cloud call goes through, compared with
// APIActions/RestrictActions and with the lists in terraform/iam.tf.
func TestPolicyMatchesCode(t *testing.T) {
	var called []string
	for prefix, iface := range map[string]reflect.Type{
		"config:": reflect.TypeFor[ConfigAPI](),
		"ecs:":    reflect.TypeFor[ECSAPI](),
		"sts:":    reflect.TypeFor[STSAPI](),
	} {
		for m := range iface.Methods() {
			called = append(called, prefix+m.Name)
		}
	}
	declared := slices.Concat(APIActions, RestrictActions, AggregateActions, EvaluationActions)
	slices.Sort(called)
	slices.Sort(declared)
	if !slices.Equal(called, declared) {
		t.Errorf("the interfaces call %v, APIActions+RestrictActions declare %v", called, declared)
	}

	tf, err := os.ReadFile("../terraform/iam.tf")
	if err != nil {
		t.Fatal(err)
	}
	list := func(name string) []string {
		m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*\[([^\]]*)\]`).FindSubmatch(tf)
		if m == nil {
			t.Fatalf("terraform/iam.tf has no %s list", name)
		}
		var out []string
		for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllSubmatch(m[1], -1) {
			out = append(out, string(q[1]))
		}
		return out
	}
	if got := list("remediation_actions"); !slices.Equal(sorted(got), sorted(APIActions)) {
		t.Errorf("terraform remediation_actions %v, code %v", got, APIActions)
	}
	if got := list("restrict_actions"); !slices.Equal(sorted(got), sorted(RestrictActions)) {
		t.Errorf("terraform restrict_actions %v, code %v", got, RestrictActions)
	}
	if got := list("evaluation_actions"); !slices.Equal(sorted(got), sorted(EvaluationActions)) {
		t.Errorf("terraform evaluation_actions %v, code %v", got, EvaluationActions)
	}
	if got := append(list("aggregator_actions"), list("assume_role_actions")...); !slices.Equal(sorted(got), sorted(AggregateActions)) {
		t.Errorf("terraform aggregator_actions + assume_role_actions %v, code %v", got, AggregateActions)
	}
	if strings.Contains(string(tf), `"ecs:*"`) || strings.Contains(string(tf), `"config:*"`) {
		t.Error("the policy grants a wildcard action")
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
