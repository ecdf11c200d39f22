package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Members a gateway decides on, by the object that holds them. A key that
// equals one of them case-insensitively but not exactly is ambiguous: Go's
// struct decoding (and so a Go backend) reads "NAME" as name, while
// JavaScript and Python read it as another member and take "name".
var (
	messageMembers = []string{"jsonrpc", "id", "method", "params", "result", "error"}
	paramsMembers  = []string{"name", "uri", "_meta"}
)

// smallObject is how many keys an object may have before duplicate
// detection switches from pairwise comparison to a map.
const smallObject = 16

// checkMembers refuses the valid JSON object obj when a key occurs twice
// (parsers disagree on which copy wins: Go and JavaScript take the last,
// others the first or refuse) or when a key is a case variant of one of
// decided. where names the object in the error ("message", "params").
// It stores in found[i] the raw value of the member named exactly decided[i]
// (found may be nil, or as long as decided), and when refusing, returns the
// ambiguous key.
func checkMembers(obj []byte, where string, decided []string, found []json.RawMessage) (bad string, err *Error) {
	var (
		small [smallObject][]byte
		n     int
		big   map[string]struct{}
	)
	eachMember(obj, func(rawKey, value []byte) bool {
		key := decodeKey(rawKey)
		for i, d := range decided {
			if len(key) == len(d) && string(key) == d {
				if found != nil {
					found[i] = value
				}
				break
			}
			if strings.EqualFold(string(key), d) {
				bad, err = string(key), ambiguous(where, key, `is a case variant of "`+d+`"`)
				return false
			}
		}
		if n < smallObject {
			for _, k := range small[:n] {
				if bytes.Equal(k, key) {
					bad, err = string(key), ambiguous(where, key, "occurs more than once")
					return false
				}
			}
			small[n] = key
		} else {
			if big == nil {
				big = make(map[string]struct{}, 2*smallObject)
				for _, k := range small {
					big[string(k)] = struct{}{}
				}
			}
			if _, dup := big[string(key)]; dup {
				bad, err = string(key), ambiguous(where, key, "occurs more than once")
				return false
			}
			big[string(key)] = struct{}{}
		}
		n++
		return true
	})
	return bad, err
}

// lastMember returns the raw value of the last member of the valid JSON
// object obj named exactly key (escapes resolved), nil without one: what
// decoding obj into a map would give.
func lastMember(obj []byte, key string) json.RawMessage {
	var value json.RawMessage
	eachMember(obj, func(rawKey, v []byte) bool {
		if string(decodeKey(rawKey)) == key {
			value = v
		}
		return true
	})
	return value
}

// Object decodes the JSON object obj (such as params._meta) into its
// members, refusing (InvalidRequest) a key that occurs twice, where
// parsers disagree on which copy wins. where names the object in the error.
func Object(obj json.RawMessage, where string) (map[string]json.RawMessage, *Error) {
	var m map[string]json.RawMessage
	if len(obj) == 0 || obj[0] != '{' || json.Unmarshal(obj, &m) != nil {
		return nil, Errorf(InvalidRequest, "Invalid Request: the %s must be a JSON object", where)
	}
	if _, err := checkMembers(obj, where, nil, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// ReplaceMember returns the JSON object obj with the value of its member
// key (by exact key) replaced by value, or the member removed when value is
// nil. Other members keep their bytes and order; obj comes back unchanged
// when it has no such member. obj must be a valid object in which key
// occurs at most once (as Parse and Object guarantee).
func ReplaceMember(obj []byte, key string, value []byte) []byte {
	start, end := -1, -1
	var valStart, valEnd int
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		memberStart := i
		keyEnd := skipString(obj, i)
		k := decodeKey(obj[i+1 : keyEnd-1])
		i = skipSpace(obj, skipSpace(obj, keyEnd)+1) // past the colon
		vs := i
		i = skipValue(obj, i)
		ve := i
		i = skipSpace(obj, i)
		if string(k) == key {
			start, end, valStart, valEnd = memberStart, i, vs, ve
			if i < len(obj) && obj[i] == ',' {
				end = skipSpace(obj, i+1) // the member and its comma
			}
			break
		}
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	if start < 0 {
		return obj
	}
	out := make([]byte, 0, len(obj)+len(value))
	if value != nil {
		out = append(out, obj[:valStart]...)
		out = append(out, value...)
		return append(out, obj[valEnd:]...)
	}
	if end < len(obj) && obj[end] == '}' {
		// The last member: drop the comma before it, if any.
		before := bytes.TrimRight(obj[:start], " \t\r\n")
		if before[len(before)-1] == ',' {
			before = before[:len(before)-1]
		}
		out = append(out, before...)
		return append(out, obj[end:]...)
	}
	out = append(out, obj[:start]...)
	return append(out, obj[end:]...)
}

// ambiguous is the InvalidRequest error naming the ambiguous member.
func ambiguous(where string, key []byte, why string) *Error {
	quoted, _ := json.Marshal(string(key))
	return Errorf(InvalidRequest, "Invalid Request: member %s of the %s %s; send each member once, spelt exactly", quoted, where, why)
}

// decodeKey returns the key as parsers see it: escapes resolved and invalid
// UTF-8 replaced, so "\u006eame" and "name" are the same key. Plain keys
// come back as the input slice, without allocating.
func decodeKey(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return raw // unreachable for a key of valid JSON
	}
	return []byte(s)
}

// eachMember calls fn with the raw key (between its quotes) and the raw
// value of each member of obj, a valid JSON object, until fn returns false.
func eachMember(obj []byte, fn func(key, value []byte) bool) {
	i := skipSpace(obj, 1)
	if i >= len(obj) || obj[i] == '}' {
		return
	}
	for i < len(obj) {
		end := skipString(obj, i)
		key := obj[i+1 : end-1]
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = skipValue(obj, i)
		if !fn(key, obj[i:end]) {
			return
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] == '}' {
			return
		}
		i = skipSpace(obj, i+1) // past the comma
	}
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n' {
			i++
		}
		return i
	}
}
