package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWrongClientSecretsThrottleTheAddressNotTheClient(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	e := newEnv(t, func(c *Config) {
		c.ClientAuthFailures = 3
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}, {ID: "ci2", SecretHash: testUserHash}}
		c.ClientIP = addr.clientIP
	})
	token := func(id, secret string) (int, map[string]any, http.Header) {
		return e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	}
	for range 3 {
		status, m, _ := token("ci", "guess")
		wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
	}
	throttled := func(what string, status int, m map[string]any, h http.Header) {
		t.Helper()
		if status != http.StatusTooManyRequests || m["error"] != "temporarily_unavailable" || h.Get("Retry-After") != "300" {
			t.Fatalf("%s: %d %v Retry-After=%q, want 429 temporarily_unavailable", what, status, m, h.Get("Retry-After"))
		}
	}
	status, m, h := token("ci", "another guess")
	throttled("a fourth guess", status, m, h)
	status, m, h = e.postForm("/revoke", url.Values{"token": {"x"}}, "ci", "guess")
	throttled("revocation", status, m, h)
	status, m, h = token("ci2", "guess")
	throttled("another client from the same address", status, m, h)

	// The guesses locked out the guessing address, not the client.
	addr.Store("198.51.100.7")
	if status, m, _ := token("ci", testPassword); status != http.StatusOK {
		t.Fatalf("the real client from another address right after the guesses: %d %v", status, m)
	}
	// Now its secret is known good: it passes without bcrypt even from the
	// throttled address (someone behind the same NAT as the attacker).
	addr.Store("192.0.2.1")
	if status, m, _ := token("ci", testPassword); status != http.StatusOK {
		t.Fatalf("the verified secret from the throttled address: %d %v", status, m)
	}
	status, m, h = token("ci", "guess")
	throttled("a guess from the throttled address after the right secret", status, m, h)
	// ci2's secret was never verified, so from here it still waits.
	status, m, h = token("ci2", testPassword)
	throttled("an unverified secret from the throttled address", status, m, h)

	// A right secret does not use up the address's failure budget.
	addr.Store("203.0.113.9")
	for range 2 {
		status, m, _ := token("ci2", "guess")
		wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
	}
	if status, m, _ := token("ci2", testPassword); status != http.StatusOK {
		t.Fatalf("the right secret after two guesses: %d %v", status, m)
	}
	status, m, _ = token("ci2", "guess")
	wantError(t, status, m, http.StatusUnauthorized, "invalid_client")

	addr.Store("192.0.2.1")
	e.clock.Advance(5 * time.Minute)
	if status, m, _ := token("ci2", testPassword); status != http.StatusOK {
		t.Fatalf("after the window: %d %v", status, m)
	}
}

// TestClientSecretChecksAreBoundedAndNeverQueue floods a pre-registered
// client with wrong secrets from many addresses while every admitted bcrypt
// comparison is held: only the bounded number runs, and everyone else is
// answered at once with 429 or 503 and Retry-After instead of waiting.
func TestClientSecretChecksAreBoundedAndNeverQueue(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		perClient, global, suspect int
		clients                    []string
		oneAddress, suspects       bool
		admitted                   int
	}{
		{"per client, from suspect addresses", 2, 100, 100, []string{"ci"}, false, true, 2},
		{"suspects in all", 100, 100, 3, []string{"ci", "ci2"}, false, true, 3},
		{"in all", 100, 3, 3, []string{"ci", "ci2"}, false, false, 3},
		{"per address", 100, 100, 100, []string{"ci"}, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.ClientAuthFailures = 1000
				c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}, {ID: "ci2", SecretHash: testUserHash}}
				c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Addr") }
			})
			e.srv.secretChecks.perClient = tc.perClient
			e.srv.secretChecks.global = make(chan struct{}, tc.global)
			e.srv.secretChecks.suspect = make(chan struct{}, tc.suspect)
			addrOf := func(i int) string {
				if tc.oneAddress {
					return "203.0.113.1"
				}
				return "203.0.113." + strconv.Itoa(i+1)
			}
			if tc.suspects { // each address has guessed wrong before
				for i := range 30 {
					e.srv.secretChecks.failures.reserve(e.clock.Now(), "addr:"+addrOf(i))
				}
			}
			entered, hold := make(chan struct{}, 100), make(chan struct{})
			e.srv.compareHash = func(hash, password []byte) error {
				entered <- struct{}{}
				<-hold
				return errors.New("wrong")
			}

			const perClient = 30
			type answer struct {
				status             int
				contentType, retry string
			}
			answers := make(chan answer)
			var wg sync.WaitGroup
			for _, id := range tc.clients {
				for i := range perClient {
					wg.Add(1)
					go func() {
						defer wg.Done()
						form := url.Values{"grant_type": {"client_credentials"}}
						req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/token", strings.NewReader(form.Encode()))
						req.Header = formHeader.Clone()
						req.Header.Set("X-Test-Addr", addrOf(i))
						req.SetBasicAuth(id, "guess")
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						resp.Body.Close()
						answers <- answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")}
					}()
				}
			}
			// Wait until every request is refused or comparing, failing as
			// soon as one comparison too many starts (then the refusals
			// would never all come).
			total := perClient * len(tc.clients)
			refused, started := 0, 0
			for refused+started < total && started <= tc.admitted {
				select {
				case a := <-answers:
					if (a.status != http.StatusTooManyRequests && a.status != http.StatusServiceUnavailable) || a.retry != "1" || a.contentType != "application/json" {
						t.Errorf("a request beyond the bound: %+v, want 429 or 503 JSON with Retry-After: 1", a)
					}
					refused++
				case <-entered:
					started++
				}
			}
			close(hold)
			if started != tc.admitted {
				t.Errorf("%d comparisons ran at once, want %d", started, tc.admitted)
			}
			go func() {
				for range answers {
				}
			}()
			wg.Wait()
			close(answers)
		})
	}
}
