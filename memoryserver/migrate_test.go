package memoryserver

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// schema1DB is a database written by memoryserver at schema version 1
// (commit 9e93183): two graphs, the default one with Alice, Acme and Zoë
// and their relations, and user-b's with another Alice.
const schema1DB = "testdata/schema1.db"

// TestUpgradesSchemaOneDatabaseInPlace opens a database of the previous
// schema: the graphs must be unchanged, and search, writes and deletes must
// work on the indexes the migration built.
func TestUpgradesSchemaOneDatabaseInPlace(t *testing.T) {
	srv := openCopy(t, schema1DB)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	ts := &testServer{Server: srv, url: hs.URL + "/mcp"}

	var version int
	if err := srv.store.read.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d (%v), want %d", version, err, len(migrations))
	}
	var wordIndexes int
	if err := srv.store.read.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name LIKE 'text_words%'").Scan(&wordIndexes); err != nil || wordIndexes != 0 {
		t.Errorf("%d text_words tables (%v) after the upgrade, want none: migration 3 drops the word index", wordIndexes, err)
	}
	wantDefault := `{"type":"entity","name":"Alice","entityType":"person","observations":["likes green tea","works at Acme since 2019"]}
{"type":"entity","name":"Acme","entityType":"company","observations":["makes widgets"]}
{"type":"entity","name":"Zoë","entityType":"Person","observations":["ÉCOLE d'été, line one","emoji 🙂"]}
{"type":"relation","from":"Alice","to":"Acme","relationType":"works_at"}
{"type":"relation","from":"Zoë","to":"Alice","relationType":"knows"}`
	if got := ts.export(t, ""); got != wantDefault {
		t.Errorf("default graph after the upgrade:\n%s\nwant:\n%s", got, wantDefault)
	}
	if got, want := ts.export(t, "user-b"), `{"type":"entity","name":"Alice","entityType":"robot","observations":["likes oil"]}`; got != want {
		t.Errorf("user-b's graph after the upgrade:\n%s\nwant:\n%s", got, want)
	}

	search := func(query string) []string {
		t.Helper()
		var g graph
		if err := json.Unmarshal(ts.mustCall(t, "search_nodes", map[string]any{"query": query}).Structured, &g); err != nil {
			t.Fatal(err)
		}
		return names(g)
	}
	for query, want := range map[string][]string{
		"green tea":      {"Alice"},
		"acme since 20":  {"Alice"},
		"acme":           {"Acme", "Alice"},
		"école d'été, l": {"Zoë"},
		"person":         {"Alice", "Zoë"},
		"oil":            {},
	} {
		if got := search(query); !slices.Equal(slices.Sorted(slices.Values(got)), want) { // the ranking is tested elsewhere
			t.Errorf("search %q after the upgrade = %q, want %q", query, got, want)
		}
	}
	var userB graph
	err := srv.store.view(context.Background(), "user-b", func(g *graphTx) (err error) {
		userB, err = g.searchNodes("likes oil", pageArgs{})
		return err
	})
	if got := names(userB); err != nil || !slices.Equal(got, []string{"Alice"}) {
		t.Errorf("user-b's search after the upgrade = %q (%v), want [Alice]", got, err)
	}

	ts.mustCall(t, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Acme", "contents": []string{"hires green engineers"}}}})
	ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{"Alice"}})
	if got := search("green"); !slices.Equal(got, []string{"Acme"}) {
		t.Errorf("search after writes on the upgraded database = %q, want [Acme]", got)
	}
}

// schema2DB is a database written by memoryserver at schema version 2
// (commit cb62062, by Import): the default graph with Alice Smith and Acme
// and a relation between them, and bob's with Bob.
const schema2DB = "testdata/schema2.db"

// TestUpgradesSchemaTwoDatabaseInPlace opens a database of the release
// before migrations 3 (word index dropped) and 4 (FTS5 hashsize): search,
// an import into it and deletes must work on its postings.
func TestUpgradesSchemaTwoDatabaseInPlace(t *testing.T) {
	ctx := context.Background()
	srv := openCopy(t, schema2DB)
	t.Cleanup(func() { srv.Close() })
	search := func(owner, query string) []string {
		t.Helper()
		var g graph
		err := srv.store.view(ctx, owner, func(tx *graphTx) (err error) {
			g, err = tx.searchNodes(query, pageArgs{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(slices.Values(names(g)))
	}
	check := func(when, owner, query string, want ...string) {
		t.Helper()
		if got := search(owner, query); !slices.Equal(got, want) {
			t.Errorf("%s: search %q in %q's graph = %q, want %q", when, query, owner, got, want)
		}
	}
	check("after the upgrade", "", "green tea", "Alice Smith")
	check("after the upgrade", "", "acme", "Acme", "Alice Smith")
	check("after the upgrade", "bob", "tea", "Bob")
	file := `{"type":"entity","name":"Carol","entityType":"person","observations":["green tea too"]}
{"type":"entity","name":"Acme","entityType":"ignored","observations":["green anvils"]}
{"type":"relation","from":"Carol","to":"Acme","relationType":"works_at"}`
	if err := srv.Import(ctx, strings.NewReader(file), ""); err != nil {
		t.Fatal(err)
	}
	check("after an import", "", "green", "Acme", "Alice Smith", "Carol")
	if err := srv.store.update(ctx, "", func(g *graphTx) error { return g.deleteEntities([]string{"Alice Smith"}) }); err != nil {
		t.Fatal(err)
	}
	check("after a delete", "", "tea", "Carol")
	check("after a delete", "", "anvil", "Acme")
	check("after a delete", "bob", "tea", "Bob")
}

// openCopy opens a copy of the database file at path (the copy migrates,
// the file in testdata stays as the old release wrote it).
func openCopy(t *testing.T, path string) *Server {
	t.Helper()
	srv, err := Open(context.Background(), copyFile(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// copyFile copies the file at path (only it: a database's -wal file stays
// behind) into a temporary directory and returns the copy's path.
func copyFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(copied, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return copied
}
