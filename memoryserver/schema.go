package memoryserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// schema is the subset of JSON Schema the tool input schemas use. Arguments
// are checked against the same schemas tools/list publishes, so the two
// cannot drift apart. Unknown properties are allowed (and ignored), as the
// reference server allows them.
type schema struct {
	Type       string             `json:"type"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	Items      *schema            `json:"items"`
	MinLength  *int               `json:"minLength"`
	MaxLength  *int               `json:"maxLength"`
	Minimum    *float64           `json:"minimum"`
	Maximum    *float64           `json:"maximum"`
}

// validate checks raw JSON against s and returns the arguments to decode,
// or a message in the style of the reference server's, e.g. "expected
// array, received string at entities".
func (s *schema) validate(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("arguments are not valid JSON")
	}
	if err := s.check(v, ""); err != nil {
		return nil, err
	}
	if s.dropCaseVariants(v) {
		return json.Marshal(v)
	}
	return raw, nil
}

// dropCaseVariants removes the keys of v's objects that differ from a
// property only in case, and reports whether there were any. The reference
// server ignores them like any unknown key, but encoding/json matches
// struct fields regardless of case and would decode the last of them, say
// an empty or over-long "NAME", over the "name" that check validated.
func (s *schema) dropCaseVariants(v any) (dropped bool) {
	switch v := v.(type) {
	case map[string]any:
		for key, item := range v {
			if p, ok := s.Properties[key]; ok {
				dropped = p.dropCaseVariants(item) || dropped
			} else if s.hasPropertyFolding(key) {
				delete(v, key)
				dropped = true
			}
		}
	case []any:
		for _, item := range v {
			dropped = s.Items.dropCaseVariants(item) || dropped
		}
	}
	return dropped
}

// hasPropertyFolding reports whether key equals a property's name under
// Unicode case folding, as encoding/json matches them ("K", the Kelvin
// sign, is a "k").
func (s *schema) hasPropertyFolding(key string) bool {
	for name := range s.Properties {
		if strings.EqualFold(name, key) {
			return true
		}
	}
	return false
}

func (s *schema) check(v any, path string) error {
	if got := jsonType(v); got != s.Type && !(s.Type == "integer" && got == "number" && isInteger(v)) {
		return issue(path, "Invalid input: expected %s, received %s", s.Type, got)
	}
	switch v := v.(type) {
	case map[string]any:
		return s.checkObject(v, path)
	case []any:
		for i, item := range v {
			if err := s.Items.check(item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case string:
		n := utf8.RuneCountInString(v)
		if s.MinLength != nil && n < *s.MinLength {
			return issue(path, "Too small: expected string to have >=%d characters", *s.MinLength)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			return issue(path, "Too big: expected string to have <=%d characters", *s.MaxLength)
		}
	case json.Number:
		f, _ := v.Float64()
		if s.Minimum != nil && f < *s.Minimum {
			return issue(path, "Too small: expected number to be >=%v", *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			return issue(path, "Too big: expected number to be <=%v", *s.Maximum)
		}
	}
	return nil
}

func (s *schema) checkObject(v map[string]any, path string) error {
	for _, name := range s.Required {
		if _, ok := v[name]; !ok {
			return issue(join(path, name), "Invalid input: expected %s, received undefined", s.Properties[name].Type)
		}
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if pv, ok := v[name]; ok {
			if err := s.Properties[name].check(pv, join(path, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func issue(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg += " at " + path
	}
	return fmt.Errorf("%s", msg)
}

// jsonType names v's JSON type the way the reference's messages do.
func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "unknown"
}

func isInteger(v any) bool {
	_, err := v.(json.Number).Int64()
	return err == nil
}
