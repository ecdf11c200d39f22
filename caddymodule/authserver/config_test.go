package authserver

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateExplainsEveryMistake(t *testing.T) {
	cfg := Config{
		ResourcePaths: []string{"mcp"},
		Scopes:        []string{"mcp", "bad scope"},
		DefaultScopes: []string{"other"},
		CodeLifetime:  -time.Second,
		Registration:  RegistrationPolicy{Mode: "sometimes"},
		Clients: []StaticClient{
			{ID: "a", SecretHash: "plaintext"},
			{ID: "a", RedirectURIs: []string{"http://example.com/cb"}},
			{ID: "b"},
			{ID: "c", RedirectURIs: []string{"view-source:https://app.example/cb"}},
		},
		Users: map[string]string{"bob": "secret"},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"origin", `resource path "mcp"`, `scope "bad scope"`, `default scope "other"`, "code lifetime",
		`registration mode "sometimes"`, `client "a": secret hash is not a bcrypt hash`, `client "a": declared twice`,
		`plain http`, `client "b": a public client`, `user "bob": password hash`,
		`client "c": redirect URI "view-source:https://app.example/cb": the scheme "view-source" is not allowed`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := New(cfg, nil, nil); err == nil {
		t.Fatal("New accepted an invalid config")
	}
}

func TestConfigNeedsAnIdentitySourceAndTokenForTokenMode(t *testing.T) {
	origin := func(*http.Request) string { return "https://h" }
	err := Config{Origin: origin, Registration: RegistrationPolicy{Mode: RegistrationToken}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "no identity source") || !strings.Contains(err.Error(), "initial access token") {
		t.Fatalf("%v", err)
	}
	if err := (Config{Origin: origin, Users: map[string]string{"a": testUserHash}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.AccessTokenLifetime != time.Hour || c.RefreshTokenLifetime != 720*time.Hour || c.CodeLifetime != time.Minute ||
		c.RefreshReuseGrace != 10*time.Second || c.Registration.Mode != RegistrationOpen || c.ResourcePaths[0] != "/mcp" ||
		c.Scopes[0] != "mcp" || c.MaxBodyBytes != 64<<10 || c.StoragePrefix != "mcpgate/authserver" ||
		c.ClientAuthFailures != 10 || c.ClientAuthFailureWindow != 5*time.Minute ||
		c.Registration.UnusedClientLifetime != 24*time.Hour {
		t.Fatalf("%+v", c)
	}
}
