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
// groups, a client id, the MCP headers the gateway checked, a forwarded
// address): Go's server takes the names as they are, so the guard must
// drop every header a CGI/WSGI backend would read as another one. Headers
// spelled with '-' pass as they were.
func TestHeadersSpelledWithUnderscoresNeverReachTheBackend(t *testing.T) {
	f := newFixture(t, nil)
	// What a real net/http server makes of the names: kept, unchanged.
	var arrived http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived = r.Header.Clone() }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	for _, name := range []string{"X_MCP_Subject", "X_MCP_Subject_Type", "X_MCP_Groups", "x_mcp_client_id", "X_mcp_subject", "Mcp_Method", "Mcp_Name", "X_Forwarded_For"} {
		req.Header[name] = []string{"victim"}
	}
	req.Header.Set("X-Api-Version", "7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(arrived); n < 9 {
		t.Fatalf("net/http dropped some of the headers: %v", arrived)
	}

	_, got := f.admit("Bearer "+f.token(func(c map[string]any) { c["sub"] = "mallory" }), arrived)
	if got == nil {
		t.Fatal("not admitted")
	}
	for k, v := range got.header {
		if strings.Contains(k, "_") {
			t.Errorf("forwarded %s: %q; a CGI/WSGI backend reads it as %s", k, v, cgiName(k))
		}
	}
	if got.header.Get(DefaultSubjectHeader) != "mallory" {
		t.Errorf("subject header %q, want the token's", got.header.Get(DefaultSubjectHeader))
	}
	if got.header.Get("X-Api-Version") != "7" {
		t.Errorf("a header spelled with '-' was dropped: %v", got.header)
	}
}
