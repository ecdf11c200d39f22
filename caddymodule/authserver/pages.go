package authserver

import (
	"bytes"
	"embed"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/net/idna"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

//go:embed templates/pages.html
var pageFiles embed.FS

// pages are the login, consent and error pages: self-contained HTML (no
// external assets, inline style allowed by the page's CSP), readable on a
// phone, escaped by html/template.
var pages = template.Must(template.ParseFS(pageFiles, "templates/pages.html"))

// pageData is what every page template gets.
type pageData struct {
	Title  string
	Action string
	Params url.Values
	CSRF   string
	Client string
	// ClientHost is the host of a metadata document's URL, the headline
	// of the consent page: unlike a name, a host cannot be chosen freely.
	ClientHost   string
	Unverified   bool // the client named itself (dynamic registration)
	Subject      string
	RedirectHost string
	Resource     string
	Scopes       []scopeWords
	Failed       bool
	Username     string // kept in the login form after a wrong password
	Message      string
	// Upstreams are the login page's buttons, one per upstream provider;
	// Passwords says whether it shows the password form.
	Upstreams []upstreamButton
	Passwords bool
}

// upstreamButton starts a sign-in at an upstream provider for the
// authorization request in Params.
type upstreamButton struct {
	Label  string
	Action string
}

// scopeWords is a scope as the consent page shows it: in words, with the
// raw name small.
type scopeWords struct {
	Name, Words string
}

func (s *Server) renderPage(w http.ResponseWriter, status int, name string, data pageData) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("rendering page", zap.String("page", name), zapErr(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error that must not be redirected.
func (s *Server) renderError(w http.ResponseWriter, status int, message string) {
	s.renderPage(w, status, "error", pageData{Title: "Cannot continue", Message: message})
}

// renderLogin shows the login form; after a wrong password (failedUser is
// the name that was tried) it says so and keeps the name.
func (s *Server) renderLogin(w http.ResponseWriter, req *authzRequest, csrf string, failed bool, failedUser string) {
	status := http.StatusOK
	if failed {
		status = http.StatusUnauthorized
	}
	data := pageData{
		Title: "Sign in", Action: pathAuthorize, Params: req.params(), CSRF: csrf,
		Client: req.client.displayName(), ClientHost: clientHost(req.client), Failed: failed, Username: failedUser,
		Passwords: len(s.cfg.Users) > 0,
	}
	for _, u := range s.cfg.Upstreams {
		data.Upstreams = append(data.Upstreams, upstreamButton{Label: u.Label(), Action: pathLogin + u.Name()})
	}
	s.renderPage(w, status, "login", data)
}

func (s *Server) renderConsent(w http.ResponseWriter, req *authzRequest, who person, csrf string) {
	scopes := make([]scopeWords, 0, len(req.scopes))
	for _, sc := range req.scopes {
		scopes = append(scopes, scopeWords{Name: sc, Words: s.scopeWords(sc)})
	}
	name := req.client.displayName()
	if req.client.document && req.client.ClientName == "" {
		name = ""
	}
	s.renderPage(w, http.StatusOK, "consent", pageData{
		Title: "Allow access?", Action: pathAuthorize, Params: req.params(), CSRF: csrf,
		Client: name, ClientHost: clientHost(req.client),
		Unverified: !req.client.static, Subject: who.Username, // documents are headlined by host instead
		RedirectHost: redirectHost(req.redirectURI),
		Resource:     req.resource, Scopes: scopes,
	})
}

// clientHost is the host of a document client's URL as pages show it; ""
// for other clients.
func clientHost(c *client) string {
	if !c.document {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil {
		return c.ID
	}
	return displayHost(u.Hostname())
}

// scopeWords describes a scope for the consent page: the operator's words
// (Config.ScopeDescriptions), else the known ones, else a generic phrase.
func (s *Server) scopeWords(scope string) string {
	if d := s.cfg.ScopeDescriptions[scope]; d != "" {
		return d
	}
	switch scope {
	case offlineAccessScope:
		return "Stay connected: renew its access without asking you again, until you revoke it"
	case "mcp":
		return "Use this MCP server: its tools, resources and prompts"
	}
	return "Access that the operator named " + strconv.Quote(scope)
}

// redirectHost names where the browser goes after consent. The host is
// shown in punycode: a look-alike in another script (аpple.example with a
// Cyrillic а) then reads as xn--pple-43d.example, not as the real one.
func redirectHost(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	switch {
	case u.Host == "":
		return u.Scheme + ":"
	case u.Scheme == "http" && oauthwire.LoopbackHost(u.Hostname()):
		return u.Host + " (an application on this computer)"
	}
	host := displayHost(u.Hostname())
	if port := u.Port(); port != "" {
		return net.JoinHostPort(host, port)
	}
	return host
}

// displayHost is a host name as pages show it: in punycode, so that a
// look-alike in another script (аpple.example with a Cyrillic а) reads as
// xn--pple-43d.example, not as the real one.
func displayHost(hostname string) string {
	host, err := idna.Punycode.ToASCII(hostname)
	if err != nil {
		// Not a name IDNA can encode: show it escaped rather than as it
		// would render.
		host = strings.Trim(strconv.QuoteToASCII(hostname), `"`)
	}
	return host
}
