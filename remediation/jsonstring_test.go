package remediation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// unquoteJSON agrees with encoding/json on every input: the same bytes for
// a valid string, an error for an invalid one.
func TestUnquoteJSONAsEncodingJSON(t *testing.T) {
	inputs := []string{
		`""`, `"plain"`, `"{\"a\":[1,2],\"b\":\"x\\\\y\"}"`, `"\/\b\f\n\r\t"`, `"\u0041\u00e9\u4e2d"`,
		`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\uD83D\uDE00"`,
		`"é中😀"`, "\"\xff\xfe\"", "\"a\xc3\"", `"\u12"`, `"\u12g4"`, `"\x"`, `"\"`, `"a"b"`, "\"\x01\"", `"abc`, `abc"`, `"`, ``,
	}
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{`a`, `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83d`, `\ude00`, `\ud83d\ude00`, `é`, "\xff", `{`, ` `, `\t`, `\u`, `0`}
	for range 2000 {
		var b bytes.Buffer
		b.WriteByte('"')
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteByte('"')
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		var want string
		werr := json.Unmarshal([]byte(in), &want)
		got, err := unquoteJSON([]byte(in))
		if (err == nil) != (werr == nil) || err == nil && string(got) != want {
			t.Errorf("unquoteJSON(%q) = %q, %v; encoding/json: %q, %v", in, got, err, want, werr)
		}
	}
}

func TestJSONStringField(t *testing.T) {
	var v struct {
		C jsonString `json:"C"`
		N jsonString `json:"N"`
	}
	in := []byte(`{"C":"{\"SecurityGroupId\":\"sg-1\",\"d\":\"caf\u00e9\"}","N":null}`)
	for name, unmarshal := range map[string]func([]byte, any) error{"encoding/json": json.Unmarshal, "jsoniter": fastJSON.Unmarshal} {
		v.C, v.N = nil, jsonString("x")
		if err := unmarshal(in, &v); err != nil || string(v.C) != `{"SecurityGroupId":"sg-1","d":"café"}` || v.N != nil {
			t.Errorf("%s: %q %q %v", name, v.C, v.N, err)
		}
		if err := unmarshal([]byte(`{"C":1}`), &v); err == nil {
			t.Errorf("%s: a number decoded as a string", name)
		}
	}
}

// decodeDiscovered gives what encoding/json gives, on well-formed answers
// in any field order and with any extra fields, and on broken ones.
func TestDecodeDiscoveredAsEncodingJSON(t *testing.T) {
	cfg, _ := json.Marshal(map[string]any{"SecurityGroupId": "sg-1", "Description": "caf\u00e9 \"quoted\" \\ </tag> \U0001F600\t",
		"Permissions": map[string]any{"Permission": []map[string]any{{"SecurityGroupRuleId": "sgr-1", "Priority": 1, "PortRange": "22/22"}}}})
	fields := []string{
		`"Region":"cn-hangzhou"`, `"ResourceId":"sg-1"`, `"ResourceType":"ACS::ECS::SecurityGroup"`, `"ResourceDeleted":1`,
		`"Tags":"{\"env\":[\"prod\"]}"`, `"Configuration":` + string(mustJSON(string(cfg))),
		`"AccountId":1234567890123456`, `"ResourceName":"web"`, `"AvailabilityZone":null`, `"Nested":{"a":[1,2.5e3,{"b":[true,false,null]}],"c":"\u00e9"}`,
		`"ResourceCreationTime":1700000000000`, `"Version":-1`, `"Empty":{}`, `"List":[]`,
	}
	r := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for range 1500 {
		perm := r.Perm(len(fields))
		var parts []string
		for _, i := range perm[:1+r.IntN(len(fields))] {
			parts = append(parts, fields[i])
		}
		ws := []string{"", " ", "\n  "}[r.IntN(3)]
		body := fmt.Sprintf(`{%s"RequestId":"X",%s"DiscoveredResourceDetail":{%s%s}%s}`, ws, ws, ws, strings.Join(parts, ","+ws), ws)
		if r.IntN(4) == 0 { // break it somewhere, or change a byte
			b := []byte(body)
			i := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b = append(b[:i], b[i+1:]...)
			case 1:
				b[i] = `{}[]",:\0 n1-e.`[r.IntN(14)]
			default:
				b = b[:i]
			}
			body = string(b)
		}
		inputs = append(inputs, []byte(body))
	}
	inputs = append(inputs, []byte(`null`), []byte(``), []byte(`[]`), []byte(`{"DiscoveredResourceDetail":null}`),
		[]byte(`{"discoveredresourcedetail":{"region":"x"}}`), []byte(`{"DiscoveredResourceDetail":{"Region":"a","Region":"b"}}`),
		[]byte(`{"DiscoveredResourceDetail":{"ResourceDeleted":"0"}}`), []byte(`{"DiscoveredResourceDetail":{"ResourceDeleted":0.0}}`),
		[]byte(`{"DiscoveredResourceDetail":{"ResourceDeleted":99999999999999999999}}`), []byte(`{"DiscoveredResourceDetail":{"Configuration":null}}`),
		[]byte(`{"DiscoveredResourceDetail":{"Configuration":""}}`), []byte("{\"DiscoveredResourceDetail\":{\"Tags\":\"a\x01\"}}"),
		[]byte(`{"DiscoveredResourceDetail":{"Tags":"\ud83d"}} `), []byte(`{"DiscoveredResourceDetail":{}} x`))
	fast := 0
	for _, in := range inputs {
		var want discoveredBody
		werr := json.Unmarshal(in, &want)
		got, err := decodeDiscovered(in)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("decodeDiscovered(%s)\n = %+v, %v\nencoding/json: %+v, %v", in, detail(got), err, detail(want), werr)
		}
		if _, ok := scanDiscovered(in); ok {
			fast++
		}
	}
	if fast < len(inputs)/2 {
		t.Errorf("the scanner decoded %d of %d answers itself: it is not used", fast, len(inputs))
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func detail(b discoveredBody) any {
	if b.Detail == nil {
		return nil
	}
	d := *b.Detail
	return struct {
		discoveredDetail
		Config string
	}{d, string(d.Configuration)}
}
