package authserver

import (
	"net/http"

	"golang.org/x/crypto/bcrypt"
)

// checkStaticSecret compares the secret of a pre-registered confidential
// client with its bcrypt hash. bcrypt is slow on purpose (up to about a
// second of CPU at the costs operators pick), so wrong secrets are limited
// per client address and per client id (Config.ClientAuthFailures per
// ClientAuthFailureWindow); past the limit no comparison runs and throttled
// is a 429 temporarily_unavailable with Retry-After, as OAuth JSON. Not
// invalid_client: clients answer that by registering again, which does not
// help a pre-registered client, while HTTP clients know to back off from a
// 429. Secrets of dynamically registered clients are random 256-bit values
// checked by SHA-256, cheap and unguessable, so they are not limited.
func (s *Server) checkStaticSecret(r *http.Request, c *client, secret string) (matched bool, throttled *oauthError) {
	now := s.cfg.Now()
	addrKey, clientKey := "addr:"+s.clientAddr(r), "client:"+c.ID
	if s.clientAuth.exhausted(addrKey, now) || s.clientAuth.exhausted(clientKey, now) {
		s.log.Warn("client authentication throttled", zapClient(c.ID))
		return false, &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "too many wrong client secrets; retry later",
			retryAfter:  s.cfg.ClientAuthFailureWindow}
	}
	if bcrypt.CompareHashAndPassword([]byte(c.bcryptHash), []byte(secret)) == nil {
		return true, nil
	}
	s.clientAuth.allow(addrKey, now)
	s.clientAuth.allow(clientKey, now)
	return false, nil
}
