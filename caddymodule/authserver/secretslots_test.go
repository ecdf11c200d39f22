package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Never refuse a correct secret because others guessed wrong: when the
// per-client bound was shared by every address, an attacker who kept two
// wrong guesses comparing (before the real secret was verified once by this
// process, i.e. after every start) got the real client refused with 429.
// Now guesses from addresses with failures share the per-client slots and
// half of the server's, and an address without failures is bounded only
// by its own one-at-a-time and the server's other half.
func TestGuessesHoldingSlotsDoNotRefuseTheRightSecret(t *testing.T) {
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
