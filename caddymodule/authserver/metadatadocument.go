package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// MCP authorization 2025-11-25): a client_id that is an https URL names the
// JSON document of the client's metadata, which this server fetches instead
// of a registration. Grants, consents and revocation are keyed by the URL.

// ClientMetadataDocuments configures client ids that are URLs of their
// metadata documents.
type ClientMetadataDocuments struct {
	// Disabled refuses URL client ids, so clients register (RFC 7591) or
	// are pre-registered instead: for a gateway without direct internet
	// access. Default: false, documents are accepted.
	Disabled bool
	// AllowPrivateAddresses lets documents be fetched from loopback,
	// private and link-local addresses (tests, intranets). Default: false;
	// only public addresses are dialed.
	AllowPrivateAddresses bool
	// AllowHosts, when set, are the only hosts (exact names, compared
	// without case) whose URLs may be client ids. Default: any host.
	AllowHosts []string
	// DenyHosts are hosts whose URLs may not be client ids. Default: none.
	DenyHosts []string
	// MaxSize caps a document (and a JWK set) in bytes. Default: 5 KiB.
	MaxSize int64
	// Timeout bounds one fetch, from connecting to the last byte.
	// Default: 5s.
	Timeout time.Duration
	// MaxCache caps how long a document is used before it is fetched
	// again, whatever its Cache-Control or Expires says. Default: 24h.
	MaxCache time.Duration
	// StaleGrace is how long after its cache lifetime a stored document
	// still stands in when fetching it again fails at the host without
	// saying anything about it (unreachable, timing out or answering 5xx,
	// 429 or 408), so an outage of a client's host does not lock its users
	// out; the last good key set at a private_key_jwt client's jwks_uri
	// (kept in memory) likewise. Not when this server's own per-host limit
	// held the fetch back: anyone able to publish on the host can spend a
	// budget, and a redirect URI or a leaked key its owner removed must
	// stop working. A 404, 410, redirect or invalid document ends the
	// client at once and deletes the copy. Negative: never. Default: 24h.
	StaleGrace time.Duration
	// Resolve resolves a host name to the addresses the guard checks and
	// then dials. Default: the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Defaults of ClientMetadataDocuments.
const (
	defaultDocumentMaxSize  = 5 << 10
	defaultDocumentTimeout  = 5 * time.Second
	defaultDocumentMaxCache = 24 * time.Hour
	defaultStaleGrace       = 24 * time.Hour
	// maxClientIDURL bounds a URL client id, which ends up in logs,
	// storage records and the consent page.
	maxClientIDURL = 2000
)

func (c ClientMetadataDocuments) withDefaults() ClientMetadataDocuments {
	if c.MaxSize == 0 {
		c.MaxSize = defaultDocumentMaxSize
	}
	if c.Timeout == 0 {
		c.Timeout = defaultDocumentTimeout
	}
	if c.MaxCache == 0 {
		c.MaxCache = defaultDocumentMaxCache
	}
	if c.StaleGrace == 0 {
		c.StaleGrace = defaultStaleGrace
	}
	if c.Resolve == nil {
		c.Resolve = systemResolve
	}
	return c
}

// validate reports the configuration's mistakes (defaults filled in).
func (c ClientMetadataDocuments) validate() []error {
	var errs []error
	if c.MaxSize < 512 || c.MaxSize > 1<<20 {
		errs = append(errs, fmt.Errorf("client_metadata_documents: max_size %d bytes is outside 512 bytes to 1 MiB", c.MaxSize))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("client_metadata_documents: timeout must be positive, got %s", c.Timeout))
	}
	if c.MaxCache < minDocumentCache {
		errs = append(errs, fmt.Errorf("client_metadata_documents: max_cache %s is below the minimum of %s", c.MaxCache, minDocumentCache))
	}
	for _, h := range append(slices.Clone(c.AllowHosts), c.DenyHosts...) {
		if h == "" || strings.ContainsAny(h, "/:@*# ") {
			errs = append(errs, fmt.Errorf("client_metadata_documents: %q is not a host name; list names such as claude.ai, without scheme, port or path", h))
		}
	}
	return errs
}

// authPrivateKeyJWT is RFC 7523 client authentication, the only one besides
// none a document may declare: a document is public, so there is no
// secret to share.
const authPrivateKeyJWT = "private_key_jwt"

// urlClientID reports whether id is meant as a metadata document URL. Plain
// http counts, to be refused with a reason rather than as unknown.
func urlClientID(id string) bool {
	lower := strings.ToLower(id)
	return strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://")
}

// checkDocumentURL applies the draft's rules for client id URLs and the
// operator's host lists: https, a host, a path, no fragment, no user
// information, no dot segments.
func (s *Server) checkDocumentURL(id string) (*url.URL, *documentError) {
	bad := func(reason string) (*url.URL, *documentError) {
		return nil, &documentError{url: strings.ToValidUTF8(id, "?"), reason: reason}
	}
	if len(id) > maxClientIDURL {
		return bad(fmt.Sprintf("the URL is longer than %d bytes", maxClientIDURL))
	}
	if strings.ContainsFunc(id, deceptiveRune) {
		return bad("the URL contains a control or bidi formatting character")
	}
	u, err := url.Parse(id)
	switch {
	case err != nil:
		return bad("it is not a URL")
	case u.Scheme != "https":
		return bad("a client id URL must use https")
	case u.Host == "" || u.Hostname() == "":
		return bad("the URL has no host")
	case strings.ContainsFunc(u.Hostname(), func(r rune) bool { return r >= utf8.RuneSelf }):
		// Go's HTTP client maps a host to ASCII before it dials
		// ("ｃlient.example", fullwidth, dials client.example): every
		// decision on the host (deny_hosts, allow_hosts, quotas, the name
		// shown at consent) must see the name that is dialled.
		return bad("the URL's host must be written in ASCII (an internationalized name as xn--…)")
	case u.User != nil:
		return bad("the URL has user information before its host")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return bad("the URL has a fragment")
	case u.Path == "" || u.Path == "/":
		return bad("the URL has no path (a document is at a path, such as https://example.com/oauth/client.json)")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		// %2e is a dot too: servers normalize it, so the URL would name
		// another document than it seems to.
		if seg = strings.ReplaceAll(strings.ToLower(seg), "%2e", "."); seg == "." || seg == ".." {
			return bad("the URL has a . or .. path segment")
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	cfg := s.cfg.ClientMetadataDocuments
	if slices.ContainsFunc(cfg.DenyHosts, func(h string) bool { return strings.EqualFold(h, host) }) ||
		len(cfg.AllowHosts) > 0 && !slices.ContainsFunc(cfg.AllowHosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		_, derr := bad("the operator does not accept client ids from " + displayHost(host))
		derr.host = displayHost(host)
		return nil, derr
	}
	return u, nil
}

// metadataDocument is a fetched document. client_secret and friends are
// read only to refuse them.
type metadataDocument struct {
	clientMetadata
	ClientID              string          `json:"client_id"`
	ClientSecret          json.RawMessage `json:"client_secret"`
	ClientSecretExpiresAt json.RawMessage `json:"client_secret_expires_at"`
	JWKSURI               string          `json:"jwks_uri"`
	JWKS                  json.RawMessage `json:"jwks"`
}

// parseDocument validates a document fetched from u and returns its client.
func (s *Server) parseDocument(u *url.URL, id string, body []byte) (*client, *documentError) {
	bad := func(format string, args ...any) (*client, *documentError) {
		return nil, &documentError{url: id, host: displayHost(u.Hostname()), reason: fmt.Sprintf(format, args...)}
	}
	var d metadataDocument
	if err := json.Unmarshal(body, &d); err != nil {
		return bad("it is not a JSON object of client metadata (%v)", err)
	}
	m := d.clientMetadata
	switch {
	case d.ClientID != id:
		// A document served for another client id (a copy, or a
		// redirector's) must not lend that client its redirect URIs.
		return bad("its client_id %q is not its own URL", strings.ToValidUTF8(d.ClientID, "?"))
	case d.ClientSecret != nil || d.ClientSecretExpiresAt != nil:
		return bad("it contains a client_secret, which a public document cannot keep secret")
	}
	if problem := m.stringProblem(); problem != "" {
		return bad("%s", problem)
	}
	c := &client{ID: id, document: true}
	switch m.TokenEndpointAuthMethod {
	case "", authNone:
		m.TokenEndpointAuthMethod = authNone
		if d.JWKSURI != "" || d.JWKS != nil {
			return bad("it has keys (jwks_uri or jwks) but token_endpoint_auth_method %q; keys are only for private_key_jwt", authNone)
		}
	case authPrivateKeyJWT:
		switch {
		case (d.JWKSURI == "") == (d.JWKS == nil):
			return bad("private_key_jwt needs exactly one of jwks_uri and jwks")
		case d.JWKS != nil:
			c.jwks = new(jose.JSONWebKeySet)
			if err := json.Unmarshal(d.JWKS, c.jwks); err != nil || len(c.jwks.Keys) == 0 {
				return bad("its jwks is not a JSON Web Key Set with keys")
			}
		default:
			ku, derr := s.checkDocumentURL(d.JWKSURI)
			if derr != nil {
				return bad("its jwks_uri cannot be used: %s", derr.reason)
			}
			c.jwksURI = ku
		}
	default:
		return bad("token_endpoint_auth_method must be %q or %q, not %q (a document is public, so it can hold no shared secret)", authNone, authPrivateKeyJWT, strings.ToValidUTF8(m.TokenEndpointAuthMethod, "?"))
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{grantCode}
	}
	for _, g := range m.GrantTypes {
		if g != grantCode && g != grantRefresh {
			// client_credentials would let anyone who can host a file
			// mint tokens that act for no user.
			return bad("grant type %q is not available to client metadata documents (only authorization_code and refresh_token)", strings.ToValidUTF8(g, "?"))
		}
	}
	if !slices.Contains(m.GrantTypes, grantCode) {
		return bad("it does not list the authorization_code grant")
	}
	if !slices.Contains(m.GrantTypes, grantRefresh) {
		m.GrantTypes = append(m.GrantTypes, grantRefresh)
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return bad("response_types may only be [\"code\"]")
		}
	}
	m.ResponseTypes = []string{"code"}
	if len(m.RedirectURIs) == 0 {
		return bad("it has no redirect_uris")
	}
	for _, ru := range m.RedirectURIs {
		if err := checkRedirectURI(ru); err != nil {
			return bad("%v", err)
		}
	}
	var scopes []string
	for _, sc := range scopeList(m.Scope) {
		if slices.Contains(s.cfg.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		scopes = s.cfg.Scopes
	}
	m.Scope = scopeString(scopes)
	c.clientMetadata = m
	c.scopes = scopes
	return c, nil
}

// documentRecord is a fetched document as cached in storage, so every
// instance and the operator's commands see it, and dropping it (the
// operator's command) takes effect everywhere.
type documentRecord struct {
	ClientID  string          `json:"client_id"`
	Document  json.RawMessage `json:"document"`
	FetchedAt time.Time       `json:"fetched_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	// LastUsed is when the client last obtained a token, to within a day.
	LastUsed time.Time `json:"last_used,omitzero"`
}

func (s *Server) documentKey(id string) string {
	return s.store.key(nsDocuments, hashToken(id)+".json")
}

// loadDocumentClient returns the client of a URL client id: from the
// cached document while it is fresh, else fetched and validated anew (a
// changed document takes effect on its next fetch), by one fetch however
// many requests ask at once (refreshDocument). A document that cannot be
// used is a *documentError.
func (s *Server) loadDocumentClient(ctx context.Context, id string) (*client, error) {
	cfg := s.cfg.ClientMetadataDocuments
	if cfg.Disabled {
		return nil, &documentError{url: strings.ToValidUTF8(id, "?"),
			reason: "this server does not accept client metadata documents (client_metadata_documents off); the application must register instead"}
	}
	u, derr := s.checkDocumentURL(id)
	if derr != nil {
		return nil, derr
	}
	rec, found, err := s.storedDocument(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found || !s.cfg.Now().Before(rec.ExpiresAt) {
		if s.documents == nil {
			// The operator's view fetches nothing.
			return nil, &documentError{url: id, reason: "the document is not cached"}
		}
		rec, err = s.documentFlights.do(ctx, id, func(ctx context.Context) (documentRecord, error) {
			return s.refreshDocument(ctx, u, id)
		})
		if err != nil {
			return nil, err
		}
	}
	c, derr := s.parseDocument(u, id, rec.Document)
	if derr != nil {
		return nil, derr
	}
	c.LastUsed = rec.LastUsed
	return c, nil
}

// storedDocument reads the stored record of id; found is false for none,
// and for a record of another URL with the same hash.
func (s *Server) storedDocument(ctx context.Context, id string) (documentRecord, bool, error) {
	var rec documentRecord
	found, err := s.store.get(ctx, s.documentKey(id), &rec)
	return rec, found && err == nil && rec.ClientID == id, err
}

// touchDocument records that the document's client obtained a token, at
// most once a day, so the sweep keeps its record for the operator's list.
func (s *Server) touchDocument(ctx context.Context, c *client) {
	now := s.cfg.Now()
	if !c.LastUsed.IsZero() && now.Sub(c.LastUsed) < 24*time.Hour {
		return
	}
	var rec documentRecord
	if found, err := s.store.get(ctx, s.documentKey(c.ID), &rec); err != nil || !found {
		return
	}
	rec.LastUsed = now
	s.store.put(ctx, s.documentKey(c.ID), rec)
}

// sweepable reports whether the sweep may delete the record at now: its
// cache lifetime is over and its client is not in use (never obtained a
// token, or idle for the clients' idle lifetime).
func (r *documentRecord) sweepable(now time.Time, p RegistrationPolicy) bool {
	return now.After(r.ExpiresAt) && (r.LastUsed.IsZero() || now.After(r.LastUsed.Add(p.ClientIdleLifetime)))
}
