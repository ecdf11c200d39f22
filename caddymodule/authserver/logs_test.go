package authserver

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestLogsCarryIDsButNoSecrets runs registration, login, code exchange,
// refresh, a reuse, a failed client authentication and revocation, and
// checks the log: client_id, sub and grant_type are there; no token, code,
// secret or password is.
func TestLogsCarryIDsButNoSecrets(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := startLoggedEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, zap.New(core), func(c *Config) { c.RefreshReuseGrace = -1 })
	run := e.confidentialFlow()
	conf, code, verifier, tok, fresh, refresh := run.client, run.code, run.verifier, run.first, run.second, run.refresh
	e.postForm("/token", refresh, "", "") // reuse: revokes the family
	e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, conf.id, "wrong-secret")
	e.postForm("/revoke", url.Values{"token": {fresh.access}, "client_id": {conf.id}, "client_secret": {conf.secret}}, "", "")

	var all strings.Builder
	fields := map[string]bool{}
	for _, entry := range logs.All() {
		fmt.Fprintln(&all, entry.Message, entry.ContextMap())
		for k := range entry.ContextMap() {
			fields[k] = true
		}
	}
	for _, f := range []string{"client_id", "sub", "grant_type"} {
		if !fields[f] {
			t.Errorf("no log entry has %s:\n%s", f, all.String())
		}
	}
	for name, secret := range map[string]string{
		"code": code, "verifier": verifier, "access token": tok.access, "refresh token": tok.refresh,
		"rotated refresh token": fresh.refresh, "client secret": conf.secret, "password": testPassword,
		"refresh secret part": strings.SplitN(tok.refresh, ".", 2)[1],
	} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// A stranger's 39 KB user name at the login form is logged cut short (at
// a character boundary): the form's size bound must not become the log
// line's.
func TestLoggedUserNamesAreBounded(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := startLoggedEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, zap.New(core), nil)
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	_, page := b.get(authParams(c, challenge))
	form := formOf(t, page)
	form.Set("username", strings.Repeat("a", maxLoggedInput-1)+strings.Repeat("é", 10)+strings.Repeat("a", 39_000))
	form.Set("password", "guess")
	b.post(form)
	failed := logs.FilterMessage("login failed").All()
	if len(failed) != 1 {
		t.Fatalf("%d 'login failed' entries", len(failed))
	}
	name, _ := failed[0].ContextMap()["username"].(string)
	if len(name) > maxLoggedInput+32 || !strings.HasSuffix(name, "(39275 bytes)") || !utf8.ValidString(name) {
		t.Errorf("logged user name of %d bytes: %.80q…", len(name), name)
	}
}
