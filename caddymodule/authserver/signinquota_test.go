package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// pendingSignIns counts the sign-ins at providers kept in storage.
func (e *env) pendingSignIns() int {
	e.t.Helper()
	names, err := e.srv.store.list(context.Background(), nsUpstream)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if !strings.Contains(name, "/session-") {
			n++
		}
	}
	return n
}

// startSignIn sends a browser that has no cookies to /login/<name> for
// q, as a stranger's script does.
func (e *env) startSignIn(u *fakeUpstream, q string) (*http.Response, string) {
	e.t.Helper()
	return e.do(http.MethodGet, "/login/"+u.name+"?"+q, nil, "")
}

func TestOverlongAuthorizationParametersAreRefusedAndNothingIsStored(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	c := e.publicClient()
	_, challenge := pkce()
	for _, tc := range []struct{ param, value, want string }{
		{"state", strings.Repeat("s", 2049), "state is longer than 2048 bytes"},
		{"scope", "mcp " + strings.Repeat("x", 1021), "scope is longer than 1024 bytes"},
		{"resource", e.ts.URL + "/mcp?" + strings.Repeat("r", 2048), "resource is longer than 2048 bytes"},
		// Loopback redirect URIs match under any port: only the bound
		// stops a port of a megabyte of digits.
		{"redirect_uri", "http://127.0.0.1:" + strings.Repeat("1", 2040) + "/callback", "The request&#39;s redirect_uri is longer than 2048 bytes."},
	} {
		q := authParams(c, challenge)
		q.Set(tc.param, tc.value)
		for _, path := range []string{"/login/" + u.name, "/authorize"} {
			resp, page := e.do(http.MethodGet, path+"?"+q.Encode(), nil, "")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, tc.want) {
				t.Errorf("%s with %s of %d bytes: %d, want 400 saying %q\n%s", path, tc.param, len(tc.value), resp.StatusCode, tc.want, page)
			}
			if strings.Contains(page, tc.value) {
				t.Errorf("%s echoes the oversized %s", path, tc.param)
			}
		}
	}
	if n := e.pendingSignIns(); n != 0 || len(u.attempts) != 0 {
		t.Fatalf("refused requests stored %d sign-ins and sent %d to the provider", n, len(u.attempts))
	}

	// At the limit, the request is a normal one.
	q := authParams(c, challenge)
	q.Set("state", strings.Repeat("s", 2048))
	b := e.browser()
	state := b.startUpstream(u, q)
	resp, _ := b.callback(u, state, "good-code")
	loc := location(t, resp)
	if got := loc.Query().Get("state"); got != q.Get("state") {
		t.Fatalf("a state of 2048 bytes did not survive the sign-in: %d bytes", len(got))
	}
}

func TestAnOversizedStateIsNotRedirectedBack(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	b.authorize(authParams(c, challenge)) // signed in, client approved: errors are redirected
	q := authParams(c, challenge)
	q.Set("state", strings.Repeat("s", 4096))
	resp, _ := b.get(q)
	loc := location(t, resp)
	if loc.Query().Get("error") != "invalid_request" || loc.Query().Get("error_description") != "state is longer than 2048 bytes" {
		t.Errorf("redirected error %q", loc.RawQuery)
	}
	if loc.Query().Has("state") {
		t.Errorf("the oversized state was sent back (%d bytes)", len(loc.Query().Get("state")))
	}
}

func TestRegisteredRedirectURIsShareTheBound(t *testing.T) {
	e := newEnv(t, nil)
	long := "https://app.example/" + strings.Repeat("p", maxRedirectURI)
	resp, body := e.do(http.MethodPost, "/register", http.Header{"Content-Type": {"application/json"}},
		`{"redirect_uris":["`+long+`"],"token_endpoint_auth_method":"none"}`)
	status, m := resp.StatusCode, decodeObject(t, body)
	if status != http.StatusBadRequest || m["error"] != "invalid_redirect_uri" || !strings.Contains(m["error_description"].(string), "longer than 2048 bytes") {
		t.Fatalf("registering a redirect URI that authorization would refuse: %d %v", status, m)
	}
}

func TestRepeatedParameterErrorsDoNotEchoLongNames(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	name := strings.Repeat("n", 10000)
	q := authParams(c, challenge)
	q.Add(name, "1")
	q.Add(name, "2")
	resp, page := e.do(http.MethodGet, "/authorize?"+q.Encode(), nil, "")
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(page, name) || !strings.Contains(page, "is repeated") {
		t.Fatalf("repeated parameter with a long name: %d, %d bytes of page", resp.StatusCode, len(page))
	}
}

func TestSignInStartsAreLimitedPerAddress(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	u := corp()
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.SignInStarts = 3
		c.ClientIP = addr.clientIP
	})
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge).Encode()

	// A normal sign-in, completed: it does not count.
	b := e.browser()
	resp, _ := b.callback(u, b.startUpstream(u, authParams(c, challenge)), "good-code")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	for i := range 3 {
		if resp, page := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
			t.Fatalf("start %d: %d\n%s", i+1, resp.StatusCode, page)
		}
	}
	e.clock.Advance(4 * time.Minute)
	resp, page := e.startSignIn(u, q)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "360" || !strings.Contains(page, "Too many sign-ins") {
		t.Fatalf("fourth start from one address: %d Retry-After %q, want 429 and the rest of the window (360)\n%s",
			resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	if n := e.pendingSignIns(); n != 3 {
		t.Fatalf("%d sign-ins stored, want the 3 allowed", n)
	}

	// Another address is not affected, nor this one once the window ends.
	addr.Store("2001:db8::1")
	if resp, _ := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	addr.Store("192.0.2.1")
	e.clock.Advance(6 * time.Minute)
	if resp, _ := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

func TestPendingSignInsAreCappedInAll(t *testing.T) {
	var addr testAddr
	addr.Store("198.51.1.1")
	u := corp()
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.MaxPendingSignIns = 2
		c.ClientIP = addr.clientIP
	})
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge).Encode()
	for i := range 2 {
		// A botnet: each address, of a network and region of its own,
		// starts one.
		addr.Store(fmt.Sprintf("198.%d.1.1", 51+i))
		if resp, _ := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
			t.Fatalf("start %d: %d", i+1, resp.StatusCode)
		}
	}
	addr.Store("198.59.9.1")
	resp, page := e.startSignIn(u, q)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "600" || !strings.Contains(page, "too many sign-ins in progress") {
		t.Fatalf("start beyond the cap: %d Retry-After %q, want 503\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	if n := e.pendingSignIns(); n != 2 {
		t.Fatalf("%d sign-ins stored, want 2", n)
	}
	// The address refused by the cap kept its own quota.
	if got := e.srv.signIns.perAddr.count("198.59.9.1", e.clock.Now()); got != 0 {
		t.Errorf("the refused start counted %d against its address", got)
	}
}

func TestSignInsThatStoreNothingDoNotCount(t *testing.T) {
	u := corp()
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.SignInStarts = 1
	})
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge).Encode()
	u.startErr = errors.New("provider down")
	for range 2 {
		if resp, _ := e.startSignIn(u, q); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("provider down: %d, want 502", resp.StatusCode)
		}
	}
	u.startErr = nil
	if resp, page := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
		t.Fatalf("first sign-in stored, after two that stored nothing: %d\n%s", resp.StatusCode, page)
	}
}

// A completed sign-in is given back to the address that started it, in
// the window that counted it (review 6): a browser that started over IPv6
// and came back over IPv4 left the charge on its start address and
// lowered the other's count instead; a window that ended has nothing to
// give back, and the one running keeps its count.
func TestACompletedSignInIsGivenBackWhereAndWhenItWasCounted(t *testing.T) {
	var addr testAddr
	u := corp() // ann, group eng
	e := policyEnv(t, u, func(c *Config) {
		c.SignInStarts = 2
		c.SignInStartWindow = 5 * time.Minute // shorter than a sign-in may take
		c.ClientIP = addr.clientIP
	})
	start, back := "2001:db8:5::1", "203.0.113.9"
	addr.Store(back)
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	count := func(ip string) int {
		return e.srv.signIns.perAddr.count(addressKey(netip.MustParseAddr(ip)), e.clock.Now())
	}

	if resp, _ := e.startSignIn(u, q.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("a start from %s: %d", back, resp.StatusCode)
	}
	b := e.browser()
	addr.Store(start)
	state := b.startUpstream(u, q)
	addr.Store(back)
	if resp, page := b.finishSignIn(u, state, q); resp.StatusCode != http.StatusOK {
		t.Fatalf("the sign-in: %d\n%s", resp.StatusCode, page)
	}
	if got := count(start); got != 0 {
		t.Errorf("the start address still has %d counted after its sign-in completed", got)
	}
	if got := count(back); got != 1 {
		t.Errorf("the callback's address has %d counted, want its own 1", got)
	}

	// Started in one window, completed in the next: the new window's
	// count stays.
	b = e.browser()
	addr.Store(start)
	state = b.startUpstream(u, q)
	e.clock.Advance(4 * time.Minute)
	if resp, _ := e.startSignIn(u, q.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("a second start: %d", resp.StatusCode)
	}
	e.clock.Advance(2 * time.Minute) // the window that counted both ended
	if resp, _ := e.startSignIn(u, q.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("a start in the next window: %d", resp.StatusCode)
	}
	if resp, page := b.finishSignIn(u, state, q); resp.StatusCode != http.StatusOK {
		t.Fatalf("the sign-in completed in the next window: %d\n%s", resp.StatusCode, page)
	}
	if got := count(start); got != 1 {
		t.Errorf("the next window has %d counted after a sign-in of the window before completed, want 1", got)
	}
}
