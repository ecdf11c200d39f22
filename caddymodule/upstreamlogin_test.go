package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/caddymodule/internal/oidctest"
)

// The team's provider in these tests: a real OpenID provider (panva's
// oidc-provider) on loopback, with the gateway registered as a client.
const (
	idpClientID     = "mcpgate-test"
	idpClientSecret = "the-gateway-secret-at-the-provider"
)

func idpUsers() map[string]oidctest.User {
	return map[string]oidctest.User{
		"ann": {Password: "ann-pw", Email: "ann@example.com", Groups: []string{"eng"}},
		"bob": {Password: "bob-pw", Email: "bob@elsewhere.example", Groups: []string{"eng"}},
		"dan": {Password: "dan-pw", Email: "dan@example.com", Groups: []string{"ops"}},
	}
}

// startGatewayWithIDP runs a provider and a gateway whose login page offers
// "Sign in with Corp" beside the password form.
func startGatewayWithIDP(t *testing.T, tls bool, extra string, gatewayExtra ...string) (*gateway, *oidctest.Provider) {
	t.Helper()
	port := freePort(t)
	scheme := "http"
	if tls {
		scheme = "https"
	}
	idp := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{{ID: idpClientID, Secret: idpClientSecret, RedirectURIs: []string{scheme + "://localhost:" + port + "/login/corp/callback"}}},
		Users:   idpUsers(),
	})
	g := startGateway(t, gatewayOptions{tls: tls, port: port, gateway: fmt.Sprintf(`oidc corp {
			issuer %s
			client_id %s
			client_secret %s
			label Corp
			scopes openid email groups
			groups_claim %s
			%s
		}
		%s`, idp.Issuer, idpClientID, idpClientSecret, oidctest.GroupsClaim, extra, strings.Join(gatewayExtra, "\n"))})
	return g, idp
}

// subjectOf reads the sub claim of an access token (the gateway verified
// it; this only reads it).
func subjectOf(t *testing.T, token string) string {
	t.Helper()
	var c struct {
		Sub string `json:"sub"`
	}
	json.Unmarshal([]byte(jwtPayload(t, token)), &c)
	return c.Sub
}

func TestSignInWithOIDCInChromium(t *testing.T) {
	browser := startChromium(t)
	g, idp := startGatewayWithIDP(t, false, "")
	redirect, landed := callbackRecorder(t)
	conf := &oauth2.Config{
		ClientID:    registerClient(t, g, "Chromium Test App", redirect),
		RedirectURL: redirect,
		Endpoint:    oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	tab := browser.newPage(t)
	tab.do(t, "Page.navigate", map[string]any{"url": conf.AuthCodeURL("oidc-state", oauth2.S256ChallengeOption(verifier))})
	// The login page: the password form and the provider's button.
	tab.waitFor(t, `(() => {
		const b = [...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Sign in with Corp");
		if (!b || !document.querySelector("input[name=password]")) return "";
		b.click();
		return "clicked";
	})()`)
	// The provider's own sign-in form.
	tab.waitFor(t, `(() => {
		const f = document.querySelector("input[name=login]");
		if (!f) return "";
		f.value = "ann";
		document.querySelector("input[name=password]").value = "ann-pw";
		document.querySelector("button[type=submit]").click();
		return "submitted";
	})()`)
	consent := tab.waitFor(t, `document.querySelector("button[value=approve]") ? document.body.innerText : ""`)
	if !strings.Contains(consent, "ann@example.com") {
		t.Errorf("the consent page does not name the user by email:\n%s", consent)
	}
	tab.waitFor(t, `(() => { document.querySelector("button[value=approve]").click(); return "clicked"; })()`)
	q := awaitCallback(t, landed)
	if q.Get("code") == "" || q.Get("state") != "oidc-state" {
		t.Fatalf("callback: %v", q)
	}
	tok, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, g.client), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if sub := subjectOf(t, tok.AccessToken); sub != idp.Issuer+"#ann" {
		t.Errorf("access token sub %q, want the provider's user %q", sub, idp.Issuer+"#ann")
	}
}

func TestTypeScriptSDKClientSignsInWithOIDC(t *testing.T) {
	g, idp := startGatewayWithIDP(t, true, "")
	r := runTSClientAs(t, g, "ts-sdk-oidc", func(b *browsertest.Browser, authURL string) (*url.URL, error) {
		return b.AuthorizeUpstream(authURL, idp.Issuer, "Corp", "ann", "ann-pw", "approve")
	})
	if names := fmt.Sprint(r["tools"]["names"]); !strings.Contains(names, "create_entities") {
		t.Errorf("tools/list through the gateway: %s", names)
	}
	if r["create"]["isError"] != false {
		t.Errorf("create_entities failed: %v", r["create"])
	}
	if ref := r["refreshed"]; ref["rotated"] != true || ref["askedUserAgain"] != false || ref["found"] != true {
		t.Errorf("after refresh: %v (want rotated, not asked again, entity found)", ref)
	}
}

func TestMCPRemoteSignsInWithOIDC(t *testing.T) {
	g, idp := startGatewayWithIDP(t, true, "")
	runMCPRemote(t, g, func(b *browsertest.Browser, authURL string) (*url.URL, error) {
		return b.AuthorizeUpstream(authURL, idp.Issuer, "Corp", "ann", "ann-pw", "approve")
	})
}

func TestOIDCSignInRefusalsShowAPage(t *testing.T) {
	g, idp := startGatewayWithIDP(t, false, "allowed_domains example.com")
	redirect, _ := callbackRecorder(t)
	conf := &oauth2.Config{
		ClientID: registerClient(t, g, "Refusals", redirect), RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token"},
	}
	authURL := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err := browsertest.New(g.client.Transport).AuthorizeUpstream(authURL, idp.Issuer, "Corp", "bob", "bob-pw", "approve")
	if err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "accounts of elsewhere.example are not allowed here") {
		t.Errorf("a user of another domain: %v", err)
	}
}

func TestOIDCProviderDownShowsAPage(t *testing.T) {
	g, idp := startGatewayWithIDP(t, false, "")
	idp.Stop()
	redirect, _ := callbackRecorder(t)
	conf := &oauth2.Config{
		ClientID: registerClient(t, g, "Provider down", redirect), RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token"},
	}
	authURL := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err := browsertest.New(g.client.Transport).AuthorizeUpstream(authURL, idp.Issuer, "Corp", "ann", "ann-pw", "approve")
	if err == nil || !strings.Contains(err.Error(), "status 502") || !strings.Contains(err.Error(), "could not be reached") {
		t.Errorf("the provider down: %v", err)
	}
	// The password form still works.
	if _, err := browsertest.New(g.client.Transport).Authorize(authURL, testUser, testPassword, "approve"); err != nil {
		t.Errorf("password sign-in with the provider down: %v", err)
	}
}

// TestPolicyForUsersOfTheProvider: grants by domain and group, and a
// resource only the provider's eng group (corp:eng) may use, for users of
// the real provider.
func TestPolicyForUsersOfTheProvider(t *testing.T) {
	g, idp := startGatewayWithIDP(t, false, "", `scopes memory.read memory.write
		allow {
			groups corp:eng
		}
		grant memory.read {
			domains example.com
		}
		grant memory.write {
			groups corp:editors
		}`)
	redirect, _ := callbackRecorder(t)
	conf := &oauth2.Config{
		ClientID: registerClient(t, g, "Policy", redirect), RedirectURL: redirect, Scopes: []string{"memory.read", "memory.write"},
		Endpoint: oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	signIn := func(login string) (*url.URL, string, error) {
		verifier := oauth2.GenerateVerifier()
		back, err := browsertest.New(g.client.Transport).AuthorizeUpstream(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), idp.Issuer, "Corp", login, login+"-pw", "approve")
		return back, verifier, err
	}
	// ann: eng, example.com, not an editor: memory.read only.
	back, verifier, err := signIn("ann")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, g.client), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if scope := tok.Extra("scope"); scope != "memory.read" {
		t.Errorf("ann's token scope %v, want memory.read alone", scope)
	}
	// The backend's groups header comes from this claim: the provider's
	// groups named as the policy names them.
	var claims struct {
		Groups []string `json:"groups"`
	}
	if err := json.Unmarshal([]byte(jwtPayload(t, tok.AccessToken)), &claims); err != nil || !slices.Equal(claims.Groups, []string{"corp:eng"}) {
		t.Errorf("ann's token groups %q (%v), want [corp:eng]", claims.Groups, err)
	}
	// bob: eng, but of another domain and not an editor: nothing to hold.
	if _, _, err := signIn("bob"); err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "may not hold any of what") {
		t.Errorf("bob: %v", err)
	}
	// dan: example.com, but not in eng: kept off the resource.
	if _, _, err := signIn("dan"); err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "may not use the MCP server") {
		t.Errorf("dan: %v", err)
	}
}
