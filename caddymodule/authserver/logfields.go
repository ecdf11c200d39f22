package authserver

import (
	"strconv"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Log fields. Tokens, codes and secrets are never logged.
func zapClient(id string) zap.Field    { return zap.String("client_id", id) }
func zapSubject(sub string) zap.Field  { return zap.String("sub", sub) }
func zapGrantType(gt string) zap.Field { return zap.String("grant_type", gt) }
func zapErr(err error) zap.Field       { return zap.Error(err) }
func zapResource(res string) zap.Field { return zap.String("resource", res) }

// maxLoggedInput bounds a value a stranger chose (a user name typed in
// the login form, a provider's error text passed through the browser)
// in a log line: a 64 KiB form field must not become a 64 KiB line.
const maxLoggedInput = 256

// zapInput is a log field of untrusted input, cut at maxLoggedInput bytes
// (at a character boundary) with the full length said.
func zapInput(key, value string) zap.Field {
	if len(value) <= maxLoggedInput {
		return zap.String(key, value)
	}
	cut := maxLoggedInput
	for cut > 0 && !utf8.RuneStart(value[cut]) {
		cut--
	}
	return zap.String(key, value[:cut]+"… ("+strconv.Itoa(len(value))+" bytes)")
}
