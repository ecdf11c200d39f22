package authserver

import (
	"net/url"
	"strconv"
)

// authzParamLimits are the longest values, in bytes, of the authorization
// request parameters this server keeps or sends back: an upstream sign-in
// stores the request for up to upstreamAttemptLifetime before anyone has
// signed in (pendingLogin), codes keep it, and the login and consent forms
// and the redirect back echo it. Without a bound a stranger stores about a
// megabyte (the request header limit) per request. The other parameters
// are bounded by their checks: client_id must name a known client (a URL
// client id at most maxClientIDURL bytes), code_challenge is 43 to 128
// characters, code_challenge_method and response_type have one valid
// value, and parameters this server does not accept (nonce, login_hint,
// prompt) are dropped, never kept (authzRequest.params).
var authzParamLimits = []struct {
	name string
	max  int
}{
	// Checked before the redirect URI is matched, so its error is a page.
	// A loopback redirect URI matches under any port, so the match alone
	// bounds nothing.
	{"redirect_uri", maxRedirectURI},
	// Ample for a random value or the encoded JSON some clients keep here.
	{"state", 2048},
	// Only the server's scopes are granted, but an unknown scope is named
	// in the error.
	{"scope", 1024},
	{"resource", 2048},
}

// maxRedirectURI bounds redirect URIs, registered ones too
// (checkRedirectURI): one that could never be used must not register.
const maxRedirectURI = 2048

// oversizedParam returns the first parameter of q longer than its limit,
// and its error; "" and nil when there is none. Only the first value is
// kept of any parameter, and a repeated one is refused anyway.
func oversizedParam(q url.Values) (string, *oauthError) {
	for _, l := range authzParamLimits {
		if len(q.Get(l.name)) > l.max {
			return l.name, errInvalidRequest(l.name + " is longer than " + strconv.Itoa(l.max) + " bytes")
		}
	}
	return "", nil
}

// maxEchoedParamName bounds a parameter name an error names: any name can
// be sent, as long as the request line allows.
const maxEchoedParamName = 64

// echoedParamName is name as an error may name it.
func echoedParamName(name string) string {
	if len(name) > maxEchoedParamName {
		return "(a name longer than " + strconv.Itoa(maxEchoedParamName) + " bytes)"
	}
	return name
}
