package remediation

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonString decodes a JSON string straight into bytes. It is for long
// strings full of escapes, such as GetDiscoveredResource's Configuration
// (a JSON document in a JSON string): jsoniter reads those byte by byte
// into a growing buffer, then copies the result into a string, which the
// caller copied again into a []byte; this decodes with one allocation for
// the result, copying the runs between escapes whole. A JSON null decodes
// as nil.
type jsonString []byte

var errBadJSONString = errors.New("malformed JSON string")

// UnmarshalJSON implements json.Unmarshaler (jsoniter honours it too).
func (s *jsonString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*s = nil
		return nil
	}
	out, err := unquoteJSON(b)
	if err != nil {
		return err
	}
	*s = out
	return nil
}

// unquoteJSON decodes a quoted JSON string as encoding/json does: invalid
// UTF-8 and unpaired surrogates become U+FFFD.
func unquoteJSON(b []byte) ([]byte, error) {
	out, n, err := unquotePrefix(b)
	if err == nil && n != len(b) {
		err = errBadJSONString
	}
	return out, err
}

// unquotePrefix decodes the JSON string at the start of b and returns its
// length in b, closing quote included.
func unquotePrefix(in []byte) ([]byte, int, error) {
	if len(in) < 2 || in[0] != '"' {
		return nil, 0, errBadJSONString
	}
	// Size the result: find the closing quote, skipping escaped bytes.
	end := 1
	for end < len(in) && in[end] != '"' {
		if in[end] == '\\' {
			end++
		}
		end++
	}
	b := in[1:]
	out := make([]byte, 0, end-1)
	for {
		// Copy the run up to the next escape, quote or byte that needs a
		// look (a control character or non-ASCII).
		i := 0
		for i < len(b) && b[i] != '\\' && b[i] != '"' && b[i] >= 0x20 && b[i] < utf8.RuneSelf {
			i++
		}
		out = append(out, b[:i]...)
		b = b[i:]
		if len(b) == 0 {
			return nil, 0, errBadJSONString // no closing quote
		}
		switch c := b[0]; {
		case c == '"':
			return out, len(in) - len(b) + 1, nil
		case c < 0x20:
			return nil, 0, errBadJSONString
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b)
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8, as encoding/json
			b = b[size:]
			continue
		}
		// An escape.
		if len(b) < 2 {
			return nil, 0, errBadJSONString
		}
		switch e := b[1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[2:])
			if !ok {
				return nil, 0, errBadJSONString
			}
			b = b[6:]
			if utf16.IsSurrogate(r) {
				r1 := r
				r = utf8.RuneError
				if len(b) >= 6 && b[0] == '\\' && b[1] == 'u' {
					if r2, ok := hex4(b[2:]); ok {
						if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
							r = dec
							b = b[6:]
						}
					}
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, 0, errBadJSONString
		}
		b = b[2:]
	}
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// discoveredDetail is the part of GetDiscoveredResource's (and
// GetAggregateDiscoveredResource's) answer we use.
type discoveredDetail struct {
	AccountID       json.Number `json:"AccountId"`
	Region          string      `json:"Region"`
	ResourceID      string      `json:"ResourceId"`
	ResourceType    string      `json:"ResourceType"`
	ResourceDeleted *int        `json:"ResourceDeleted"`
	Tags            string      `json:"Tags"`
	Configuration   jsonString  `json:"Configuration"`
}

// discoveredBody is GetDiscoveredResource's answer.
type discoveredBody struct {
	Detail *discoveredDetail `json:"DiscoveredResourceDetail"`
}

func (d *discoveredBody) decodeBody(b []byte) (err error) {
	*d, err = decodeDiscovered(b)
	return err
}

// decodeDiscovered decodes GetDiscoveredResource's answer. Most of it is the
// Configuration string; a small scanner finds the fields and decodes that
// string once, where encoding/json scans the whole body twice and jsoniter
// decodes the string byte by byte into a growing buffer. An answer the
// scanner does not expect (not a plain object of known field types) is left
// to encoding/json, whose result and errors are the reference.
func decodeDiscovered(b []byte) (discoveredBody, error) {
	if out, ok := scanDiscovered(b); ok {
		return out, nil
	}
	var out discoveredBody
	err := json.Unmarshal(b, &out)
	return out, err
}

func scanDiscovered(b []byte) (out discoveredBody, ok bool) {
	s := scanner{b: b}
	ok = s.object(func(key []byte) bool {
		if string(key) != "DiscoveredResourceDetail" {
			// encoding/json matches keys without regard to case.
			return !bytes.EqualFold(key, []byte("DiscoveredResourceDetail")) && s.skip()
		}
		if s.literal("null") {
			out.Detail = nil
			return true
		}
		d := &discoveredDetail{}
		out.Detail = d
		return s.object(func(key []byte) bool {
			var dst *string
			switch string(key) {
			case "Region":
				dst = &d.Region
			case "ResourceId":
				dst = &d.ResourceID
			case "ResourceType":
				dst = &d.ResourceType
			case "Tags":
				dst = &d.Tags
			case "Configuration":
				v, ok := s.str()
				d.Configuration = v
				return ok
			case "ResourceDeleted":
				n, ok := s.int()
				d.ResourceDeleted = &n
				return ok
			case "AccountId":
				n, ok := s.int()
				d.AccountID = json.Number(strconv.Itoa(n))
				return ok
			default:
				for _, f := range [...]string{"AccountId", "Region", "ResourceId", "ResourceType", "Tags", "Configuration", "ResourceDeleted"} {
					if bytes.EqualFold(key, []byte(f)) {
						return false // encoding/json matches keys without regard to case
					}
				}
				return s.skip()
			}
			v, ok := s.str()
			*dst = string(v)
			return ok
		})
	})
	s.ws()
	return out, ok && s.i == len(s.b)
}

// scanner reads the JSON shapes decodeDiscovered expects; every method
// reports false on anything else.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// object reads an object, calling field after each key and its colon; field
// reads the value. A repeated key is left to encoding/json.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	seen := map[string]bool{}
	for {
		key, ok := s.str()
		if !ok || seen[string(key)] || !s.next(':') || !field(key) {
			return false
		}
		seen[string(key)] = true
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str reads a string and returns its decoded bytes.
func (s *scanner) str() ([]byte, bool) {
	s.ws()
	v, n, err := unquotePrefix(s.b[s.i:])
	s.i += n
	return v, err == nil
}

// int reads an integer that fits an int.
func (s *scanner) int() (int, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	lit := s.b[start:s.i]
	if len(lit) > 1 && lit[0] == '0' || len(lit) > 2 && lit[0] == '-' && lit[1] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(string(lit))
	return n, err == nil
}

// skip reads any value.
func (s *scanner) skip() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		return s.object(func([]byte) bool { return s.skip() })
	case c == '[':
		s.i++
		if s.next(']') {
			return true
		}
		for {
			if !s.skip() {
				return false
			}
			if s.next(']') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
			s.i++
		}
		return json.Valid(s.b[start:s.i])
	}
	return false
}
