package authserver

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Token endpoint authentication methods (RFC 7591 §2) and grant types.
const (
	authNone               = "none"
	authPost               = "client_secret_post"
	authBasic              = "client_secret_basic"
	grantCode              = "authorization_code"
	grantRefresh           = "refresh_token"
	grantClientCredentials = "client_credentials"
)

// client is a registered client: dynamically registered ones are stored,
// pre-registered ones live in the configuration.
type client struct {
	clientMetadata
	ID         string    `json:"client_id"`
	SecretHash string    `json:"secret_sha256,omitempty"`
	IssuedAt   time.Time `json:"issued_at"`
	// LastUsed is set when the client obtains its first token and then
	// refreshed at most daily; the sweep deletes clients idle for
	// ClientIdleLifetime, and those that never obtained a token (zero)
	// after UnusedClientLifetime.
	LastUsed time.Time `json:"last_used,omitzero"`
	// ViaInitialAccessToken marks a client that registered with the
	// initial access token (RegistrationToken), the only self-registered
	// clients RegistrationPolicy.AllowClientCredentials applies to.
	ViaInitialAccessToken bool `json:"via_initial_access_token,omitempty"`

	static     bool
	bcryptHash string   // pre-registered confidential clients
	scopes     []string // scopes the client may obtain
	// document marks a client whose ID is the URL of its metadata
	// document; with private_key_jwt its keys are jwks or at jwksURI.
	document bool
	jwks     *jose.JSONWebKeySet
	jwksURI  *url.URL
}

// expired reports whether the sweep may delete the client at now (see
// LastUsed).
func (c *client) expired(now time.Time, p RegistrationPolicy) bool {
	if c.LastUsed.IsZero() {
		return now.After(c.IssuedAt.Add(p.UnusedClientLifetime))
	}
	return now.After(c.LastUsed.Add(p.ClientIdleLifetime))
}

func (c *client) confidential() bool { return c.SecretHash != "" || c.bcryptHash != "" }

func (c *client) allows(grantType string) bool {
	if c.static {
		return grantType != grantClientCredentials || c.confidential()
	}
	return slices.Contains(c.GrantTypes, grantType)
}

// displayName is what the consent page calls the client.
func (c *client) displayName() string {
	if c.ClientName != "" {
		return c.ClientName
	}
	return c.ID
}

// staticClients turns Config.Clients into clients.
func staticClients(cfg Config) map[string]*client {
	m := map[string]*client{}
	for _, sc := range cfg.Clients {
		c := &client{ID: sc.ID, static: true, bcryptHash: sc.SecretHash, scopes: sc.Scopes}
		c.ClientName = sc.Name
		c.RedirectURIs = sc.RedirectURIs
		if len(c.scopes) == 0 {
			c.scopes = cfg.Scopes
		}
		m[sc.ID] = c
	}
	return m
}

// loadClient finds a client by id; nil when there is none.
func (s *Server) loadClient(ctx context.Context, id string) (*client, error) {
	if c := s.static[id]; c != nil {
		return c, nil
	}
	if urlClientID(id) {
		return s.loadDocumentClient(ctx, id)
	}
	if !validID(id) {
		return nil, nil
	}
	c := new(client)
	found, err := s.store.get(ctx, s.store.key(nsClients, id+".json"), c)
	if !found || err != nil {
		return nil, err
	}
	c.scopes = scopeList(c.Scope)
	return c, nil
}

// touchClient records that the client is in use, on its first token and
// then at most once a day, so the sweep keeps it. Failures only delay that
// and are not reported.
func (s *Server) touchClient(ctx context.Context, c *client) {
	if c.document {
		s.touchDocument(ctx, c)
		return
	}
	now := s.cfg.Now()
	if c.static || !c.LastUsed.IsZero() && now.Sub(c.LastUsed) < 24*time.Hour {
		return
	}
	c.LastUsed = now
	// Only over a record still there, under the lock RevokeClient deletes
	// it with: a token request that authenticated the client just before
	// the operator deleted it must not write it back, secret and all.
	key := s.store.key(nsClients, c.ID+".json")
	s.store.atomically(ctx, clientLock(c.ID), func(tx context.Context) error {
		found, err := s.store.get(tx, key, &client{})
		if err != nil || !found {
			return err
		}
		return s.store.put(tx, key, c)
	})
}

// clientLock names the lock of a registered client's record.
func clientLock(id string) string { return "client-" + id }

// authenticateClient authenticates the client of a token or revocation
// request (RFC 6749 §2.3): HTTP Basic, client_secret in the form, or for
// public clients just client_id. An empty secret counts as none, since
// some libraries send Basic with an empty password for public clients.
func (s *Server) authenticateClient(r *http.Request) (*client, *oauthError) {
	id, secret, basic := r.BasicAuth()
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		if basic || r.PostForm.Has("client_secret") {
			return nil, errInvalidRequest("use one client authentication method, not a client assertion and a secret")
		}
		return s.authenticateAssertion(r)
	}
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, basicChallenge(errInvalidClient("malformed Basic credentials"))
		}
		if r.PostForm.Has("client_secret") {
			return nil, errInvalidRequest("use one client authentication method, not both Basic and client_secret")
		}
		if formID := r.PostForm.Get("client_id"); formID != "" && formID != id {
			return nil, errInvalidRequest("client_id differs from the Basic credentials")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	fail := func(desc string) (*client, *oauthError) {
		e := errInvalidClient(desc)
		if basic {
			e = basicChallenge(e)
		}
		return nil, e
	}
	if id == "" {
		return fail("no client_id: authenticate the client")
	}
	c, err := s.loadClient(r.Context(), id)
	if oerr := s.clientLoadError(id, err); oerr != nil {
		if basic {
			oerr = basicChallenge(oerr)
		}
		return nil, oerr
	}
	switch {
	case c == nil:
		return fail("unknown client; register again")
	case c.TokenEndpointAuthMethod == authPrivateKeyJWT:
		// Its document names keys, not a secret: without the assertion
		// anyone who knows the URL would pass as the client.
		return fail("this client authenticates with a client assertion (private_key_jwt); send client_assertion and client_assertion_type")
	case !c.confidential() && secret != "":
		return fail("this client is public and has no secret")
	case c.confidential() && secret == "":
		return fail("client secret required")
	case c.SecretHash != "" && !hashEqual(c.SecretHash, hashToken(secret)):
		return fail("wrong client secret")
	case c.bcryptHash != "":
		matched, throttled := s.checkStaticSecret(r, c, secret)
		if throttled != nil {
			return nil, throttled
		}
		if !matched {
			return fail("wrong client secret")
		}
	}
	return c, nil
}

// clientPost reads the form of a client's POST (token, revocation) and
// authenticates the client, answering the error itself when that fails.
func (s *Server) clientPost(w http.ResponseWriter, r *http.Request) (*client, bool) {
	e := readForm(w, r, s.cfg.MaxBodyBytes)
	var c *client
	if e == nil {
		c, e = s.authenticateClient(r)
	}
	if e != nil {
		writeError(w, e)
		return nil, false
	}
	return c, true
}

// basicChallenge marks an invalid_client error as answering Basic
// credentials, so it carries WWW-Authenticate (RFC 6749 §5.2).
func basicChallenge(e *oauthError) *oauthError {
	e.basic = true
	return e
}
