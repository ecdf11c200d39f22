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
	paramsMembers  = []string{"name", "_meta"}
)

// smallObject is how many keys an object may have before duplicate
// detection switches from pairwise comparison to a map.
const smallObject = 16

// checkMembers refuses the valid JSON object obj when a key occurs twice
// (parsers disagree on which copy wins: Go and JavaScript take the last,
// others the first or refuse) or when a key is a case variant of one of
// decided. where names the object in the error ("message", "params").
// It returns the raw value of the member named exactly want, if any, and
// when refusing, the ambiguous key.
func checkMembers(obj []byte, where string, decided []string, want string) (found json.RawMessage, bad string, err *Error) {
	var (
		small [smallObject][]byte
		n     int
		big   map[string]struct{}
	)
	eachMember(obj, func(rawKey, value []byte) bool {
		key := decodeKey(rawKey)
		for _, d := range decided {
			if len(key) == len(d) && string(key) == d {
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
		if string(key) == want {
			found = value
		}
		return true
	})
	return found, bad, err
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
