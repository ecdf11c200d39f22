package guard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestMetadataDocument(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Primary = true; c.Scopes = []string{"memory.read", "memory.write"} })
	for _, path := range []string{
		"/.well-known/oauth-protected-resource/mcp",
		"/mcp/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/mcp/",
	} {
		r := httptest.NewRequest(http.MethodGet, testOrigin+path, nil)
		if f.guard.Routes()[path] == nil {
			t.Fatalf("%s not routed", path)
		}
		w := httptest.NewRecorder()
		f.guard.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %v", path, w.Code, w.Header())
		}
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"resource":                 "https://gw.example/mcp",
			"authorization_servers":    []any{"https://gw.example"},
			"bearer_methods_supported": []any{"header"},
			"scopes_supported":         []any{"memory.read", "memory.write"},
		}
		if !reflect.DeepEqual(doc, want) {
			t.Errorf("%s: %v, want %v", path, doc, want)
		}
	}
}

func TestMetadataRootOnlyForPrimary(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ResourcePath = "/tools-a" })
	if f.guard.Routes()["/.well-known/oauth-protected-resource"] != nil {
		t.Error("non-primary resource claims the root metadata")
	}
	if f.guard.Routes()["/.well-known/oauth-protected-resource/tools-a"] == nil {
		t.Error("path-inserted metadata not routed")
	}
}

func TestMetadataPreflightAndMethods(t *testing.T) {
	f := newFixture(t, nil)
	w := httptest.NewRecorder()
	f.guard.ServeHTTP(w, httptest.NewRequest(http.MethodOptions, "/.well-known/oauth-protected-resource/mcp", nil))
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	f.guard.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/.well-known/oauth-protected-resource/mcp", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", w.Code)
	}
}
