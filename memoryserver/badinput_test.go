package memoryserver

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBadInputLeavesGraphUnchanged sends hostile or malformed writes and
// checks each gets a clear error and stores nothing.
func TestBadInputLeavesGraphUnchanged(t *testing.T) {
	ts := newTestServer(t, Options{MaxBodyBytes: 64 << 10})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Keep", "t", "x")}})
	before := ts.export(t, "")
	huge := strings.Repeat("n", 1025)
	for name, args := range map[string]map[string]any{
		"empty name":          {"entities": []any{ent("ok", "t"), ent("", "t")}},
		"huge name":           {"entities": []any{ent("ok", "t"), ent(huge, "t")}},
		"name not a string":   {"entities": []any{map[string]any{"name": 5, "entityType": "t", "observations": []string{}}}},
		"observation number":  {"entities": []any{map[string]any{"name": "n", "entityType": "t", "observations": []any{1}}}},
		"entities not a list": {"entities": map[string]any{"name": "n"}},
	} {
		r := ts.call(t, "create_entities", args)
		if !r.IsError || !strings.Contains(r.text(t), "Invalid arguments for tool create_entities") {
			t.Errorf("%s: %+v, want a validation error", name, r)
		}
	}
	if r := ts.call(t, "create_relations", map[string]any{"relations": []any{rel("Keep", "Keep", "")}}); !r.IsError {
		t.Error("empty relation type accepted")
	}
	if r := ts.call(t, "rename_entity", map[string]any{"oldName": "Keep", "newName": ""}); !r.IsError {
		t.Error("rename to an empty name accepted")
	}
	for name, body := range map[string]string{
		"oversized": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[` +
			`{"name":"big","entityType":"t","observations":["` + strings.Repeat("x", 64<<10) + `"]}]}}}`,
		"deep": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[` +
			`{"name":"deep","entityType":"t","observations":[]}],"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}}`,
		"truncated": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[`,
		// Read one way by a gateway and another by this server: refused.
		"case variant": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"read_graph","name":"create_entities","arguments":{"entities":[` +
			`{"name":"sneaky","entityType":"t","observations":[]}]}}}`,
		"repeated key": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","name":"create_entities","arguments":{"entities":[` +
			`{"name":"sneaky","entityType":"t","observations":[]}]}}}`,
	} {
		status, v := ts.post(t, body)
		if status < 400 || v.(map[string]any)["error"] == nil {
			t.Errorf("%s: %d %v, want an HTTP error with a JSON-RPC error", name, status, v)
		}
	}
	if after := ts.export(t, ""); after != before {
		t.Errorf("bad input changed the graph:\n%s", after)
	}
}

// TestArgumentKeysDifferingOnlyInCaseAreIgnored: the reference server
// ignores a key like "NAME" as it ignores any unknown one, but
// encoding/json matches struct fields without regard to case and took the
// last of them over the "name" the schema had checked: an empty or
// over-long name got past the schema's length limits ("ſ", the long s,
// folds to "s" there too).
func TestArgumentKeysDifferingOnlyInCaseAreIgnored(t *testing.T) {
	ts := newTestServer(t, Options{})
	huge := strings.Repeat("n", 1025)
	ts.mustCall(t, "create_entities", json.RawMessage(`{"entities":[
		{"name":"A","NAME":"","entityType":"t","observations":["x"]},
		{"name":"B","Name":"`+huge+`","entityType":"t","ENTITYTYPE":"","observations":[],"Observations":[""]}]}`))
	ts.mustCall(t, "add_observations", json.RawMessage(`{"observations":[{"entityName":"A","entityname":"B","contents":["y"],"contentſ":["z"]}]}`))
	want := `{"type":"entity","name":"A","entityType":"t","observations":["x","y"]}
{"type":"entity","name":"B","entityType":"t","observations":[]}`
	if got := ts.export(t, ""); got != want {
		t.Errorf("graph after arguments with keys differing only in case:\n%s\nwant:\n%s", got, want)
	}
}
