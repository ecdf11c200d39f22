package guard

import (
	"net/http"
	"slices"
	"testing"
)

func TestGroupsReachTheBackendOnlyFromTheToken(t *testing.T) {
	f := newFixture(t, nil)
	withGroups := f.token(func(c map[string]any) { c["groups"] = []string{"eng", "ops,admins", "100%", "café"} })
	_, got := f.admit("Bearer "+withGroups, http.Header{"X-Mcp-Groups": {"admins"}})
	if got == nil || !slices.Equal(got.header.Values("X-MCP-Groups"), []string{"eng,ops%2Cadmins,100%25,caf%C3%A9"}) {
		t.Fatalf("groups header %q", got.header.Values("X-MCP-Groups"))
	}
	// A user without groups: whatever the client sent is gone.
	_, got = f.admit("Bearer "+f.token(nil), http.Header{"X-Mcp-Groups": {"admins"}})
	if got == nil || got.header.Values("X-MCP-Groups") != nil {
		t.Fatalf("a client's own groups header reached the backend: %q", got.header.Values("X-MCP-Groups"))
	}
}

func TestGroupsHeaderIsConfigurableAndKeptOutOfConnection(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.GroupsHeader = "X-Teams" })
	tok := f.token(func(c map[string]any) { c["groups"] = []string{"eng"} })
	_, got := f.admit("Bearer "+tok, http.Header{"X-Teams": {"admins"}, "Connection": {"x-teams, keep-alive"}})
	if got == nil || got.header.Get("X-Teams") != "eng" || got.header.Get("X-MCP-Groups") != "" {
		t.Fatalf("headers %+v", got)
	}
	if c := got.header.Values("Connection"); len(c) != 1 || c[0] != "keep-alive" {
		t.Errorf("Connection = %q: a proxy would drop the groups header", c)
	}
}
