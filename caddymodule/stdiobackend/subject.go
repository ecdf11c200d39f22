package stdiobackend

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// maxEscapedSubject keeps an escaped subject within the 255-byte file
// name limit of common file systems, with room for a suffix (clientSuffix,
// or one an operator adds, such as ".jsonl").
const maxEscapedSubject = 200

// clientSuffix ends the {http.auth.user.id} of a client acting on its own
// (a token without a user, whose subject is its client id): the client
// "deploy" gets "deploy~client", never the folder of a user named
// "deploy". No escaped user subject ends with it: EscapeSubject writes "~"
// only in a shortened name, followed by 64 hex digits to the end, and a
// user named "deploy~client" is "deploy%7Eclient". A prefix would not do:
// "client:x" is a name a user may have, and a leading "~" is a home
// directory to a shell. Users' names are as they always were, so no user
// loses a folder on an upgrade.
const clientSuffix = "~client"

// EscapeSubject returns subject as one safe path segment and argument (the
// {http.auth.user.id} of a user; a client's has clientSuffix after it):
// bytes other than lowercase ASCII letters, digits and "_@+=,.-" become
// %XX, and so does a leading "." or "-". Upper case is escaped too, so
// that "Alice" and "alice" stay two folders on a file system that ignores
// case (macOS, Windows): raw letters are only ever lowercase and every
// "%" starts an escape, so two subjects never fold to one name. Subjects come from tokens, and a user's name
// may be chosen by the user (an upstream identity provider, a registered
// client id): "../../etc" must not reach another directory, "a/b" must not
// become a subdirectory, "--inspect" must not become an option, and a
// shell metacharacter must not reach a wrapper script. The encoding is
// injective ("%" itself is escaped), so two subjects never share a path.
func EscapeSubject(subject string) string {
	var b strings.Builder
	for i := 0; i < len(subject); i++ {
		c := subject[i]
		safe := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_@+=,.-", c) >= 0
		if i == 0 && (c == '.' || c == '-') {
			safe = false
		}
		if safe {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	out := b.String()
	if len(out) > maxEscapedSubject {
		// Too long for one file name: a prefix to recognize it by and the
		// SHA-256 of the whole subject. "~" is escaped everywhere else, so
		// a shortened name never equals a whole one.
		sum := sha256.Sum256([]byte(subject))
		out = strings.TrimRight(out[:maxEscapedSubject-65], "%0123456789ABCDEF") + "~" + hex.EncodeToString(sum[:])
	}
	return out
}

// expand replaces the subject placeholder in s.
func expand(s, escapedSubject string) string {
	return strings.ReplaceAll(s, SubjectPlaceholder, escapedSubject)
}
