package guard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

// toolFixture admits a token with scopes under a read/write tool policy.
func toolFixture(t *testing.T, scopes string) (*fixture, *http.Request) {
	t.Helper()
	f := newFixture(t, func(c *Config) {
		c.Scopes = []string{"memory.search", "memory.read", "memory.write"}
		c.ToolScopes = map[string][]string{
			"memory.search": {"search_nodes"},
			"memory.read":   {"read_graph", "search_nodes", "resources/read"},
			"memory.write":  {"*", "resources/write"},
		}
	})
	r := httptest.NewRequest(http.MethodPost, testOrigin+"/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+f.token(func(c map[string]any) { c["scope"] = scopes }))
	out, ok := f.guard.Admit(httptest.NewRecorder(), r)
	if !ok {
		t.Fatal("refused")
	}
	return f, out
}

func TestAdmitCallRefusesToolOutsideScopes(t *testing.T) {
	f, r := toolFixture(t, "memory.read")
	w := httptest.NewRecorder()
	if f.guard.AdmitCall(w, r, "tools/call", "create_entities") {
		t.Fatal("tool outside the token's scopes admitted")
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if w.Code != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="memory.write"`) {
		t.Fatalf("got %d %q", w.Code, challenge)
	}
}

func TestAdmitCallAllowsGrantedTools(t *testing.T) {
	f, r := toolFixture(t, "memory.read")
	for _, c := range []struct{ method, tool string }{
		{"tools/call", "read_graph"}, {"tools/list", ""}, {"initialize", ""}, {"resources/read", ""},
	} {
		if !f.guard.AdmitCall(httptest.NewRecorder(), r, c.method, c.tool) {
			t.Errorf("%s %s refused", c.method, c.tool)
		}
	}
	f, r = toolFixture(t, "memory.write")
	if !f.guard.AdmitCall(httptest.NewRecorder(), r, "tools/call", "anything") {
		t.Error("wildcard scope refused a tool")
	}
}

func TestAdmitCallGatesListedMethods(t *testing.T) {
	f, r := toolFixture(t, "memory.read")
	w := httptest.NewRecorder()
	if f.guard.AdmitCall(w, r, "resources/write", "") || w.Code != http.StatusForbidden {
		t.Fatalf("listed method admitted without its scope: %d", w.Code)
	}
}

// A search-only token once read the whole graph with resources/read: once
// tool scopes are set, only lifecycle and listing methods stay open, and
// every other method, known or not, needs a scope that lists it.
func TestAdmitCallGatesDataMethods(t *testing.T) {
	f, r := toolFixture(t, "memory.search")
	for method, needed := range map[string]string{
		"resources/read":      `scope="memory.read"`,
		"resources/write":     `scope="memory.write"`,
		"prompts/get":         "no scope allows this call",
		"completion/complete": "no scope allows this call",
		"resources/subscribe": "no scope allows this call",
		"foo/bar":             "no scope allows this call",
		"":                    "no scope allows this call",
		"Initialize":          "no scope allows this call",
	} {
		w := httptest.NewRecorder()
		if f.guard.AdmitCall(w, r, method, "") {
			t.Errorf("%q admitted for a search-only token", method)
			continue
		}
		challenge := w.Header().Get("WWW-Authenticate")
		if w.Code != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, needed) {
			t.Errorf("%q: %d %q", method, w.Code, challenge)
		}
	}
}

func TestAdmitCallLeavesLifecycleAndListsOpen(t *testing.T) {
	f, r := toolFixture(t, "memory.search")
	for _, method := range []string{
		"initialize", "server/discover", "ping", "logging/setLevel", "notifications/initialized", "notifications/cancelled",
		"tools/list", "resources/list", "resources/templates/list", "prompts/list",
	} {
		if w := httptest.NewRecorder(); !f.guard.AdmitCall(w, r, method, "") {
			t.Errorf("%s refused: %d %q", method, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if !f.guard.AdmitCall(httptest.NewRecorder(), r, "tools/call", "search_nodes") {
		t.Error("the granted tool was refused")
	}
}

// Lists show only what the token may use: resources to a token that may
// read them, prompts to one that may get them; other methods are not lists.
func TestListFilterCoversResourcesAndPrompts(t *testing.T) {
	search, rs := toolFixture(t, "memory.search")
	for _, method := range []string{"resources/list", "resources/templates/list", "prompts/list"} {
		if visible := search.guard.ListFilter(rs, method); visible == nil || visible("graph") {
			t.Errorf("%s shows items to a token that may not use them", method)
		}
	}
	read, rr := toolFixture(t, "memory.read")
	for method, want := range map[string]bool{"resources/list": false, "resources/templates/list": false, "prompts/list": true, "ping": false} {
		if got := read.guard.ListFilter(rr, method) != nil; got != want {
			t.Errorf("%s filtered for a memory.read token: %v, want %v", method, got, want)
		}
	}
}

func TestToolFilter(t *testing.T) {
	f, r := toolFixture(t, "memory.read")
	visible := f.guard.ListFilter(r, "tools/list")
	if visible == nil || !visible("search_nodes") || visible("delete_entities") {
		t.Fatal("filter does not follow the token's scopes")
	}
	plain := newFixture(t, nil)
	if plain.guard.ListFilter(r, "tools/list") != nil {
		t.Error("filter set without ToolScopes")
	}
}

func TestNewRejectsUnknownToolScope(t *testing.T) {
	_, err := New(Config{
		Origin:     func(*http.Request) string { return testOrigin },
		Scopes:     []string{"memory.read"},
		ToolScopes: map[string][]string{"memory.raed": {"read_graph"}},
	}, guardtest.NewIssuer(t, "k1"), nil)
	if err == nil {
		t.Fatal("a misspelt tool scope was accepted")
	}
}

func TestNewRejectsMalformedScope(t *testing.T) {
	for _, scope := range []string{"", "two words", `quo"te`} {
		_, err := New(Config{Origin: func(*http.Request) string { return testOrigin }, Scopes: []string{scope}}, guardtest.NewIssuer(t, "k1"), nil)
		if err == nil {
			t.Errorf("scope %q accepted", scope)
		}
	}
}
