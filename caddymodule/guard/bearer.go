package guard

import "strings"

// bearerToken extracts the token of an RFC 6750 "Bearer" Authorization
// header value. ok is false when the header carries no Bearer credential.
// The token must be a non-empty token68 (RFC 7235); anything else yields
// ok with an empty token, so the caller answers invalid_token.
func bearerToken(header string) (token string, ok bool) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimLeft(rest, " ")
	if !isToken68(rest) {
		return "", true
	}
	return rest, true
}

// isToken68 reports whether s matches RFC 7235's token68 grammar.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
