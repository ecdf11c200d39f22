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

// TestUnknownUsersCostWhatSomeUserCosts: an unknown name is checked once,
// against a dummy hash (never a real user's), whose cost is that of the user
// the name's SHA-256 picks; with mixed costs, unknown names spread over
// every cost in use, so no cost marks a name as unknown.
func TestUnknownUsersCostWhatSomeUserCosts(t *testing.T) {
	costlier, err := bcrypt.GenerateFromPassword([]byte("another"), bcrypt.MinCost+1)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Users = map[string]string{testUser: testUserHash, "bob": string(costlier)}
	})
	var compared [][]byte
	e.srv.compareHash = func(hash, password []byte) error {
		compared = append(compared, hash)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	costs := map[int]bool{}
	for _, name := range []string{"mallory", "eve", "trudy", "oscar", "carol", "dave", "peggy", "victor"} {
		compared = nil
		c := e.publicClient()
		_, challenge := pkce()
		b := e.browser()
		_, page := b.get(authParams(c, challenge))
		form := formOf(t, page)
		form.Set("username", name)
		form.Set("password", testPassword)
		if resp, _ := b.post(form); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unknown user %s: %d, want 401", name, resp.StatusCode)
		}
		if len(compared) != 1 || string(compared[0]) == testUserHash || string(compared[0]) == string(costlier) {
			t.Fatalf("unknown user %s compared against %q, want one dummy hash", name, compared)
		}
		cost, _ := bcrypt.Cost(compared[0])
		costs[cost] = true
	}
	if !costs[bcrypt.MinCost] || !costs[bcrypt.MinCost+1] || len(costs) != 2 {
		t.Fatalf("unknown names cost %v, want both users' costs (%d and %d) and no other", costs, bcrypt.MinCost, bcrypt.MinCost+1)
	}
}
