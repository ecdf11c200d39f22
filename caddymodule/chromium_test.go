package caddymodule_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// artifactsDir is where tests leave files for people to look at:
// $MCPGATE_ARTIFACTS (CI keeps it), else a temporary folder.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MCPGATE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// callbackRecorder is a client's redirect URI on loopback that hands over
// every URL the browser lands on.
func callbackRecorder(t *testing.T) (redirect string, landed <-chan *url.URL) {
	t.Helper()
	ch := make(chan *url.URL, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r) // the browser's own requests, such as /favicon.ico
			return
		}
		ch <- r.URL
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("You can close this page."))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/callback", ch
}

// awaitCallback waits for the browser to land on the redirect URI.
func awaitCallback(t *testing.T, landed <-chan *url.URL) url.Values {
	t.Helper()
	select {
	case u := <-landed:
		return u.Query()
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never reached the client's redirect URI")
		return nil
	}
}

// signInIfAsked fills and submits the login form when the page shows one
// (the second authorization in one browser may skip it), then waits for
// the consent form. It returns the consent page's text and whether it
// signed in.
func signInIfAsked(t *testing.T, p *page) (consent string, signedIn bool) {
	t.Helper()
	signedIn = p.waitFor(t, `document.querySelector("input[name=password]") ? "login" : document.querySelector("button[value=approve]") ? "consent" : ""`) == "login"
	if signedIn {
		p.waitFor(t, `(() => {
			document.querySelector("input[name=username]").value = `+jsString(testUser)+`;
			document.querySelector("input[name=password]").value = `+jsString(testPassword)+`;
			document.querySelector("form button[type=submit]").click();
			return "submitted";
		})()`)
	}
	return p.waitFor(t, `document.querySelector("button[value=approve]") ? document.body.innerText : ""`), signedIn
}

func TestLoginAndConsentPagesInChromium(t *testing.T) {
	browser := startChromium(t)
	g := startGateway(t, gatewayOptions{gateway: "scopes memory.read memory.write"})
	redirect, landed := callbackRecorder(t)
	clientID := registerClient(t, g, "Chromium Test App", redirect)
	conf := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirect,
		Scopes:      []string{"memory.read", "memory.write"},
		Endpoint:    oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	tab := browser.newPage(t)

	// Deny first: an approval is remembered for the user and client, and
	// the consent page would not be shown again.
	t.Run("deny", func(t *testing.T) {
		tab.do(t, "Page.navigate", map[string]any{"url": conf.AuthCodeURL("deny-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))})
		if _, signedIn := signInIfAsked(t, tab); !signedIn {
			t.Fatal("a fresh browser was not asked to sign in")
		}
		tab.waitFor(t, `(() => { document.querySelector("button[value=deny]").click(); return "clicked"; })()`)
		q := awaitCallback(t, landed)
		if q.Get("error") != "access_denied" || q.Get("state") != "deny-state" || q.Get("code") != "" {
			t.Fatalf("callback after Deny: %v, want error=access_denied with the state and no code", q)
		}
	})

	t.Run("approve", func(t *testing.T) {
		tab.do(t, "Page.navigate", map[string]any{"url": conf.AuthCodeURL("approve-state", oauth2.S256ChallengeOption(verifier))})
		consent, _ := signInIfAsked(t, tab)
		redirectHost := strings.TrimSuffix(strings.TrimPrefix(redirect, "http://"), "/callback")
		for _, want := range []string{"Chromium Test App", redirectHost, "memory.read", "memory.write", testUser} {
			if !strings.Contains(consent, want) {
				t.Errorf("consent page does not show %q:\n%s", want, consent)
			}
		}
		var shot struct{ Data string }
		json.Unmarshal(tab.do(t, "Page.captureScreenshot", map[string]any{"format": "png"}), &shot)
		png, _ := base64.StdEncoding.DecodeString(shot.Data)
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatal("the screenshot is not a PNG")
		}
		path := filepath.Join(artifactsDir(t), "consent.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("consent page screenshot: %s", path)

		tab.waitFor(t, `(() => { document.querySelector("button[value=approve]").click(); return "clicked"; })()`)
		q := awaitCallback(t, landed)
		if q.Get("code") == "" || q.Get("state") != "approve-state" || q.Get("iss") != g.base {
			t.Fatalf("callback after Allow: %v, want a code, the state and iss %s", q, g.base)
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, g.client)
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging the browser's code: %v", err)
		}
		if scope := tok.Extra("scope"); scope != "memory.read memory.write" {
			t.Fatalf("token scope %v, want the two scopes consented to", scope)
		}
	})
}
