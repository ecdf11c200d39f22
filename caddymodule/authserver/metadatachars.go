package authserver

import "unicode"

// deceptiveRune reports whether r would let a client-chosen string read
// differently than it is: control characters (terminal escapes in an
// operator's log or command output, line breaks that forge log lines) and
// the bidi embeddings, overrides, isolates and marks (U+202A-U+202E,
// U+2066-U+2069, U+200E, U+200F) that reorder text, so a client named
// "\u202Eelgoog" shows as "google" on the consent page.
func deceptiveRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069', r == '\u200E', r == '\u200F':
		return true
	}
	return false
}
