package authserver

import (
	"net/http"
	"slices"
)

// metadata is the RFC 8414 authorization server metadata. Only what is
// implemented is advertised.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// ClientIDMetadataDocumentSupported announces that client_id may be
	// the https URL of a metadata document (MCP 2025-11-25).
	ClientIDMetadataDocumentSupported bool     `json:"client_id_metadata_document_supported,omitempty"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
}

// metadataFor builds the metadata for the origin r arrived at.
func (s *Server) metadataFor(r *http.Request) metadata {
	iss := s.cfg.Origin(r)
	authMethods := []string{authNone, authPost, authBasic}
	m := metadata{
		Issuer:                            iss,
		AuthorizationEndpoint:             iss + pathAuthorize,
		TokenEndpoint:                     iss + pathToken,
		RevocationEndpoint:                iss + pathRevoke,
		JWKSURI:                           iss + pathJWKS,
		ScopesSupported:                   append(slices.Clone(s.cfg.Scopes), offlineAccessScope),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{grantCode, grantRefresh},
		TokenEndpointAuthMethodsSupported: authMethods,
		RevocationEndpointAuthMethods:     authMethods,
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseIssSupported: true,
	}
	if !s.cfg.ClientMetadataDocuments.Disabled {
		m.ClientIDMetadataDocumentSupported = true
		authMethods = append(authMethods, authPrivateKeyJWT)
		m.TokenEndpointAuthMethodsSupported, m.RevocationEndpointAuthMethods = authMethods, authMethods
		for _, alg := range assertionAlgorithms {
			m.TokenEndpointAuthSigningAlgs = append(m.TokenEndpointAuthSigningAlgs, string(alg))
		}
	}
	if s.clientCredentialsAdvertised() {
		m.GrantTypesSupported = append(m.GrantTypesSupported, grantClientCredentials)
	}
	if s.cfg.Registration.Mode != RegistrationClosed {
		m.RegistrationEndpoint = iss + pathRegister
	}
	return m
}

// serveMetadata answers the discovery paths (see Routes).
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeMethodNotAllowed(w, "GET")
		return
	}
	// Every URL in the document follows the request's origin (Host and
	// the forwarding headers a trusted proxy sets), so no shared cache may
	// keep it: writeJSON marks it no-store.
	writeJSON(w, http.StatusOK, s.metadataFor(r))
}
