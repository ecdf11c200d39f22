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
	Title        string
	Action       string
	Params       url.Values
	CSRF         string
	Client       string
	Unverified   bool // the client named itself (dynamic registration)
	Subject      string
	RedirectHost string
	Resource     string
	Scopes       []string
	Failed       bool
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

func (s *Server) renderLogin(w http.ResponseWriter, req *authzRequest, csrf string, failed bool) {
	status := http.StatusOK
	if failed {
		status = http.StatusUnauthorized
	}
	data := pageData{
		Title: "Sign in", Action: pathAuthorize, Params: req.params(), CSRF: csrf,
		Client: req.client.displayName(), Failed: failed, Passwords: len(s.cfg.Users) > 0,
	}
	for _, u := range s.cfg.Upstreams {
		data.Upstreams = append(data.Upstreams, upstreamButton{Label: u.Label(), Action: pathLogin + u.Name()})
	}
	s.renderPage(w, status, "login", data)
}

func (s *Server) renderConsent(w http.ResponseWriter, req *authzRequest, who person, csrf string) {
	s.renderPage(w, http.StatusOK, "consent", pageData{
		Title: "Allow access?", Action: pathAuthorize, Params: req.params(), CSRF: csrf,
		Client: req.client.displayName(), Unverified: !req.client.static, Subject: who.Username,
		RedirectHost: redirectHost(req.redirectURI),
		Resource:     req.resource, Scopes: req.scopes,
	})
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
	host, err := idna.Punycode.ToASCII(u.Hostname())
	if err != nil {
		// Not a name IDNA can encode: show it escaped rather than as it
		// would render.
		host = strings.Trim(strconv.QuoteToASCII(u.Hostname()), `"`)
	}
	if port := u.Port(); port != "" {
		return net.JoinHostPort(host, port)
	}
	return host
}
