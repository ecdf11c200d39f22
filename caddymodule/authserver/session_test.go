package authserver

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestSessionEndsWhenUserIsRemovedOrPasswordChanges(t *testing.T) {
	newHash, err := bcrypt.GenerateFromPassword([]byte("new password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, users := range map[string]map[string]string{
		"unchanged":        {testUser: testUserHash},
		"removed":          {"bob": testUserHash},
		"password changed": {testUser: string(newHash)},
	} {
		t.Run(name, func(t *testing.T) {
			first := newEnv(t, nil)
			c := first.publicClient()
			_, challenge := pkce()
			b := first.browser()
			b.authorize(authParams(c, challenge))
			// The same storage (cookie key) and origin, reconfigured.
			second := startEnv(t, first.clock, first.storage, func(cfg *Config) {
				cfg.Users = users
				cfg.Origin = func(*http.Request) string { return first.ts.URL }
			})
			b.e = second
			resp, page := b.get(authParams(c, challenge))
			signedIn := resp.StatusCode == http.StatusFound
			if want := name == "unchanged"; signedIn != want || !signedIn && !strings.Contains(page, `name="password"`) {
				t.Fatalf("signed in: %v, want %v (%d)", signedIn, want, resp.StatusCode)
			}
		})
	}
}
