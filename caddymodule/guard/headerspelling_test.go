package guard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cgiName is the variable a header reaches a CGI, FastCGI (Caddy's
// php_fastcgi) or WSGI backend as (RFC 3875 §4.1.18, PEP 3333): "HTTP_",
// upper case, '-' as '_'. "X-MCP-Subject" and "X_MCP_Subject" are one
// variable there.
func cgiName(header string) string {
	return "HTTP_" + strings.ToUpper(strings.ReplaceAll(header, "-", "_"))
}

// A client with any valid token sends "X_MCP_Subject: victim" (and
// groups, and a credential): Go's server takes the name as it is, so the
// guard must drop every header a CGI/WSGI backend would read as an
// identity header, not only the canonical names.
func TestIdentityHeadersUnderAnotherSpellingNeverReachTheBackend(t *testing.T) {
	f := newFixture(t, nil)
	// What a real net/http server makes of the names: kept, unchanged.
	var arrived http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived = r.Header.Clone() }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	for _, name := range []string{"X_MCP_Subject", "X_MCP_Subject_Type", "X_MCP_Groups", "x_mcp_client_id"} {
		req.Header[name] = []string{"victim"}
	}
	req.Header["X_mcp_subject"] = []string{"victim"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spoof := http.Header{}
	for k, v := range arrived {
		if strings.Contains(k, "_") {
			spoof[k] = v
		}
	}
	if len(spoof) < 4 {
		t.Fatalf("net/http dropped the underscore headers: %v", arrived)
	}

	_, got := f.admit("Bearer "+f.token(func(c map[string]any) { c["sub"] = "mallory" }), spoof)
	if got == nil {
		t.Fatal("not admitted")
	}
	for _, verified := range []string{DefaultSubjectHeader, DefaultSubjectTypeHeader, DefaultGroupsHeader, DefaultClientIDHeader} {
		for k, v := range got.header {
			if cgiName(k) == cgiName(verified) && k != http.CanonicalHeaderKey(verified) {
				t.Errorf("forwarded %s: %q beside the verified %s; a CGI/WSGI backend reads both as %s", k, v, verified, cgiName(verified))
			}
		}
	}
	if got.header.Get(DefaultSubjectHeader) != "mallory" {
		t.Errorf("subject header %q, want the token's", got.header.Get(DefaultSubjectHeader))
	}
}
