package remediation

import (
	"bytes"
	"errors"
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
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, errBadJSONString
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		// Copy the run up to the next escape, quote or byte that needs a
		// look (a control character or non-ASCII).
		i := 0
		for i < len(b) && b[i] != '\\' && b[i] != '"' && b[i] >= 0x20 && b[i] < utf8.RuneSelf {
			i++
		}
		out = append(out, b[:i]...)
		b = b[i:]
		if len(b) == 0 {
			break
		}
		switch c := b[0]; {
		case c == '"' || c < 0x20:
			return nil, errBadJSONString
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b)
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8, as encoding/json
			b = b[size:]
			continue
		}
		// An escape.
		if len(b) < 2 {
			return nil, errBadJSONString
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
				return nil, errBadJSONString
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
			return nil, errBadJSONString
		}
		b = b[2:]
	}
	return out, nil
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
