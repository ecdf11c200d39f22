package authserver

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// clientMetadata is the RFC 7591 client metadata this server keeps and
// echoes. Fields a client sends beyond these are ignored.
type clientMetadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
}

// registrationResponse is the RFC 7591 §3.2.1 answer.
type registrationResponse struct {
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
	clientMetadata
}

// maxMetadataString bounds free-text metadata such as client_name.
const maxMetadataString = 500

func errClientMetadata(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_client_metadata", Description: desc}
}

// stringProblem describes a free-text value of m that is too long or holds
// a control or bidi character; "" when there is none.
func (m *clientMetadata) stringProblem() string {
	for _, s := range []string{m.ClientName, m.ClientURI, m.Scope, m.ApplicationType, m.SoftwareID, m.SoftwareVersion} {
		if len(s) > maxMetadataString {
			return "a metadata value is longer than " + strconv.Itoa(maxMetadataString) + " bytes"
		}
		if strings.ContainsFunc(s, deceptiveRune) {
			return "a metadata value contains a control or bidi formatting character: " + strconv.QuoteToASCII(s)
		}
	}
	return ""
}

// parseRegistration parses and normalizes a registration request body:
// RFC 7591 defaults are filled in, refresh_token accompanies
// authorization_code (this server always issues refresh tokens with codes),
// and scope is narrowed to the server's scopes.
func parseRegistration(body []byte, serverScopes []string) (clientMetadata, *oauthError) {
	var m clientMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return m, errClientMetadata("the body is not a JSON object of client metadata: " + err.Error())
	}
	if problem := m.stringProblem(); problem != "" {
		return m, errClientMetadata(problem)
	}
	switch m.TokenEndpointAuthMethod {
	case "":
		m.TokenEndpointAuthMethod = authBasic // RFC 7591 §2 default
	case authNone, authPost, authBasic:
	default:
		return m, errClientMetadata("token_endpoint_auth_method must be none, client_secret_post or client_secret_basic")
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{grantCode}
	}
	for _, g := range m.GrantTypes {
		switch g {
		case grantCode, grantRefresh:
		case grantClientCredentials:
			if m.TokenEndpointAuthMethod == authNone {
				return m, errClientMetadata("client_credentials needs a confidential client (token_endpoint_auth_method client_secret_post or client_secret_basic)")
			}
		default:
			return m, errClientMetadata("unsupported grant type " + strconv.Quote(g))
		}
	}
	usesCode := slices.Contains(m.GrantTypes, grantCode)
	if usesCode && !slices.Contains(m.GrantTypes, grantRefresh) {
		m.GrantTypes = append(m.GrantTypes, grantRefresh)
	}
	if len(m.ResponseTypes) == 0 && usesCode {
		m.ResponseTypes = []string{"code"}
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" || !usesCode {
			return m, errClientMetadata("response_types may only be [\"code\"], with the authorization_code grant")
		}
	}
	if m.ResponseTypes == nil {
		m.ResponseTypes = []string{}
	}
	if usesCode && len(m.RedirectURIs) == 0 {
		return m, &oauthError{status: http.StatusBadRequest, Code: "invalid_redirect_uri", Description: "redirect_uris is required for the authorization_code grant"}
	}
	if m.RedirectURIs == nil {
		m.RedirectURIs = []string{}
	}
	for _, u := range m.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return m, &oauthError{status: http.StatusBadRequest, Code: "invalid_redirect_uri", Description: err.Error()}
		}
	}
	var scopes []string
	for _, s := range scopeList(m.Scope) {
		if slices.Contains(serverScopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 {
		scopes = serverScopes
	}
	m.Scope = scopeString(scopes)
	return m, nil
}

// serveRegister is POST /register (RFC 7591) under the configured policy.
func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, "POST")
		return
	}
	if e := s.registrationAllowed(r); e != nil {
		writeError(w, e)
		return
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		writeError(w, errClientMetadata(err.Error()))
		return
	}
	meta, e := parseRegistration(body, s.cfg.Scopes)
	if e == nil && slices.Contains(meta.GrantTypes, grantClientCredentials) && !s.registrationAllowsClientCredentials() {
		// Anyone may register: a client of its own would otherwise mint
		// tokens that act for no user, with every scope.
		e = errClientMetadata("client_credentials is not available to self-registered clients; tokens here act for a user (ask the operator for a pre-registered client)")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	c := &client{clientMetadata: meta, ID: randomID(), IssuedAt: s.cfg.Now().Truncate(time.Second),
		ViaInitialAccessToken: s.cfg.Registration.Mode == RegistrationToken} // registrationAllowed checked it
	resp := registrationResponse{ClientID: c.ID, ClientIDIssuedAt: c.IssuedAt.Unix(), clientMetadata: meta}
	if meta.TokenEndpointAuthMethod != authNone {
		resp.ClientSecret = randomToken()
		c.SecretHash = hashToken(resp.ClientSecret)
		resp.ClientSecretExpiresAt = new(int64)
	}
	if e := s.storeNewClient(r, c); e != nil {
		writeError(w, e)
		return
	}
	s.log.Info("registered client", zapClient(c.ID), zap.String("client_name", c.ClientName),
		zap.String("token_endpoint_auth_method", meta.TokenEndpointAuthMethod))
	writeJSON(w, http.StatusCreated, resp)
}

// registrationAllowed applies the policy: mode, initial access token and
// rate limit.
func (s *Server) registrationAllowed(r *http.Request) *oauthError {
	p := s.cfg.Registration
	switch p.Mode {
	case RegistrationClosed:
		return &oauthError{status: http.StatusForbidden, Code: "access_denied",
			Description: "dynamic client registration is disabled here; ask the operator for a pre-registered client"}
	case RegistrationToken:
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(p.InitialAccessToken)) != 1 {
			return &oauthError{status: http.StatusUnauthorized, Code: "invalid_token",
				Description: "registration requires the initial access token as a Bearer token", bearer: true}
		}
	}
	if !s.limiter.allow(s.clientAddr(r), s.cfg.Now()) {
		return &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "too many registrations from this address; retry later",
			retryAfter:  p.RateWindow}
	}
	return nil
}

// storeNewClient stores c, enforcing the per-address quota of never-used
// clients and the cap on live clients, the latter under a lock so
// concurrent registrations cannot overshoot it. At the cap the oldest
// never-used client is evicted; when every client is in use the answer is
// 503 temporarily_unavailable with Retry-After.
func (s *Server) storeNewClient(r *http.Request, c *client) *oauthError {
	ctx := r.Context()
	addr := s.clientAddr(r)
	if e := s.reserveUnused(ctx, addr, c); e != nil {
		return e
	}
	key := s.store.key(nsClients, c.ID+".json")
	capacity := s.cfg.Registration.MaxClients
	var (
		full *oauthError
		err  error
	)
	if capacity == 0 {
		err = s.store.put(ctx, key, c)
	} else {
		err = s.store.locked(ctx, "register", func() error {
			names, err := s.store.list(ctx, nsClients)
			if err != nil || len(names) < capacity {
				return cmp.Or(err, s.store.put(ctx, key, c))
			}
			victim, nextFree, err := s.evictionCandidate(ctx, names)
			if err != nil {
				return err
			}
			if victim == "" {
				full = &oauthError{status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
					Description: "this server has reached its limit of registered clients, all in use; retry later or ask the operator to raise max_clients",
					retryAfter:  min(max(nextFree, time.Second), time.Hour)}
				return nil
			}
			if err := s.store.remove(ctx, victim); err != nil {
				return err
			}
			s.log.Info("evicted a never-used client to make room for a new one", zapClient(strings.TrimSuffix(path.Base(victim), ".json")))
			return s.store.put(ctx, key, c)
		})
	}
	if full == nil && err == nil {
		return nil
	}
	s.releaseUnused(addr, c.ID)
	if err != nil {
		s.log.Error("storing client", zapClient(c.ID), zapErr(err))
		return errServer()
	}
	return full
}
