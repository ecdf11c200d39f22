package memoryserver

import (
	"context"
	"os"
	"strings"
	"testing"
)

// testdata/reference.jsonl was written by @modelcontextprotocol/server-memory
// itself (create_entities, then create_relations), so exporting it again must
// reproduce it byte for byte.
func TestImportExportRoundTripIsExact(t *testing.T) {
	want, err := os.ReadFile("testdata/reference.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, Options{})
	ctx := context.Background()
	if err := ts.Import(ctx, strings.NewReader(string(want)), ""); err != nil {
		t.Fatal(err)
	}
	if got := ts.export(t, ""); got != string(want) {
		t.Errorf("export differs from the reference file:\ngot:\n%s\nwant:\n%s", got, want)
	}
	// Importing the same file again adds nothing.
	if err := ts.Import(ctx, strings.NewReader(string(want)), ""); err != nil {
		t.Fatal(err)
	}
	if got := ts.export(t, ""); got != string(want) {
		t.Errorf("second import changed the graph:\n%s", got)
	}
	// The imported graph is served like any other.
	if r := ts.mustCall(t, "search_nodes", map[string]any{"query": "テキスト"}); !strings.Contains(r.text(t), "Ölfarbe 🎨") {
		t.Errorf("imported entity not searchable: %s", r.text(t))
	}
}

func TestImportRefusesBadFilesWhole(t *testing.T) {
	ts := newTestServer(t, Options{})
	ctx := context.Background()
	for name, file := range map[string]string{
		"dangling relation": `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" +
			`{"type":"relation","from":"A","to":"Ghost","relationType":"r"}`,
		"unknown type": `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" + `{"type":"node","name":"B"}`,
		"empty name":   `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" + `{"type":"entity","name":"","entityType":"t","observations":[]}`,
		"not json":     `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" + `{"type":`,
		// Keys are exact, as in the reference (JSON.parse, item.type === "entity").
		"Type in capitals": `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" + `{"Type":"entity","name":"B","entityType":"t","observations":[]}`,
		"Name in capitals": `{"type":"entity","name":"A","entityType":"t","observations":[]}` + "\n" + `{"type":"entity","Name":"B","entityType":"t","observations":[]}`,
	} {
		err := ts.Import(ctx, strings.NewReader(file), "")
		if err == nil || !strings.HasPrefix(err.Error(), "import: ") {
			t.Errorf("%s: err = %v, want an import error", name, err)
		}
		if got := ts.export(t, ""); got != "" {
			t.Errorf("%s: a failed import stored %s", name, got)
		}
	}
}

func TestMarshalJSMatchesJSONStringify(t *testing.T) {
	got, err := marshalJS([]string{"<&>", "\u2028\u2029", `\u2028`, "\b\f\x01"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `["<&>","` + "\u2028\u2029" + `","\\u2028","\b\f\u0001"]`; string(got) != want {
		t.Errorf("marshalJS = %s, want %s", got, want)
	}
	got, _ = marshalJS(map[string][]string{"a": {}}, "  ")
	if want := "{\n  \"a\": []\n}"; string(got) != want {
		t.Errorf("indented = %q, want %q", got, want)
	}
}

// TestImportKeepsTheFileOrderOfRelations: relations are written as the
// file is read, but one that names an entity further on waits, and every
// relation after it too, so that the graph (and an export) keeps the
// file's order of relations.
func TestImportKeepsTheFileOrderOfRelations(t *testing.T) {
	ts := newTestServer(t, Options{})
	file := `{"type":"entity","name":"A","entityType":"t","observations":[]}
{"type":"entity","name":"B","entityType":"t","observations":[]}
{"type":"relation","from":"A","to":"B","relationType":"r1"}
{"type":"relation","from":"A","to":"C","relationType":"r2"}
{"type":"entity","name":"C","entityType":"t","observations":[]}
{"type":"relation","from":"B","to":"C","relationType":"r3"}
{"type":"relation","from":"C","to":"A","relationType":"r4"}`
	if err := ts.Import(context.Background(), strings.NewReader(file), ""); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range ts.graphOf(t).Relations {
		order = append(order, r.RelationType)
	}
	if got := strings.Join(order, " "); got != "r1 r2 r3 r4" {
		t.Fatalf("relations in the order %s, want the file's: r1 r2 r3 r4", got)
	}
}
