package guard

import (
	"net/http"
	"slices"
	"strings"
)

// openMethods need no tool scope: they start, keep or describe a session and
// list what exists, but read or change no data. Every other method, known or
// not, needs a scope that lists it once tool scopes are set: an allow-list,
// because a block-list misses the next data method a backend adds (a
// search-only token once read the whole graph with resources/read).
// Listing results other than tools/list are not filtered: they show names
// and URIs, and reading any of them is gated.
var openMethods = map[string]bool{
	"initialize":               true,
	"server/discover":          true,
	"ping":                     true,
	"logging/setLevel":         true, // the session's log verbosity, no data
	"tools/list":               true, // filtered per token
	"resources/list":           true,
	"resources/templates/list": true,
	"prompts/list":             true,
}

// isOpen reports whether method needs no tool scope.
func isOpen(method string) bool {
	return openMethods[method] || strings.HasPrefix(method, "notifications/")
}

// toolPolicy is Config.ToolScopes inverted: for each tool and each gated
// method, the scopes that allow it.
type toolPolicy struct {
	enabled bool
	tools   map[string][]string
	methods map[string][]string
	anyTool []string // scopes listing "*"
}

func newToolPolicy(byScope map[string][]string) toolPolicy {
	p := toolPolicy{enabled: len(byScope) > 0, tools: map[string][]string{}, methods: map[string][]string{}}
	for scope, names := range byScope {
		for _, name := range names {
			switch {
			case name == "*":
				p.anyTool = append(p.anyTool, scope)
			case strings.Contains(name, "/"):
				p.methods[name] = append(p.methods[name], scope)
			default:
				p.tools[name] = append(p.tools[name], scope)
			}
		}
	}
	for _, m := range []map[string][]string{p.tools, p.methods} {
		for name := range m {
			slices.Sort(m[name])
		}
	}
	slices.Sort(p.anyTool)
	return p
}

// allowed reports whether scopes permit the JSON-RPC method (and, for
// tools/call, the tool); when not, needed is a scope that would.
func (p toolPolicy) allowed(scopes []string, method, tool string) (needed string, ok bool) {
	if !p.enabled {
		return "", true
	}
	grant, listed := p.methods[method]
	if listed {
		if needed, ok := grantedBy(scopes, grant); !ok {
			return needed, false
		}
	}
	if method != "tools/call" {
		if listed || isOpen(method) {
			return "", true
		}
		return "", false
	}
	return grantedBy(scopes, append(slices.Clip(p.tools[tool]), p.anyTool...))
}

// grantedBy returns ok when scopes holds one of grant, else the first
// granting scope (empty when nothing grants it).
func grantedBy(scopes, grant []string) (string, bool) {
	for _, s := range grant {
		if slices.Contains(scopes, s) {
			return "", true
		}
	}
	if len(grant) == 0 {
		return "", false
	}
	return grant[0], false
}

// AdmitCall decides whether the admitted request r may invoke method (tool
// is the tool name of a tools/call, else empty) under Config.ToolScopes.
// When not, it has written a 403 insufficient_scope answer naming a scope
// that would allow the call, and returns false.
func (g *Guard) AdmitCall(w http.ResponseWriter, r *http.Request, method, tool string) bool {
	id, _ := IdentityFrom(r.Context())
	needed, ok := g.tools.allowed(id.Scopes, method, tool)
	if ok {
		return true
	}
	f := insufficientScope(needed)
	if needed == "" {
		f.description = "no scope allows this call"
	}
	g.fail(w, r, g.cfg.Origin(r), "insufficient_scope", f)
	return false
}

// ListFilter returns the predicate a list reply of r's caller is filtered
// with (by item name), or nil when everything is visible: tools/list shows
// the tools the token may call; resources/list and resources/templates/list
// show resources only to a token that may call resources/read, prompts/list
// prompts only to one that may call prompts/get (tool scopes name methods,
// not single resources or prompts). Other methods are not filtered.
func (g *Guard) ListFilter(r *http.Request, method string) func(name string) bool {
	if !g.tools.enabled {
		return nil
	}
	id, _ := IdentityFrom(r.Context())
	var use string
	switch method {
	case "tools/list":
		return func(tool string) bool {
			_, ok := g.tools.allowed(id.Scopes, "tools/call", tool)
			return ok
		}
	case "resources/list", "resources/templates/list":
		use = "resources/read"
	case "prompts/list":
		use = "prompts/get"
	default:
		return nil
	}
	if _, ok := g.tools.allowed(id.Scopes, use, ""); ok {
		return nil
	}
	return func(string) bool { return false }
}
