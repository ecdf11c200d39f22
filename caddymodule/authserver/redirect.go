package authserver

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// checkRedirectURI enforces the redirect URI rules of registration: https;
// plain http only on a loopback host (native apps, RFC 8252 §7.3); or a
// private-use scheme of a native app (RFC 8252 §7.1, e.g. cursor://). No
// fragments (RFC 6749 §3.1.2) and no schemes a browser would execute.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q has a fragment", raw)
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case "http":
		if !oauthwire.LoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q uses plain http on a host other than localhost, 127.0.0.1 or [::1]", raw)
		}
	case "javascript", "data", "vbscript", "file", "blob", "about", "ws", "wss", "ftp":
		return fmt.Errorf("redirect URI %q uses the scheme %q, which is not allowed", raw, scheme)
	}
	return nil
}

// redirectMatches reports whether requested is one of registered: an exact
// string match, except that on loopback http the port may differ (RFC 8252
// §7.3: native apps get an ephemeral port at run time).
func redirectMatches(registered []string, requested string) bool {
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !oauthwire.LoopbackHost(req.Hostname()) || req.Fragment != "" {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" {
			continue
		}
		if reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() &&
			reg.RawQuery == req.RawQuery && reg.User.String() == req.User.String() {
			return true
		}
	}
	return false
}
