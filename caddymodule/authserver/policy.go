package authserver

import (
	"net/http"
	"slices"
	"strings"
)

// ScopeGrant gives its scopes to the users any of its rules match. With
// Config.ScopeGrants set, a user holds a scope only when a grant naming it
// matches them; without any, every user may hold every scope.
type ScopeGrant struct {
	// Scopes are the scopes granted. Required.
	Scopes []string
	// Users match by subject, or by user name: a password or
	// trusted-identity user's plainly, a provider's user (its
	// username_claim) as "<provider>:<username>".
	Users []string
	// Groups match a user of any of them: a group of the users in
	// Config.UserGroups by its name, a provider's group (its groups_claim,
	// a GitHub organisation) as "<provider>:<group>".
	Groups []string
	// Domains match a user whose verified email address is in one of them.
	Domains []string
}

// AccessRule says who may use a resource at all: users named in Users or
// in one of Groups, named as in ScopeGrant.
type AccessRule struct {
	Users  []string
	Groups []string
}

// matches reports whether any rule of g matches p.
func (g ScopeGrant) matches(p person) bool {
	return namedIn(p, g.Users) || inAnyGroup(p, g.Groups) ||
		p.Domain != "" && slices.ContainsFunc(g.Domains, func(d string) bool { return strings.EqualFold(d, p.Domain) })
}

// namedIn reports whether users names p: by subject, or by user name as
// the policy names it (policyName). An upstream user's name is whatever
// their provider's username claim says, so "alice" at some provider must
// not pass for the local user alice, nor a user of one provider for the
// same name at another.
func namedIn(p person, users []string) bool {
	name, named := p.policyName(p.Username)
	return slices.ContainsFunc(users, func(u string) bool { return u == p.Subject || named && u == name })
}

// inAnyGroup reports whether p is in one of groups, as the policy names
// their groups (policyGroups). A provider's groups are whatever its users
// or admins could create there (a free GitHub organisation, a
// self-service directory): "admins" at one provider must not pass for the
// local group admins, nor for admins at another provider.
func inAnyGroup(p person, groups []string) bool {
	held := p.policyGroups()
	return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(held, g) })
}

// policyName is how grant and allow rules name x, a user name or a group
// of p's: plainly for a person this server or the Caddy handler before it
// knows (password and trusted-identity logins), as "<provider>:<x>" for a
// provider's user (google:alice@example.com, github:acme). A login of
// neither kind is not named (named is false).
func (p person) policyName(x string) (name string, named bool) {
	switch provider, upstream := upstreamOf(p.Login); {
	case upstream:
		return provider + ":" + x, true
	case p.Login == loginPassword || p.Login == loginExternal:
		return x, true
	}
	return "", false
}

// policyGroups are p's groups as grant and allow rules name them
// (policyName), as the access token's groups claim, the backend's groups
// header and the audit trail carry them. Storage keeps the groups as
// their source gave them: the name is made here, at each decision, from
// how p signed in.
func (p person) policyGroups() []string {
	var groups []string
	for _, g := range p.Groups {
		if name, named := p.policyName(g); named {
			groups = append(groups, name)
		}
	}
	return groups
}

// passesForProvider reports whether p is a person an earlier handler or an
// identity source vouches for under a name that reads "<provider>:<x>" for
// a configured sign-in provider. Such a person is matched by their name and
// subject as given, so they would pass for that provider's user x, as rules
// name those: whoever can pick such a name at the other system (a
// self-service directory behind forward_auth) would get what the rules
// give corp:ann. No grant or allow rule matches them.
func (s *Server) passesForProvider(p person) bool {
	provider, _, ok := strings.Cut(p.Subject, ":")
	return ok && p.Login == loginExternal && s.upstream(provider) != nil
}

// scopesHeldBy returns the scopes of want that p may hold, in order;
// offline_access (refresh tokens) is never withheld.
func (s *Server) scopesHeldBy(p person, want []string) []string {
	if len(s.cfg.ScopeGrants) == 0 {
		return want
	}
	unmatchable := s.passesForProvider(p)
	var held []string
	for _, sc := range want {
		if sc == offlineAccessScope || !unmatchable && slices.ContainsFunc(s.cfg.ScopeGrants, func(g ScopeGrant) bool {
			return slices.Contains(g.Scopes, sc) && g.matches(p)
		}) {
			held = append(held, sc)
		}
	}
	return held
}

// mayUse reports whether p may use the resource at path (its AccessRule,
// if it has one).
func (s *Server) mayUse(p person, path string) bool {
	rule, ok := s.cfg.ResourceAccess[path]
	return !ok || !s.passesForProvider(p) && (namedIn(p, rule.Users) || inAnyGroup(p, rule.Groups))
}

// resourcePath is the path of a resource URL under issuer.
func resourcePath(resource, issuer string) string {
	return strings.TrimPrefix(resource, issuer)
}

// applyPolicy narrows req to what who may hold, before anything is shown
// to them or issued. It answers 403 with a page, and returns false, when
// the policy refuses them (policyRefusal).
func (s *Server) applyPolicy(w http.ResponseWriter, req *authzRequest, who person) bool {
	if refusal := s.policyRefusal(req, who); refusal != nil {
		s.log.Info("authorization refused by policy", zapClient(req.client.ID), zapSubject(who.Subject), zapResource(req.resource))
		s.audit(auditRefused, refusal.reason, req.client.ID, who, req.resource, req.scopes)
		s.renderError(w, http.StatusForbidden, refusal.page)
		return false
	}
	req.scopes = s.scopesHeldBy(who, req.scopes)
	return true
}

// authzRefusal is why the policy refuses a person an authorization
// request: for the audit trail, and the page that tells them.
type authzRefusal struct{ reason, page string }

// policyRefusal says why who may not have req at all, or nil when they
// may: they may not use the resource, or hold none of the scopes asked
// for.
func (s *Server) policyRefusal(req *authzRequest, who person) *authzRefusal {
	if !s.mayUse(who, resourcePath(req.resource, req.issuer)) {
		return &authzRefusal{"not allowed on the resource",
			"You signed in as " + who.Username + ", who may not use the MCP server " + req.resource + ". Ask its operator for access."}
	}
	held := s.scopesHeldBy(who, req.scopes)
	if len(slices.DeleteFunc(slices.Clone(held), func(sc string) bool { return sc == offlineAccessScope })) == 0 &&
		slices.ContainsFunc(req.scopes, func(sc string) bool { return sc != offlineAccessScope }) {
		return &authzRefusal{"holds none of the scopes asked for",
			"You signed in as " + who.Username + ", who may not hold any of what " + req.client.displayName() + " asks for (" + scopeString(req.scopes) + "). Ask the operator of this server for access."}
	}
	return nil
}

// policyRefuses says why the policy no longer lets g's user have g, or "".
// A scope g holds that its user may no longer hold refuses g: refresh then
// starts a narrower family (see refresh), so tokens of the wider one stop
// at the guards' next revocation check.
func (s *Server) policyRefuses(g *grant) string {
	p := s.holderOf(g)
	if !s.mayUse(p, resourcePath(g.Resource, g.Issuer)) {
		return "the user may no longer use this resource"
	}
	if held := s.scopesHeldBy(p, g.Scopes); len(held) != len(g.Scopes) {
		return "the user may no longer hold every scope of the grant"
	}
	return ""
}

// holderOf is the person a grant was made for: as it recorded them, with
// a password user's groups as configured now (UserGroups), so that taking
// a user out of a group takes effect at the next refresh.
func (s *Server) holderOf(g *grant) person {
	p := person{Subject: g.Subject, Login: g.Login, Username: g.Username, Groups: g.Groups, Domain: g.Domain}
	if g.Login == loginPassword {
		p.Username, p.Groups = g.Subject, s.cfg.UserGroups[g.Subject]
	}
	return p
}
