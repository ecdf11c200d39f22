package authserver

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// nativeAppSchemes are private-use schemes of MCP clients in the field that
// are not in the reverse-DNS form RFC 8252 §7.1 asks for, allowed by name:
// Cursor (cursor://anysphere.cursor-retrieval/...) and VS Code (vscode://,
// vscode-insiders://). Any other native app uses a reverse-DNS scheme, a
// loopback redirect, or a pre-registered client.
var nativeAppSchemes = []string{"cursor", "vscode", "vscode-insiders"}

// checkRedirectURI enforces the redirect URI rules of registration, as an
// allow-list: https with a host; plain http only on a loopback host
// (native apps, RFC 8252 §7.3); a private-use scheme in reverse-DNS form
// (RFC 8252 §7.1, com.example.app:/cb) or one of nativeAppSchemes.
// Everything else is refused: the schemes a browser executes or opens
// locally (javascript:, data:, view-source:, chrome://, file:, feed:, ...)
// are too many to list. Never userinfo (https://trusted.example@evil.example
// reads like a trusted host), a wildcard, a fragment (RFC 6749 §3.1.2), or
// control and bidi characters that make a URI read differently than it is.
func checkRedirectURI(raw string) error {
	if len(raw) > maxRedirectURI {
		return fmt.Errorf("redirect URI %.64q... is longer than %d bytes", raw, maxRedirectURI)
	}
	if i := strings.IndexFunc(raw, deceptiveRune); i >= 0 {
		return fmt.Errorf("redirect URI %q contains the control or bidi character %U", raw, []rune(raw[i:])[0])
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q has a fragment", raw)
	}
	if strings.Contains(raw, "*") {
		return fmt.Errorf("redirect URI %q contains a wildcard; register each URI exactly", raw)
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q has user information before its host", raw)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case scheme == "http":
		if !oauthwire.LoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q uses plain http on a host other than localhost, 127.0.0.1 or [::1]", raw)
		}
	case reverseDNSScheme(scheme) || slices.Contains(nativeAppSchemes, scheme):
		if u.Host == "" && u.Path == "" {
			return fmt.Errorf("redirect URI %q names no callback after its scheme", raw)
		}
	default:
		return fmt.Errorf("redirect URI %q: the scheme %q is not allowed; use https, http on localhost, or a private-use scheme in reverse-DNS form such as com.example.app", raw, scheme)
	}
	return nil
}

// reverseDNSScheme reports whether scheme has the reverse-DNS form of
// RFC 8252 §7.1: dot-separated labels of letters, digits and hyphens.
func reverseDNSScheme(scheme string) bool {
	labels := strings.Split(scheme, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
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
