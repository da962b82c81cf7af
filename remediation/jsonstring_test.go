package remediation

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
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
