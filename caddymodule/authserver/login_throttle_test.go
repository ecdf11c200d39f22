package authserver

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordLoginsAreThrottledPerAddress(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	e := newEnv(t, func(c *Config) {
		c.LoginAttempts = 3
		c.ClientIP = addr.clientIP
	})
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	_, page := b.get(authParams(c, challenge))
	for range 3 {
		form := formOf(t, page)
		form.Set("username", testUser)
		form.Set("password", "guess")
		var resp *http.Response
		resp, page = b.post(form)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `name="password"`) {
			t.Fatalf("wrong password: %d, want 401 and the login form again", resp.StatusCode)
		}
	}
	resp, _ := b.login(page)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt (right password) from the same address: %d, want 429", resp.StatusCode)
	}

	addr.Store("192.0.2.2")
	other := e.browser()
	_, page = other.get(authParams(c, challenge))
	if resp, page := other.login(page); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("another address during the throttle: %d, want the consent page", resp.StatusCode)
	}
}

func TestSuccessfulLoginsDoNotCountTowardTheLockout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LoginAttempts = 2 })
	c := e.publicClient()
	_, challenge := pkce()
	for i := range 5 {
		b := e.browser()
		_, page := b.get(authParams(c, challenge))
		if resp, page := b.login(page); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
			t.Fatalf("login %d: %d, want the consent page", i+1, resp.StatusCode)
		}
	}
	b := e.browser()
	_, page := b.get(authParams(c, challenge))
	for range 2 {
		form := formOf(t, page)
		form.Set("username", testUser)
		form.Set("password", "guess")
		var resp *http.Response
		if resp, page = b.post(form); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong password after five logins: %d, want 401", resp.StatusCode)
		}
	}
	if resp, _ := b.login(page); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after two failures: %d, want 429", resp.StatusCode)
	}
}

// TestParallelLoginGuessesStayWithinTheLimit sends more wrong passwords at
// once than the limit allows: each attempt is counted before its bcrypt
// comparison, so they cannot all pass the check together.
func TestParallelLoginGuessesStayWithinTheLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LoginAttempts = 3 })
	c := e.publicClient()
	_, challenge := pkce()
	entered, hold := make(chan struct{}, 10), make(chan struct{})
	e.srv.compareHash = func(hash, password []byte) error {
		entered <- struct{}{}
		<-hold
		return bcrypt.ErrMismatchedHashAndPassword
	}
	const n = 10
	statuses := make(chan int, n)
	for range n {
		b := e.browser()
		_, page := b.get(authParams(c, challenge))
		form := formOf(t, page)
		form.Set("username", testUser)
		form.Set("password", "guess")
		go func() {
			resp, _ := b.post(form)
			statuses <- resp.StatusCode
		}()
	}
	// Until every guess is refused or comparing; one comparison too many
	// ends the wait (the refusals would never all come).
	refused, compared := 0, 0
	for refused+compared < n && compared <= 3 {
		select {
		case s := <-statuses:
			if s != http.StatusTooManyRequests {
				t.Errorf("a guess beyond the limit: %d, want 429", s)
			}
			refused++
		case <-entered:
			compared++
		}
	}
	close(hold)
	if compared != 3 {
		t.Fatalf("%d password comparisons for a limit of 3", compared)
	}
	for range 3 {
		if s := <-statuses; s != http.StatusUnauthorized {
			t.Errorf("a guess within the limit: %d, want 401", s)
		}
	}
}

// TestUnknownUsersCostAsMuchAsKnownOnes: an unknown user name is checked
// with bcrypt against a dummy hash at the highest cost among the users,
// never against a real user's hash, so its timing matches the slowest user.
func TestUnknownUsersCostAsMuchAsKnownOnes(t *testing.T) {
	costlier, err := bcrypt.GenerateFromPassword([]byte("another"), bcrypt.MinCost+1)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Users = map[string]string{testUser: testUserHash, "bob": string(costlier)}
	})
	if cost, err := bcrypt.Cost(e.srv.dummyHash); err != nil || cost != bcrypt.MinCost+1 {
		t.Fatalf("dummy hash cost %d (%v), want the users' highest, %d", cost, err, bcrypt.MinCost+1)
	}
	var compared [][]byte
	e.srv.compareHash = func(hash, password []byte) error {
		compared = append(compared, hash)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	_, page := b.get(authParams(c, challenge))
	form := formOf(t, page)
	form.Set("username", "mallory")
	form.Set("password", testPassword)
	if resp, _ := b.post(form); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d, want 401", resp.StatusCode)
	}
	if len(compared) != 1 || string(compared[0]) != string(e.srv.dummyHash) {
		t.Fatalf("unknown user compared against %q, want the dummy hash once", compared)
	}
}
