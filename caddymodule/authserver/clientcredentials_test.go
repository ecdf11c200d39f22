package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const testInitialAccessToken = "initial-access-token-for-tests"

// allowClientCredentials sets registration mode token with
// AllowClientCredentials.
func allowClientCredentials(c *Config) {
	c.Registration = RegistrationPolicy{Mode: RegistrationToken, InitialAccessToken: testInitialAccessToken, AllowClientCredentials: true}
}

// registerWithToken registers a client with the initial access token.
func (e *env) registerWithToken(meta map[string]any) registered {
	e.t.Helper()
	b, _ := json.Marshal(meta)
	resp, body := e.do(http.MethodPost, "/register", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + testInitialAccessToken}}, string(b))
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	m := decodeObject(e.t, body)
	secret, _ := m["client_secret"].(string)
	return registered{id: m["client_id"].(string), secret: secret}
}

var ccForm = url.Values{"grant_type": {"client_credentials"}}

func grantTypesAdvertised(t *testing.T, e *env) []string {
	t.Helper()
	_, body := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", nil, "")
	return stringList(decodeObject(t, body)["grant_types_supported"])
}

// The attack of issue 8: a stranger registers a confidential client for
// client_credentials and mints a token that acts for nobody, with every
// scope.
func TestSelfRegisteredClientsCannotAskForClientCredentials(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"open": nil,
		"token without opt-in": func(c *Config) {
			allowClientCredentials(c)
			c.Registration.AllowClientCredentials = false
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, mutate)
			for _, grants := range [][]string{{"client_credentials"}, {"authorization_code", "client_credentials"}} {
				b, _ := json.Marshal(map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "grant_types": grants})
				resp, body := e.do(http.MethodPost, "/register", http.Header{"Authorization": {"Bearer " + testInitialAccessToken}}, string(b))
				wantError(t, resp.StatusCode, decodeObject(t, body), 400, "invalid_client_metadata")
			}
			if got := grantTypesAdvertised(t, e); slices.Contains(got, "client_credentials") {
				t.Fatalf("metadata advertises a grant no client can use: %v", got)
			}
		})
	}
}

func TestClientCredentialsForClientsRegisteredWithTheInitialAccessToken(t *testing.T) {
	e := newEnv(t, allowClientCredentials)
	conf := e.registerWithToken(map[string]any{"grant_types": []string{"client_credentials"}})
	status, m, _ := e.postForm("/token", ccForm, conf.id, conf.secret)
	cl := e.claimsOf(tokensOf(t, status, m).access)
	if cl.GrantType != "client_credentials" || cl.Subject != conf.id || !strings.HasPrefix(cl.GrantID, clientSIDPrefix) {
		t.Fatalf("a token without a user must say so: %+v", cl)
	}
	if got := grantTypesAdvertised(t, e); !slices.Contains(got, "client_credentials") {
		t.Fatalf("grant_types_supported %v lacks client_credentials", got)
	}
	// A user's token carries no gty.
	if cl := e.claimsOf(e.codeFlow(e.registerWithToken(map[string]any{"redirect_uris": []string{"http://127.0.0.1:1/cb"}, "token_endpoint_auth_method": "none"})).access); cl.GrantType != "" {
		t.Fatalf("user token with gty %q", cl.GrantType)
	}
}

func TestPreRegisteredClientsKeepClientCredentials(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Clients = []StaticClient{{ID: "ci-bot", SecretHash: testUserHash}} })
	status, m, _ := e.postForm("/token", ccForm, "ci-bot", testPassword)
	if cl := e.claimsOf(tokensOf(t, status, m).access); cl.GrantType != "client_credentials" || cl.Subject != "ci-bot" {
		t.Fatalf("claims %+v", cl)
	}
	if got := grantTypesAdvertised(t, e); !slices.Contains(got, "client_credentials") {
		t.Fatalf("grant_types_supported %v lacks client_credentials", got)
	}
}

// A client stored with client_credentials before the rule (or while the
// operator allowed it) gets no token once the policy does not allow it.
func TestTokenEndpointEnforcesThePolicyOnStoredClients(t *testing.T) {
	e := newEnv(t, allowClientCredentials)
	conf := e.registerWithToken(map[string]any{"grant_types": []string{"client_credentials"}})
	status, m, _ := e.postForm("/token", ccForm, conf.id, conf.secret)
	tokensOf(t, status, m)

	open := startEnv(t, e.clock, e.storage, nil)
	status, m, _ = open.postForm("/token", ccForm, conf.id, conf.secret)
	wantError(t, status, m, 400, "unauthorized_client")

	// Stored by open registration before this rule: not registered with the
	// initial access token, so the opt-in does not cover it.
	old := &client{ID: randomID(), SecretHash: hashToken("old-secret"), IssuedAt: e0}
	old.GrantTypes = []string{grantClientCredentials}
	if err := e.srv.store.put(context.Background(), e.srv.store.key(nsClients, old.ID+".json"), old); err != nil {
		t.Fatal(err)
	}
	status, m, _ = e.postForm("/token", ccForm, old.ID, "old-secret")
	wantError(t, status, m, 400, "unauthorized_client")
	if _, _, err := e.srv.MintToken(context.Background(), old.ID, e.ts.URL+"/mcp", nil); err == nil || !strings.Contains(err.Error(), "client block") {
		t.Fatalf("minted a token without a user for a self-registered client: %v", err)
	}
}

func TestAllowClientCredentialsNeedsTokenMode(t *testing.T) {
	cfg := testConfig(&clock{t: e0})
	cfg.Registration.AllowClientCredentials = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "allow_client_credentials") || !strings.Contains(err.Error(), `use mode "token"`) {
		t.Fatalf("%v", err)
	}
}

// `caddy mcp revoke client` (RevokeClient, from another process on the same
// storage) must also stop the client's own tokens, whose sid names no
// stored grant.
func TestRevokedClientsOwnTokensAreRevoked(t *testing.T) {
	e := newEnv(t, allowClientCredentials)
	conf := e.registerWithToken(map[string]any{"grant_types": []string{"client_credentials"}})
	status, m, _ := e.postForm("/token", ccForm, conf.id, conf.secret)
	cl := e.claimsOf(tokensOf(t, status, m).access)
	other := e.registerWithToken(map[string]any{"grant_types": []string{"client_credentials"}})
	status, m, _ = e.postForm("/token", ccForm, other.id, other.secret)
	otherClaims := e.claimsOf(tokensOf(t, status, m).access)
	if revokedAfterTTL(t, e, cl) {
		t.Fatal("revoked before anything happened")
	}

	operator := startEnv(t, e.clock, e.storage, allowClientCredentials)
	if _, err := operator.srv.RevokeClient(context.Background(), conf.id); err != nil {
		t.Fatal(err)
	}
	if !revokedAfterTTL(t, e, cl) {
		t.Fatal("the revoked client's token still passes")
	}
	if revokedAfterTTL(t, e, otherClaims) {
		t.Fatal("another client's token was revoked too")
	}
	// What the policy no longer allows ends as well.
	open := startEnv(t, e.clock, e.storage, nil)
	if !revokedAfterTTL(t, open, otherClaims) {
		t.Fatal("a token the policy no longer allows still passes")
	}
}

func TestRemovedOrReKeyedStaticClientsOwnTokensAreRevoked(t *testing.T) {
	static := func(hash string) func(*Config) {
		return func(c *Config) { c.Clients = []StaticClient{{ID: "ci.bot/1", SecretHash: hash}} }
	}
	e := newEnv(t, static(testUserHash))
	status, m, _ := e.postForm("/token", ccForm, "ci.bot/1", testPassword)
	cl := e.claimsOf(tokensOf(t, status, m).access)
	if revokedAfterTTL(t, startEnv(t, e.clock, e.storage, static(testUserHash)), cl) {
		t.Fatal("revoked under an unchanged configuration")
	}
	if !revokedAfterTTL(t, startEnv(t, e.clock, e.storage, nil), cl) {
		t.Fatal("the token of a client removed from the configuration still passes")
	}
	if !revokedAfterTTL(t, startEnv(t, e.clock, e.storage, static(otherHash(t, "new secret"))), cl) {
		t.Fatal("the token of a client whose secret changed still passes")
	}
	if revoked, _ := e.srv.IsRevoked(context.Background(), cl.ID, clientSIDPrefix+"!!.x"); !revoked {
		t.Fatal("a client sid this server never issued counts as valid")
	}
}
