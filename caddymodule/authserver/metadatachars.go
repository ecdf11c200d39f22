package authserver

import "unicode"

// deceptiveRune reports whether r would let a client-chosen string read
// differently than it is: control characters (terminal escapes in an
// operator's log or command output, line breaks that forge log lines) and
// the bidi controls, Unicode's Bidi_Control property (embeddings,
// overrides, isolates and marks: U+061C, U+200E, U+200F, U+202A-U+202E,
// U+2066-U+2069), which reorder text, so a client named "\u202Eelgoog"
// shows as "google" on the consent page. A property, not a list, so
// characters Unicode adds to it are refused too. Other formatting, such as
// the zero-width joiner inside an emoji, is part of names people use.
func deceptiveRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
