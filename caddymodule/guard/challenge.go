package guard

import (
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// refusal is an RFC 6750 error response: status, error code (empty for a
// request that carried no token), description and the scope to request.
type refusal struct {
	status      int
	code        string
	description string
	scope       string
}

// refuse writes the challenge and a JSON body {error, error_description}.
func (g *Guard) refuse(w http.ResponseWriter, origin string, f refusal) {
	params := []string{`resource_metadata="` + origin + g.metadataPath() + `"`}
	if f.scope != "" {
		params = append(params, `scope="`+f.scope+`"`)
	}
	if f.code != "" {
		params = append(params, `error="`+f.code+`"`, `error_description="`+f.description+`"`)
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	code := f.code
	if code == "" {
		code = "unauthorized"
	}
	oauthwire.WriteError(w, f.status, code, f.description)
}

// unauthorized is the refusal for a missing or invalid token.
func (g *Guard) unauthorized(rej *rejection) refusal {
	f := refusal{status: http.StatusUnauthorized, scope: strings.Join(g.cfg.Scopes, " ")}
	if rej == errMissingToken {
		f.description = "this MCP endpoint requires an OAuth access token"
		return f
	}
	f.code, f.description = "invalid_token", rej.description
	return f
}

// insufficientScope is the refusal for a valid token lacking needed.
func insufficientScope(needed string) refusal {
	return refusal{
		status:      http.StatusForbidden,
		code:        "insufficient_scope",
		description: "the access token lacks a required scope: " + needed,
		scope:       needed,
	}
}
