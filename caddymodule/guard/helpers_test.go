package guard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

const testOrigin = "https://gw.example"

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// fixture is a guard over a fake authorization server.
type fixture struct {
	t     testing.TB
	as    *guardtest.Issuer
	clock *clock
	guard *Guard
}

func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, as: guardtest.NewIssuer(t, "k1"), clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	cfg := Config{
		Origin: func(*http.Request) string { return testOrigin },
		Scopes: []string{"mcp"},
		Now:    f.clock.now,
	}
	if edit != nil {
		edit(&cfg)
	}
	g, err := New(cfg, f.as, f.as)
	if err != nil {
		t.Fatal(err)
	}
	f.guard = g
	return f
}

// claims returns valid claims for the test resource at the fixture's time.
func (f *fixture) claims() map[string]any {
	return guardtest.Claims(testOrigin, "/mcp", f.clock.now())
}

// token mints a token with the issuer's key, after edit changes the claims.
func (f *fixture) token(edit func(map[string]any)) string {
	c := f.claims()
	if edit != nil {
		edit(c)
	}
	return f.as.Mint(f.t, c)
}

// admitted is what the backend saw, or nil when Admit refused.
type admitted struct {
	header   http.Header
	identity Identity
}

// admit runs Admit on a POST /mcp with the given Authorization value.
func (f *fixture) admit(authorization string, extra http.Header) (*httptest.ResponseRecorder, *admitted) {
	r := httptest.NewRequest(http.MethodPost, testOrigin+"/mcp", nil)
	for k, v := range extra {
		r.Header[k] = v
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	out, ok := f.guard.Admit(w, r)
	if !ok {
		return w, nil
	}
	id, _ := IdentityFrom(out.Context())
	return w, &admitted{header: out.Header, identity: id}
}
