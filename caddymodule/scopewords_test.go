package caddymodule

import (
	"maps"
	"testing"
)

func TestScopeDescriptionsFromToolScopes(t *testing.T) {
	g := &Gateway{Resources: []*Resource{
		{ToolScopes: map[string][]string{"memory.read": {"read_graph", "search_nodes"}, "memory.write": {"*"}}},
		{ToolScopes: map[string][]string{"memory.read": {"other"}}},
	}}
	want := map[string]string{"memory.read": "Use the tools read_graph, search_nodes", "memory.write": "Use every tool"}
	if got := g.scopeDescriptions(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
