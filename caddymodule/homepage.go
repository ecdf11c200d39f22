package caddymodule

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/homepage.html
var homePageHTML string

var homePageTemplate = template.Must(template.New("home").Parse(homePageHTML))

// homePage is the page at / (and for a browser at an MCP endpoint) when
// Gateway.HomePage is on: what this server is, its MCP URL and how to
// connect the common clients, for someone who typed the URL in a browser.
type homePage struct{ g *Gateway }

func (h homePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The origin comes from the request (Host); html/template escapes it
	// everywhere it appears, in text and in the JSON snippets.
	origin := h.g.origin(r)
	data := struct {
		Origin, URL string
		URLs        []string
		HTTPS       bool
	}{Origin: origin, HTTPS: strings.HasPrefix(origin, "https:")}
	for _, res := range h.g.Resources {
		data.URLs = append(data.URLs, origin+res.Path)
	}
	data.URL = data.URLs[0]
	var b bytes.Buffer
	if err := homePageTemplate.Execute(&b, data); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// A static page: no scripts, no frames (clickjacking), no sniffing.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Vary", "Accept")
	w.Write(b.Bytes()) //nolint:errcheck // the client went away
}

// browserAware answers a browser's GET at an MCP endpoint (Accept names
// text/html, no credentials) with page, and every other request with mcp.
// MCP clients ask for application/json or text/event-stream and keep
// getting the endpoint's JSON and 401s.
func browserAware(page, mcp http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Authorization") == "" && acceptsHTML(r) {
			page.ServeHTTP(w, r)
			return
		}
		mcp.ServeHTTP(w, r)
	})
}

// acceptsHTML reports whether the Accept header names text/html, as
// browsers' navigations do.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			media, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(media), "text/html") {
				return true
			}
		}
	}
	return false
}
