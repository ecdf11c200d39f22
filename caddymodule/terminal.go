package caddymodule

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The `caddy mcp` commands print what clients chose (client_name, redirect
// URIs) and what identity sources passed on (user names) to an operator's
// terminal. A client that registers the name "\x1b]0;...\x07" could retitle
// the window, rewrite earlier lines or, on some terminals, answer back with
// keystrokes; a U+202E in a name or URI reverses how the rest of the line
// reads. So every such string is printed escaped.

// terminalSafe returns s with every character a terminal would interpret
// rather than show (control characters, bidi and other format characters,
// invalid UTF-8) written as a Go-style escape, and backslashes doubled so
// the escaping cannot be mimicked.
func terminalSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += w
	}
	return b.String()
}

// terminalSafeJSON returns JSON (as encoding/json writes it: ASCII
// controls already escaped, invalid UTF-8 already replaced) with the other
// characters terminalSafe escapes written as \u escapes. Outside strings
// JSON is ASCII, so the document keeps its meaning.
func terminalSafeJSON(js []byte) []byte {
	var b strings.Builder
	for _, r := range string(js) {
		if r < 0x7F || unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return []byte(b.String())
}
