package memoryserver

import (
	"reflect"
	"strings"
	"testing"
)

func TestPerUserGraphsAreIsolated(t *testing.T) {
	ts := newTestServer(t, Options{SubjectHeader: DefaultSubjectHeader})
	alice := []string{DefaultSubjectHeader, "alice"}
	bob := []string{DefaultSubjectHeader, "bob"}
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Secret", "note", "alice only")}}, alice...)
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Secret", "note", "bob only"), ent("B", "t")}}, bob...)
	if r := ts.call(t, "create_relations", map[string]any{"relations": []any{rel("Secret", "B", "r")}}, alice...); !r.IsError {
		t.Error("alice linked to bob's entity")
	}
	if g := ts.graphOf(t, alice...); !reflect.DeepEqual(names(g), []string{"Secret"}) ||
		g.Entities[0].Observations[0] != "alice only" {
		t.Errorf("alice sees %+v", g)
	}
	if r := ts.mustCall(t, "search_nodes", map[string]any{"query": "only"}, bob...); strings.Contains(r.text(t), "alice") {
		t.Errorf("bob's search found alice's data: %s", r.text(t))
	}
	ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{"Secret"}}, bob...)
	if g := ts.graphOf(t, alice...); len(g.Entities) != 1 {
		t.Errorf("bob's delete reached alice: %+v", g)
	}
	if ts.export(t, "alice") == "" || ts.export(t, "") != "" {
		t.Error("export by owner does not match the per-user graphs")
	}
	status, v := ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if status != 400 || !strings.Contains(v.(map[string]any)["error"].(map[string]any)["message"].(string), DefaultSubjectHeader) {
		t.Errorf("request without the subject header: %d %v", status, v)
	}
}

func TestSubjectHeaderIgnoredWhenOff(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Shared", "t")}}, DefaultSubjectHeader, "mallory")
	if g := ts.graphOf(t); !reflect.DeepEqual(names(g), []string{"Shared"}) {
		t.Errorf("default graph = %+v: the header must be ignored unless configured", g)
	}
}

// A client caller (X-MCP-Subject-Type: client, its id as the subject) has
// a graph of its own, never the graph of the user of the same name; a user
// cannot take a client's graph by a name with the client prefix.
func TestClientCallersAreKeptApartFromUsers(t *testing.T) {
	ts := newTestServer(t, Options{SubjectHeader: DefaultSubjectHeader})
	user := []string{DefaultSubjectHeader, "alice", SubjectTypeHeader, "user"}
	client := []string{DefaultSubjectHeader, "alice", SubjectTypeHeader, "client"}
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Secret", "note", "the user's")}}, user...)
	if g := ts.graphOf(t, client...); len(g.Entities) != 0 {
		t.Errorf("the client alice sees the user alice's graph: %+v", g)
	}
	readGraph := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`
	if status, v := ts.post(t, readGraph, DefaultSubjectHeader, "client:alice"); status != 400 {
		t.Errorf("a user named client:alice (the client alice's graph): %d %v", status, v)
	}
	if status, v := ts.post(t, readGraph, DefaultSubjectHeader, "alice", SubjectTypeHeader, "robot"); status != 400 {
		t.Errorf("an unknown subject type: %d %v", status, v)
	}
}
