package authserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The names in grant and allow rules (policyName says how a person is
// named). Validate refuses a "<provider>:<name>" whose provider is not
// configured, which no one could ever match, and a user or group of the
// users block named like a provider's, which would pass for one. New warns
// of a plain name that only the users block could fill when nothing there
// has it: most likely meant for a provider's user or group, which since
// provider names have their own namespace it no longer matches.

// ruleNames are the user and group names of one grant or allow rule, with
// the rule as an operator knows it ("grant mcp:admin", "allow for /mcp").
type ruleNames struct {
	rule          string
	users, groups []string
}

// ruleNames are the names of every grant, then of every allow by path.
func (c Config) ruleNames() []ruleNames {
	var rules []ruleNames
	for _, g := range c.ScopeGrants {
		rules = append(rules, ruleNames{"grant " + scopeString(g.Scopes), g.Users, g.Groups})
	}
	for _, path := range slices.Sorted(maps.Keys(c.ResourceAccess)) {
		r := c.ResourceAccess[path]
		rules = append(rules, ruleNames{"allow for " + path, r.Users, r.Groups})
	}
	return rules
}

// nameSpace is what the configuration lets rules name.
type nameSpace struct {
	providers []string
	// users and groups are those of the users block.
	users, groups map[string]bool
	// external is set when a trusted identity may log in: any plain name
	// may be one of its users.
	external bool
}

func (c Config) nameSpace() nameSpace {
	ns := nameSpace{users: map[string]bool{}, groups: map[string]bool{}, external: c.TrustedIdentity != nil || len(c.IdentitySources) > 0}
	for _, u := range c.Upstreams {
		ns.providers = append(ns.providers, u.Name())
	}
	for user := range c.Users {
		ns.users[user] = true
	}
	for _, groups := range c.UserGroups {
		for _, g := range groups {
			ns.groups[g] = true
		}
	}
	return ns
}

// providerOf splits name "<prefix>:<x>": its prefix, whether it has one,
// and whether that is a configured provider's name.
func (ns nameSpace) providerOf(name string) (prefix string, qualified, known bool) {
	prefix, _, qualified = strings.Cut(name, ":")
	return prefix, qualified, qualified && slices.Contains(ns.providers, prefix)
}

// providerList says which providers are configured, for an error.
func (ns nameSpace) providerList() string {
	if len(ns.providers) == 0 {
		return "no oidc or github sign-in is configured"
	}
	return "configured: " + strings.Join(ns.providers, ", ")
}

// qualified is name written for each configured provider, for a warning.
func (ns nameSpace) qualified(name string) string {
	forms := make([]string, len(ns.providers))
	for i, p := range ns.providers {
		forms[i] = p + ":" + name
	}
	return strings.Join(forms, " or ")
}

// policyNameErrors are the names of rules and of the users block that
// Validate refuses.
func (c Config) policyNameErrors() []error {
	ns := c.nameSpace()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, r := range c.ruleNames() {
		for _, u := range r.users {
			// A subject (issuer#subject) and a trusted identity's user may
			// hold any ':'.
			if prefix, qualified, known := ns.providerOf(u); qualified && !known && !ns.users[u] && !ns.external && !strings.Contains(u, "#") {
				add("%s: user %q: there is no sign-in provider %q (%s); write <provider>:<username> with one of them, or name a user of users", r.rule, u, prefix, ns.providerList())
			}
		}
		for _, g := range r.groups {
			if prefix, qualified, known := ns.providerOf(g); qualified && !known && !ns.groups[g] {
				add("%s: group %q: there is no sign-in provider %q (%s); write <provider>:<group> with one of them, or name a group of users", r.rule, g, prefix, ns.providerList())
			}
		}
	}
	// A password user named corp:ann would pass for corp's user ann, and
	// one in a group corp:admins for the members of corp's admins.
	for _, user := range slices.Sorted(maps.Keys(c.Users)) {
		if provider, _, known := ns.providerOf(user); known {
			add("user %q: grant and allow name the users of the sign-in provider %q so; rename the user", user, provider)
		}
		for _, g := range c.UserGroups[user] {
			if provider, _, known := ns.providerOf(g); known {
				add("groups of user %q: grant and allow name the group %q of the sign-in provider %q so; rename the group", user, g, provider)
			}
		}
	}
	return errs
}

// policyWarnings are the plain names of rules that only the users block
// could fill and nothing there has, when providers are configured: New
// logs them.
func (c Config) policyWarnings() []string {
	if len(c.Upstreams) == 0 {
		return nil
	}
	ns := c.nameSpace()
	var warnings []string
	for _, r := range c.ruleNames() {
		for _, u := range r.users {
			if _, qualified, _ := ns.providerOf(u); !qualified && !ns.users[u] && !ns.external {
				warnings = append(warnings, fmt.Sprintf("%s: users has no user %q, and a plain name matches no sign-in provider's user; for a provider's user write %s", r.rule, u, ns.qualified(u)))
			}
		}
		for _, g := range r.groups {
			if _, qualified, _ := ns.providerOf(g); !qualified && !ns.groups[g] {
				warnings = append(warnings, fmt.Sprintf("%s: no user of users is in group %q, and a plain name matches no sign-in provider's group; for a provider's group write %s", r.rule, g, ns.qualified(g)))
			}
		}
	}
	return warnings
}
