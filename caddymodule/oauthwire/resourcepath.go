package oauthwire

import (
	"fmt"
	"strings"
)

// DefaultResourcePath is the MCP endpoint's path, and the backend's, when
// none is configured.
const DefaultResourcePath = "/mcp"

// CheckResourcePath says what is wrong with p as the path of a protected
// MCP resource, or nil: it starts with "/" and does not end with one (the
// gateway serves p and p+"/" alike), and holds no query, fragment, space,
// quote or backslash (it is quoted into WWW-Authenticate challenges and
// compared with RFC 8707 resource parameters). The Caddyfile parser, the
// authorization server and the guard all apply this one rule, so no path
// passes one and fails another.
func CheckResourcePath(p string) error {
	if !strings.HasPrefix(p, "/") || (len(p) > 1 && strings.HasSuffix(p, "/")) || p == "/" || strings.ContainsAny(p, "\" \\?#") {
		return fmt.Errorf("resource path %q must start with / and not end with one, without quotes, spaces, backslashes, ? or #", p)
	}
	return nil
}
