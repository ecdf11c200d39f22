package memoryserver

import (
	"bytes"
	"encoding/json"
)

// marshalJS encodes v the way JavaScript's JSON.stringify does, so text
// content and exported files match the reference server byte for byte: no
// HTML escaping, U+2028/U+2029 left literal, and with indent != "" the same
// layout as JSON.stringify(v, null, indent).
func marshalJS(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := unescapeLineSeparators(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	if indent != "" {
		b = indentJSON(b, indent)
	}
	return b, nil
}

// unescapeLineSeparators turns Go's \u2028 and \u2029 escapes back into the
// characters. A backslash in encoder output always starts an escape, so
// stepping over escapes two bytes at a time never misreads an escaped
// backslash followed by "u2028" as one.
func unescapeLineSeparators(b []byte) []byte {
	out := b[:0:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		switch rest := b[i+1:]; {
		case bytes.HasPrefix(rest, []byte("u2028")):
			out = append(out, "\u2028"...)
			i += 5
		case bytes.HasPrefix(rest, []byte("u2029")):
			out = append(out, "\u2029"...)
			i += 5
		default:
			out = append(out, b[i], b[i+1])
			i++
		}
	}
	return out
}
