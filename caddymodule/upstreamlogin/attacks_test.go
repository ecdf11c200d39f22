package upstreamlogin

import (
	"context"
	"testing"
)

// TestOIDCUsernameIsNotAnUnverifiedEmail: with the default username_claim
// (email), carol's account at the provider names carol@example.com, which
// the provider has not verified. Policies name users by that username
// (grant/allow users ...), so an unverified address must not become it:
// anyone able to type someone else's address into their profile at the
// provider would otherwise be that someone for the policy.
func TestOIDCUsernameIsNotAnUnverifiedEmail(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, nil)
	a := newAttempt()
	cb := signIn(t, idp, o, a, "carol", "carol-pw")
	id, err := o.Complete(context.Background(), a, cb)
	if err == nil && id.Username == "carol@example.com" {
		t.Fatalf("the unverified email address became the username policies match on: %+v", id)
	}
}
