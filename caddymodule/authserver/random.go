package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// randomToken returns 256 random bits, base64url-encoded without padding:
// the form of codes, refresh tokens, client secrets and ids.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomID returns 128 random bits, base64url-encoded: the form of client
// ids, grant ids, token ids and key ids, which need to be unique and
// unguessable but are not secrets. It never starts with "-", so operators
// can pass ids to command-line tools without them looking like flags.
func randomID() string {
	b := make([]byte, 16)
	for {
		rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id
		}
	}
}

// hashToken is how codes, refresh tokens and client secrets are stored:
// they are high-entropy, so a plain SHA-256 is enough.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// hashEqual compares two stored hashes in constant time.
func hashEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
