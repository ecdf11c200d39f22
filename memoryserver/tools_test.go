package memoryserver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// checkText verifies that the text content is the indented JSON of want, as
// the reference server writes it.
func checkText(t *testing.T, r toolReply, want any) {
	t.Helper()
	b, err := marshalJS(want, "  ")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.text(t); got != string(b) {
		t.Errorf("text = %s, want %s", got, b)
	}
}

func TestCreateEntitiesStoresBatchDuplicatesOnce(t *testing.T) {
	ts := newTestServer(t, Options{})
	r := ts.mustCall(t, "create_entities", map[string]any{"entities": []any{
		ent("Alice", "person", "likes tea", "likes tea"), ent("Alice", "robot"), ent("Bob", "person")}})
	var out struct{ Entities []entity }
	json.Unmarshal(r.Structured, &out)
	if len(out.Entities) != 2 || !reflect.DeepEqual(out.Entities[0].Observations, []string{"likes tea"}) ||
		out.Entities[0].CreatedAt == "" || out.Entities[0].UpdatedAt == "" {
		t.Fatalf("created = %+v", out.Entities)
	}
	checkText(t, r, out.Entities)
	r = ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("Bob", "person", "new")}})
	if string(r.Structured) != `{"entities":[]}` || r.text(t) != "[]" {
		t.Errorf("existing entity: %s / %s, want nothing created", r.Structured, r.text(t))
	}
	if got := ts.export(t, ""); got != `{"type":"entity","name":"Alice","entityType":"person","observations":["likes tea"]}`+"\n"+
		`{"type":"entity","name":"Bob","entityType":"person","observations":[]}` {
		t.Errorf("stored:\n%s", got)
	}
}

func TestRelations(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t"), ent("B", "t")}})
	r := ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("A", "B", "knows"), rel("A", "B", "knows")}})
	var out struct{ Relations []relation }
	json.Unmarshal(r.Structured, &out)
	if len(out.Relations) != 1 || out.Relations[0].From != "A" || out.Relations[0].CreatedAt == "" {
		t.Fatalf("created = %s", r.Structured)
	}
	checkText(t, r, out.Relations)
	before := ts.export(t, "")
	r = ts.call(t, "create_relations", map[string]any{"relations": []any{rel("B", "A", "likes"), rel("A", "Ghost", "haunts")}})
	if !r.IsError || !strings.Contains(r.text(t), "Entity with name Ghost not found") {
		t.Errorf("relation to a missing entity: %+v", r)
	}
	if after := ts.export(t, ""); after != before {
		t.Errorf("a refused call changed the graph:\n%s", after)
	}
	ts.mustCall(t, "delete_relations", map[string]any{"relations": []any{rel("A", "B", "knows"), rel("X", "Y", "z")}})
	if g := ts.graphOf(t); len(g.Relations) != 0 {
		t.Errorf("relations after delete = %+v", g.Relations)
	}
}

func TestObservations(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t", "one")}})
	r := ts.mustCall(t, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "A", "contents": []string{"one", "two", "two", "three"}}}})
	want := []observationResult{{EntityName: "A", AddedObservations: []string{"two", "three"}}}
	checkText(t, r, want)
	var got struct{ Results []observationResult }
	if json.Unmarshal(r.Structured, &got); !reflect.DeepEqual(got.Results, want) {
		t.Errorf("structured = %s", r.Structured)
	}
	before := ts.export(t, "")
	r = ts.call(t, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "A", "contents": []string{"four"}},
		map[string]any{"entityName": "Z", "contents": []string{"x"}}}})
	if !r.IsError || r.text(t) != "Entity with name Z not found" {
		t.Errorf("unknown entity: %+v", r)
	}
	if ts.export(t, "") != before {
		t.Error("a failed add_observations stored part of its batch")
	}
	r = ts.mustCall(t, "delete_observations", map[string]any{"deletions": []any{
		map[string]any{"entityName": "A", "observations": []string{"two", "nope"}},
		map[string]any{"entityName": "Z", "observations": []string{"x"}}}})
	if r.text(t) != "Observations deleted successfully" ||
		string(r.Structured) != `{"message":"Observations deleted successfully","success":true}` {
		t.Errorf("delete_observations reply %+v", r)
	}
	if r := ts.mustCall(t, "search_nodes", map[string]any{"query": "tw"}); strings.Contains(r.text(t), `"A"`) {
		t.Errorf("deleted observation still found: %s", r.text(t))
	}
	r = ts.mustCall(t, "replace_observation", map[string]any{"entityName": "A", "oldObservation": "one", "newObservation": "uno"})
	var e struct{ Entity entity }
	json.Unmarshal(r.Structured, &e)
	if !reflect.DeepEqual(e.Entity.Observations, []string{"uno", "three"}) {
		t.Errorf("after replace: %+v", e.Entity)
	}
	checkText(t, r, e.Entity)
	for query, found := range map[string]bool{"uno": true, "one": false, "no thr": false} {
		if r := ts.mustCall(t, "search_nodes", map[string]any{"query": query}); strings.Contains(r.text(t), `"A"`) != found {
			t.Errorf("search %q after replace: %s", query, r.text(t))
		}
	}
	ts.mustCall(t, "replace_observation", map[string]any{"entityName": "A", "oldObservation": "uno", "newObservation": "three"})
	if g := ts.graphOf(t); !reflect.DeepEqual(g.Entities[0].Observations, []string{"three"}) {
		t.Errorf("replacing with an existing text: %+v", g.Entities[0])
	}
	for _, args := range []map[string]any{
		{"entityName": "A", "oldObservation": "missing", "newObservation": "x"},
		{"entityName": "Z", "oldObservation": "three", "newObservation": "x"},
	} {
		if r := ts.call(t, "replace_observation", args); !r.IsError {
			t.Errorf("replace_observation %v: want an error", args)
		}
	}
}

func TestRenameEntityKeepsRelations(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t", "x"), ent("B", "t")}})
	ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("A", "B", "knows")}})
	ts.mustCall(t, "rename_entity", map[string]any{"oldName": "A", "newName": "Alpha"})
	g := ts.graphOf(t)
	if !reflect.DeepEqual(names(g), []string{"Alpha", "B"}) || g.Relations[0].From != "Alpha" ||
		!reflect.DeepEqual(g.Entities[0].Observations, []string{"x"}) {
		t.Errorf("after rename: %+v", g)
	}
	if r := ts.call(t, "rename_entity", map[string]any{"oldName": "Alpha", "newName": "B"}); !r.IsError ||
		r.text(t) != "Entity with name B already exists" {
		t.Errorf("rename onto an existing name: %+v", r)
	}
	if r := ts.call(t, "rename_entity", map[string]any{"oldName": "A", "newName": "C"}); !r.IsError ||
		r.text(t) != "Entity with name A not found" {
		t.Errorf("rename of a missing entity: %+v", r)
	}
	if r := ts.call(t, "search_nodes", map[string]any{"query": "alpha"}); !strings.Contains(r.text(t), `"Alpha"`) {
		t.Errorf("renamed entity not found by its new name: %s", r.text(t))
	}
}

func TestDeleteEntitiesCascades(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t", "gone"), ent("B", "t")}})
	ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("A", "B", "knows"), rel("B", "A", "knows")}})
	r := ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{"A", "Nobody"}})
	if r.text(t) != "Entities deleted successfully" {
		t.Errorf("reply %+v", r)
	}
	g := ts.graphOf(t)
	if !reflect.DeepEqual(names(g), []string{"B"}) || len(g.Relations) != 0 {
		t.Errorf("after delete: %+v", g)
	}
	if r := ts.call(t, "search_nodes", map[string]any{"query": "gone"}); r.text(t) != "{\n  \"entities\": [],\n  \"relations\": []\n}" {
		t.Errorf("deleted entity still found: %s", r.text(t))
	}
}

func TestOpenNodes(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t"), ent("B", "t"), ent("C", "t")}})
	ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("A", "B", "r"), rel("B", "C", "r"), rel("C", "A", "r")}})
	r := ts.mustCall(t, "open_nodes", map[string]any{"names": []string{"C", "A", "A", "nope"}})
	var g graph
	json.Unmarshal(r.Structured, &g)
	if !reflect.DeepEqual(names(g), []string{"A", "C"}) || len(g.Relations) != 3 {
		t.Errorf("open_nodes = %+v, want A, C (creation order) and every relation touching them", g)
	}
	checkText(t, r, g)
}

func TestSearchFindsSubstringsAndRanksWords(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{
		ent("Notes", "doc", "the gateway talks to the memory server"),
		ent("Memory Server", "project", "written in Go"),
		ent("Ölfarbe", "Material", "ÉCOLE supply"),
		ent("Unrelated", "thing", "nothing here", "two\nlines"),
	}})
	ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("Unrelated", "Ölfarbe", "uses")}})
	for query, want := range map[string][]string{
		"memory server": {"Memory Server", "Notes"}, // name hit ranks first
		"server memory": {},                         // the whole query is one substring, as in the reference
		"emory serv":    {"Notes", "Memory Server"}, // substring, like the reference: creation order
		"ölfa":          {"Ölfarbe"},                // case-insensitive beyond ASCII
		"école":         {"Ölfarbe"},
		"MATERIAL":      {"Ölfarbe"},
		"go":            {"Memory Server"}, // short: scanned
		"":              {"Notes", "Memory Server", "Ölfarbe", "Unrelated"},
		"ОЛЬ":           {},
		"absent":        {},
		"here\nnot":     {}, // never across two observations
		"o\nli":         {"Unrelated"},
	} {
		var g graph
		json.Unmarshal(ts.mustCall(t, "search_nodes", map[string]any{"query": query}).Structured, &g)
		if !reflect.DeepEqual(names(g), want) {
			t.Errorf("search %q = %v, want %v", query, names(g), want)
		}
		if query == "ölfa" && (len(g.Relations) != 1 || g.Relations[0].From != "Unrelated") {
			t.Errorf("search %q relations = %+v, want the one touching a hit", query, g.Relations)
		}
	}
}

func TestPagingAndNamesOnly(t *testing.T) {
	ts := newTestServer(t, Options{})
	var all []any
	for _, n := range []string{"a1", "a2", "a3", "a4", "a5"} {
		all = append(all, ent(n, "item", "obs of "+n))
	}
	ts.mustCall(t, "create_entities", map[string]any{"entities": all})
	ts.mustCall(t, "create_relations", map[string]any{"relations": []any{rel("a1", "a5", "r"), rel("a5", "a1", "r")}})
	for _, tool := range []string{"read_graph", "search_nodes"} {
		var seen []string
		relations := 0
		args := map[string]any{"query": "obs of", "limit": 2, "namesOnly": true}
		for pages := 0; ; pages++ {
			var g graph
			r := ts.mustCall(t, tool, args)
			json.Unmarshal(r.Structured, &g)
			checkText(t, r, g)
			if len(g.Entities) > 2 || pages > 3 {
				t.Fatalf("%s: page too big or too many pages: %+v", tool, g)
			}
			for _, e := range g.Entities {
				if e.Observations != nil || e.CreatedAt != "" || e.EntityType != "item" {
					t.Errorf("%s namesOnly entity %+v", tool, e)
				}
			}
			seen = append(seen, names(g)...)
			relations += len(g.Relations)
			if g.NextCursor == "" {
				break
			}
			args["cursor"] = g.NextCursor
		}
		if strings.Join(seen, ",") != "a1,a2,a3,a4,a5" {
			t.Errorf("%s pages = %v", tool, seen)
		}
		if tool == "read_graph" && relations != 2 {
			t.Errorf("read_graph pages carried %d relations, want each of 2 once", relations)
		}
	}
	if r := ts.call(t, "read_graph", map[string]any{"cursor": "bogus"}); !r.IsError {
		t.Error("bogus cursor accepted")
	}
	if r := ts.call(t, "search_nodes", map[string]any{"query": "x", "limit": 0}); !r.IsError {
		t.Error("limit 0 accepted")
	}
}

func TestToolErrorsLikeReference(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, tc := range []struct {
		tool string
		args any
		want string
	}{
		{"nope", map[string]any{}, "MCP error -32602: Tool nope not found"},
		{"create_entities", map[string]any{"entities": "bad"},
			"MCP error -32602: Input validation error: Invalid arguments for tool create_entities: Invalid input: expected array, received string at entities"},
		{"create_entities", map[string]any{"entities": []any{map[string]any{"name": "B", "entityType": "t"}}},
			"MCP error -32602: Input validation error: Invalid arguments for tool create_entities: Invalid input: expected array, received undefined at entities[0].observations"},
		{"search_nodes", map[string]any{},
			"MCP error -32602: Input validation error: Invalid arguments for tool search_nodes: Invalid input: expected string, received undefined at query"},
		{"read_graph", map[string]any{"limit": 1.5},
			"MCP error -32602: Input validation error: Invalid arguments for tool read_graph: Invalid input: expected integer, received number at limit"},
		{"read_graph", []any{}, "MCP error -32602: Input validation error: Invalid arguments for tool read_graph: Invalid input: expected object, received array"},
	} {
		if r := ts.call(t, tc.tool, tc.args); !r.IsError || r.text(t) != tc.want {
			t.Errorf("%s %v: %+v, want error %q", tc.tool, tc.args, r, tc.want)
		}
	}
	// read_graph takes no required arguments: absent and extra ones are fine.
	_, v := ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph"}}`)
	if res := v.(map[string]any)["result"].(map[string]any); res["isError"] != nil {
		t.Errorf("read_graph without arguments: %v", res)
	}
}
