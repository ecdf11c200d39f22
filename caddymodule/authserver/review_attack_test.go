package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Rule 5 (never refuse a correct secret because others guessed wrong): the
// per-client bound on bcrypt comparisons is shared by the attacker and the
// real client. Until the real secret has been verified once by this
// process (after every start or reload), an attacker who keeps two wrong
// guesses comparing, from addresses the failure limit has not throttled
// yet, gets the real client refused with 429. With a cost-12 hash each
// guess holds its slot for about a quarter second, so a few addresses (or
// IPv6 /64s) keep the client locked out for as long as they like. The
// global bound (GOMAXPROCS slots) does the same to every pre-registered
// client at once with 503.
func TestReviewGuessesHoldingTheSlotsRefuseTheRightSecret(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}}
		c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Addr") }
	})
	entered, hold := make(chan struct{}), make(chan struct{})
	e.srv.compareHash = func(hash, password []byte) error {
		if string(password) == "guess" {
			entered <- struct{}{}
			<-hold // a slow bcrypt comparison, held while the real client comes
			return errors.New("wrong")
		}
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	done := make(chan struct{})
	for i := range secretChecksPerClient {
		go func() {
			defer func() { done <- struct{}{} }()
			form := url.Values{"grant_type": {"client_credentials"}}
			req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/token", strings.NewReader(form.Encode()))
			req.Header = formHeader.Clone()
			req.Header.Set("X-Test-Addr", "203.0.113."+string(rune('1'+i)))
			req.SetBasicAuth("ci", "guess")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for range secretChecksPerClient {
		<-entered
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/token", strings.NewReader(form.Encode()))
	req.Header = formHeader.Clone()
	req.Header.Set("X-Test-Addr", "198.51.100.7")
	req.SetBasicAuth("ci", testPassword)
	resp, err := http.DefaultClient.Do(req)
	close(hold)
	for range secretChecksPerClient {
		<-done
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the real client's right secret while two guesses compare: %d, want 200", resp.StatusCode)
	}
}

// Rule 9 (no user-name oracle): the dummy hash has the highest cost among
// users, so when costs differ every user below it answers faster than an
// unknown name. Mixed costs are the common case, not an edge: first_user
// hashes at bcrypt.DefaultCost (10), `caddy hash-password` at 14,
// `htpasswd -B` at 5. With first_user admin and one user added by
// hash-password, "admin" answers about sixteen times faster than any
// name that does not exist.
func TestReviewUsersBelowTheHighestCostStandOut(t *testing.T) {
	costlier, err := bcrypt.GenerateFromPassword([]byte("another"), bcrypt.MinCost+2)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Users = map[string]string{testUser: testUserHash, "bob": string(costlier)}
	})
	work := 0 // bcrypt rounds spent on the attempt, 2^cost per comparison
	e.srv.compareHash = func(hash, password []byte) error {
		cost, _ := bcrypt.Cost(hash)
		work += 1 << cost
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	attempt := func(user string) int {
		work = 0
		c := e.publicClient()
		_, challenge := pkce()
		b := e.browser()
		_, page := b.get(authParams(c, challenge))
		form := formOf(t, page)
		form.Set("username", user)
		form.Set("password", "wrong")
		if resp, _ := b.post(form); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong password: %d, want 401", user, resp.StatusCode)
		}
		return work
	}
	unknown, known := attempt("mallory"), attempt(testUser)
	if known != unknown {
		t.Fatalf("a wrong password costs %d bcrypt rounds for the user %q and %d for an unknown name: the timing tells which names exist", known, testUser, unknown)
	}
}
