package mcpwire

import "testing"

func TestDecodeHeaderValue(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"get_weather", "get_weather", true},
		{"=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界", true},
		{"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?=", true},
		{"=?base64?SGVsbG8?=", "", false},            // not padded: not canonical
		{"=?base64?//79?=", "", false},               // not UTF-8
		{"=?BASE64?SGk=?=", "=?BASE64?SGk=?=", true}, // markers are lowercase only
	} {
		got, ok := DecodeHeaderValue(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("DecodeHeaderValue(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
