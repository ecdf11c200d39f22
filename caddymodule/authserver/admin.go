package authserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"
)

// This file is the operator's view of the server's state: what the
// `caddy mcp` subcommands list, revoke and mint, working directly on the
// storage the gateway uses.

// ClientInfo describes a registered or pre-registered client.
type ClientInfo struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// Name is the client_name it registered (or the configured name).
	Name string `json:"client_name,omitempty"`
	// RedirectURIs are its registered redirect URIs.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// AuthMethod is its token_endpoint_auth_method; for pre-registered
	// clients client_secret_basic when they have a secret (they accept
	// client_secret_post too), else none.
	AuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// IssuedAt is when it registered (zero for pre-registered clients).
	IssuedAt time.Time `json:"issued_at,omitzero"`
	// LastUsed is when it last obtained a token, to within a day; zero
	// when it never did (or is pre-registered, whose use is not tracked).
	LastUsed time.Time `json:"last_used,omitzero"`
	// Static marks a client declared in the configuration.
	Static bool `json:"static,omitempty"`
	// Host is the host of a client whose ID is the URL of its metadata
	// document (in punycode); empty for other clients.
	Host string `json:"host,omitempty"`
	// CachedUntil is when a metadata document's cached copy expires and
	// it is fetched again.
	CachedUntil time.Time `json:"cached_until,omitzero"`
}

// GrantInfo describes one grant: a user's authorization of a client, with
// its refresh-token family.
type GrantInfo struct {
	// ID is the grant id, the "sid" claim of its access tokens.
	ID string `json:"grant_id"`
	// ClientID is the authorized client.
	ClientID string `json:"client_id"`
	// Subject is the user who authorized it.
	Subject string `json:"sub"`
	// Resource is the MCP endpoint URL its tokens are for.
	Resource string `json:"resource"`
	// Scopes are the authorized scopes.
	Scopes []string `json:"scopes"`
	// ExpiresAt is when its refresh tokens stop working.
	ExpiresAt time.Time `json:"expires_at"`
	// Revoked marks a revoked grant (kept until it would have expired).
	Revoked bool `json:"revoked,omitempty"`
	// NarrowedTo is the id of the grant a refresh continued this one in
	// when the policy took a scope away; empty for other grants.
	NarrowedTo string `json:"narrowed_to,omitempty"`
}

// Clients lists the pre-registered clients, then the registered ones by
// registration time.
func (s *Server) Clients(ctx context.Context) ([]ClientInfo, error) {
	var out []ClientInfo
	for _, c := range s.static {
		out = append(out, clientInfo(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	keys, err := s.store.list(ctx, nsClients)
	if err != nil {
		return nil, err
	}
	var stored []ClientInfo
	for _, k := range keys {
		c, err := s.loadClient(ctx, strings.TrimSuffix(path.Base(k), ".json"))
		if err != nil {
			return nil, err
		}
		if c != nil {
			stored = append(stored, clientInfo(c))
		}
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].IssuedAt.Before(stored[j].IssuedAt) })
	docs, err := s.documentClients(ctx)
	if err != nil {
		return nil, err
	}
	return append(append(out, stored...), docs...), nil
}

// documentClients lists the clients whose metadata documents are cached,
// by URL. A document that no longer validates is listed with what its
// record says.
func (s *Server) documentClients(ctx context.Context) ([]ClientInfo, error) {
	keys, err := s.store.list(ctx, nsDocuments)
	if err != nil {
		return nil, err
	}
	var out []ClientInfo
	for _, k := range keys {
		var rec documentRecord
		found, err := s.store.get(ctx, k, &rec)
		if err != nil {
			return nil, err
		}
		u, derr := s.checkDocumentURL(rec.ClientID)
		if !found || derr != nil {
			continue
		}
		info := ClientInfo{ID: rec.ClientID, IssuedAt: rec.FetchedAt, LastUsed: rec.LastUsed, CachedUntil: rec.ExpiresAt, Host: displayHost(u.Hostname())}
		if c, derr := s.parseDocument(u, rec.ClientID, rec.Document); derr == nil {
			info.Name, info.RedirectURIs, info.AuthMethod = c.ClientName, c.RedirectURIs, c.TokenEndpointAuthMethod
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DropDocument deletes the cached metadata document of a URL client id,
// so every instance fetches it again on the client's next request (within
// a minute where a fetch of it failed just before). It reports whether a
// document was cached.
func (s *Server) DropDocument(ctx context.Context, id string) (bool, error) {
	if !urlClientID(id) {
		return false, fmt.Errorf("%q is not a client id URL such as https://claude.ai/oauth/claude-code-client-metadata", id)
	}
	if s.documents != nil {
		s.documents.forget(id)
	}
	key := s.documentKey(id)
	var rec documentRecord
	found, err := s.store.get(ctx, key, &rec)
	if err != nil || !found {
		return false, err
	}
	return true, s.store.remove(ctx, key)
}

func clientInfo(c *client) ClientInfo {
	method := c.TokenEndpointAuthMethod
	if method == "" {
		method = "none"
		if c.confidential() {
			method = "client_secret_basic"
		}
	}
	return ClientInfo{
		ID: c.ID, Name: c.ClientName, RedirectURIs: c.RedirectURIs,
		AuthMethod: method, IssuedAt: c.IssuedAt, LastUsed: c.LastUsed, Static: c.static,
	}
}

// Grants lists every stored grant, live and revoked, oldest expiry first.
func (s *Server) Grants(ctx context.Context) ([]GrantInfo, error) {
	keys, err := s.store.list(ctx, nsGrants)
	if err != nil {
		return nil, err
	}
	var out []GrantInfo
	for _, k := range keys {
		var g grant
		found, err := s.store.get(ctx, k, &g)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, GrantInfo{
				ID: g.ID, ClientID: g.ClientID, Subject: g.Subject, Resource: g.Resource,
				Scopes: g.Scopes, ExpiresAt: g.ExpiresAt, Revoked: g.Revoked, NarrowedTo: g.NarrowedTo,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out, nil
}

// RevokeGrant revokes one grant: its refresh tokens stop working at once and
// its access tokens within the guards' revocation check interval.
func (s *Server) RevokeGrant(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("%q is not a grant id", id)
	}
	var g grant
	found, err := s.store.get(ctx, s.grantKey(id), &g)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no grant %q", id)
	}
	return s.revokeGrant(ctx, id, "revoked by the operator")
}

// RevokeUser signs the user out everywhere and returns how many live
// grants it revoked:
//   - the refresh tokens of their grants stop working at once, their
//     access tokens within the guards' revocation check interval;
//   - every sign-in session they started before, with a password or at a
//     provider, is refused from now on by every instance sharing the
//     storage, as is every authorization code issued before, so a stolen
//     session cookie gets nothing more: they must log in again;
//   - their remembered approvals are forgotten, so their next
//     authorization of each client asks them again;
//   - their refresh tokens at sign-in providers are forgotten: nothing here
//     acts for them at a provider any more.
//
// A sign-in at the provider itself, or at an authentication handler in
// front of /authorize (TrustedIdentity, an IdentitySource), is not this
// server's to end: the operator ends it there.
func (s *Server) RevokeUser(ctx context.Context, subject string) (int, error) {
	// The sign-out is recorded before the grants are listed: a code
	// redeemed meanwhile either makes a grant this list has, or sees the
	// sign-out (exchangeCode).
	if err := s.signOutUser(ctx, subject); err != nil {
		return 0, err
	}
	n, err := s.revokeGrantsWhere(ctx, func(g GrantInfo) bool { return g.Subject == subject })
	return n, errors.Join(err, s.forgetConsents(ctx, subject), s.forgetUpstreamTokens(ctx, subject))
}

// RevokeClient deletes a registered client and revokes its live grants,
// returning how many. Pre-registered clients are removed from the
// configuration instead. A client whose id is a URL cannot be deleted (it
// comes back when it is used): its live grants are revoked, the codes
// issued to it before are refused, every user's approvals of it are
// forgotten, so their next authorization of it asks them again, and its
// cached document is dropped.
func (s *Server) RevokeClient(ctx context.Context, id string) (int, error) {
	if s.static[id] != nil {
		return 0, fmt.Errorf("client %q is declared in the configuration: remove it there and reload", id)
	}
	if urlClientID(id) {
		// Recorded before the grants are listed: a code redeemed meanwhile
		// either made a grant the list has, or sees the revocation after
		// its commit (exchangeCode).
		if err := s.recordClientRevocation(ctx, id); err != nil {
			return 0, err
		}
		var subjects []string
		n, err := s.revokeGrantsWhere(ctx, func(g GrantInfo) bool {
			if g.ClientID != id {
				return false
			}
			subjects = append(subjects, g.Subject)
			return true
		})
		if err != nil {
			return n, err
		}
		if err := s.forgetClientConsents(ctx, id, subjects); err != nil {
			return n, err
		}
		_, err = s.DropDocument(ctx, id)
		return n, err
	}
	c, err := s.loadClient(ctx, id)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, fmt.Errorf("no client %q", id)
	}
	// Deleted before its grants are listed: a code redeemed meanwhile
	// either made a grant the list has, or finds the client gone after
	// its commit (exchangeCode). From here on the client authenticates
	// nowhere, so its remaining grants could not be refreshed even if a
	// revocation below failed.
	err = s.store.atomically(ctx, clientLock(id), func(tx context.Context) error {
		return s.store.remove(tx, s.store.key(nsClients, id+".json"))
	})
	if err != nil {
		return 0, err
	}
	return s.revokeGrantsWhere(ctx, func(g GrantInfo) bool { return g.ClientID == id })
}

// revokeGrantsWhere revokes the grants match selects and returns how many
// were live. The list is read key by key, not as one snapshot, so a grant
// a refresh narrowed meanwhile may be listed revoked, and the narrower
// grant it continues in not listed at all: revoked grants that name one
// are followed too (revokeFamily), which no timing escapes, unlike listing
// again until a pass finds nothing live (a pass can list the wider key
// before the narrower is stored and read it after, revoked).
func (s *Server) revokeGrantsWhere(ctx context.Context, match func(GrantInfo) bool) (int, error) {
	grants, err := s.Grants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range grants {
		if g.Revoked && g.NarrowedTo == "" || !match(g) {
			continue
		}
		m, err := s.revokeFamily(ctx, g.ID, "revoked by the operator", false)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// MintToken issues an access token to a confidential client for resource
// (an MCP endpoint URL of this server), as the client_credentials grant
// would, without its secret: for operators' scripts and CI. An empty scope
// list means the client's default scopes.
func (s *Server) MintToken(ctx context.Context, clientID, resource string, scopes []string) (token string, expiresIn time.Duration, err error) {
	c, err := s.loadClient(ctx, clientID)
	if err != nil {
		return "", 0, err
	}
	if c == nil {
		return "", 0, fmt.Errorf("no client %q", clientID)
	}
	if !c.confidential() {
		return "", 0, fmt.Errorf("client %q is public; tokens are minted only for confidential clients", clientID)
	}
	if !s.mayUseClientCredentials(c) {
		return "", 0, fmt.Errorf("client %q registered itself; tokens without a user are minted only for clients declared in a client block (or registered with the initial access token under allow_client_credentials)", clientID)
	}
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", 0, fmt.Errorf("resource %q is not a URL such as https://mcp.example.com/mcp", resource)
	}
	// The issuer is what a request to that URL would see: the configured
	// public origin, when there is one, else the URL's own.
	asRequest := &http.Request{Host: u.Host, URL: u}
	if u.Scheme == "https" {
		asRequest.TLS = &tls.ConnectionState{}
	}
	resp, oerr := s.clientToken(ctx, c, s.cfg.Origin(asRequest), resource, strings.Join(scopes, " "))
	if oerr != nil {
		return "", 0, fmt.Errorf("%s: %s (this gateway's MCP endpoints: %s)", oerr.Code, oerr.Description, strings.Join(s.cfg.ResourcePaths, ", "))
	}
	return resp.AccessToken, time.Duration(resp.ExpiresIn) * time.Second, nil
}
