package authserver

import (
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// The audit trail: one Info entry on Config.AuditLog per authorization
// decision, saying who (subject, username, groups as grant and allow name
// them: policyGroups), which client (id and
// kind), which resource and scopes, and what was decided and why. Never a
// token, a code or a password.

// Authorization decisions in the audit trail.
const (
	auditApproved    = "approved"    // the user approved, or had approved before
	auditDenied      = "denied"      // the user pressed Deny
	auditRefused     = "refused"     // the policy or the provider said no
	auditNarrowed    = "narrowed"    // a refresh lost scopes the user no longer holds
	auditReconfirmed = "reconfirmed" // the provider vouched for the user again
)

// Client kinds in the audit trail (ClientKind).
const (
	ClientPreRegistered = "pre-registered"
	ClientMetadataURL   = "cimd"
	ClientRegistered    = "dcr"
)

// ClientKind says how a client came to be known: a pre-registered client
// block, a Client ID Metadata Document (its id is an https URL; host is
// that URL's host), or dynamic registration.
func (s *Server) ClientKind(clientID string) (kind, host string) {
	if s.static[clientID] != nil {
		return ClientPreRegistered, ""
	}
	if u, err := url.Parse(clientID); err == nil && u.Scheme == "https" && u.Host != "" {
		return ClientMetadataURL, u.Hostname()
	}
	return ClientRegistered, ""
}

// audit writes one authorization decision.
func (s *Server) audit(decision, reason, clientID string, who person, resource string, scopes []string) {
	ce := s.cfg.AuditLog.Check(zap.InfoLevel, "authorization")
	if ce == nil {
		return
	}
	kind, host := s.ClientKind(clientID)
	fields := []zap.Field{
		zap.String("decision", decision),
		zap.String("sub", who.Subject),
		zap.String("username", who.Username),
		zap.Strings("groups", who.policyGroups()),
		zap.String("login", who.Login),
		zap.String("client_id", clientID),
		zap.String("client_kind", kind),
		zap.String("resource", resource),
		zap.String("scope", strings.Join(scopes, " ")),
	}
	if host != "" {
		fields = append(fields, zap.String("client_host", host))
	}
	if reason != "" {
		fields = append(fields, zap.String("reason", reason))
	}
	ce.Write(fields...)
}
