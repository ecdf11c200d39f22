package memoryserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// danglingFile has relations to entities that are neither in it nor in the
// graph, as files the reference server wrote may have; "Old" is in the
// graph before the import.
const danglingFile = `{"type":"entity","name":"A","entityType":"t","observations":["x"]}
{"type":"entity","name":"B","entityType":"t","observations":[]}
{"type":"relation","from":"A","to":"B","relationType":"knows"}
{"type":"relation","from":"A","to":"Ghost","relationType":"haunts"}
{"type":"relation","from":"Old","to":"A","relationType":"precedes"}
{"type":"relation","from":"Spook","to":"B","relationType":"scares"}`

func TestImportRefusesDanglingRelationsAndSaysWhatToDo(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{{"name": "Old", "entityType": "t", "observations": []string{}}}})
	before := ts.export(t, "")
	err := ts.Import(context.Background(), strings.NewReader(danglingFile), "")
	if err == nil {
		t.Fatal("import with dangling relations succeeded")
	}
	for _, want := range []string{"import: 2 relation(s)", "A -[haunts]-> Ghost", "nothing was imported", "--skip-dangling", "SkipDangling"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := ts.export(t, ""); got != before {
		t.Errorf("a refused import changed the graph:\n%s", got)
	}
}

func TestImportSkipDanglingImportsTheRest(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{{"name": "Old", "entityType": "t", "observations": []string{}}}})
	var skipped []string
	err := ts.Import(context.Background(), strings.NewReader(danglingFile), "", ImportOptions{
		SkipDangling: func(from, relationType, to string) { skipped = append(skipped, from+" "+relationType+" "+to) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A haunts Ghost", "Spook scares B"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %q, want %q", skipped, want)
	}
	want := `{"type":"entity","name":"Old","entityType":"t","observations":[]}
{"type":"entity","name":"A","entityType":"t","observations":["x"]}
{"type":"entity","name":"B","entityType":"t","observations":[]}
{"type":"relation","from":"A","to":"B","relationType":"knows"}
{"type":"relation","from":"Old","to":"A","relationType":"precedes"}`
	if got := ts.export(t, ""); got != want {
		t.Errorf("graph after import:\n%s\nwant:\n%s", got, want)
	}
}

func TestImportSkipDanglingStillRefusesOtherErrors(t *testing.T) {
	ts := newTestServer(t, Options{})
	called := false
	file := danglingFile + "\n" + `{"type":"relation","from":"A","to":"B","relationType":""}`
	err := ts.Import(context.Background(), strings.NewReader(file), "", ImportOptions{
		SkipDangling: func(string, string, string) { called = true },
	})
	if err == nil || called {
		t.Errorf("err = %v, callback called = %v; want an error and no callback", err, called)
	}
	if got := ts.export(t, ""); got != "" {
		t.Errorf("a failed import stored %s", got)
	}
	if err := ts.Import(context.Background(), strings.NewReader(""), "", ImportOptions{}, ImportOptions{}); err == nil {
		t.Error("two ImportOptions accepted")
	}
}

// TestImportStopsDecodingWhenTheWriteFails: the file is decoded on another
// goroutine while it is written; when the write cannot go on, Import must
// stop that goroutine instead of reading the rest of a large file, and
// store nothing.
func TestImportStopsDecodingWhenTheWriteFails(t *testing.T) {
	ts := newTestServer(t, Options{})
	var file strings.Builder
	for i := range 50 * importChunk {
		fmt.Fprintf(&file, `{"type":"entity","name":"e%d","entityType":"t","observations":[]}`+"\n", i)
	}
	r := &countingReader{r: strings.NewReader(file.String())}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.Import(ctx, r, ""); err == nil {
		t.Error("import with a cancelled context succeeded")
	}
	if r.n > file.Len()/2 {
		t.Errorf("the failed import read %d of %d bytes", r.n, file.Len())
	}
	if got := ts.export(t, ""); got != "" {
		t.Errorf("a failed import stored %.100s", got)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// An import indexes the texts it creates in bulk at its end (indexImported),
// by id above the largest id before it: it must index exactly those, in a
// graph that had texts already, so that search finds the same as after the
// same writes through the tools.
func TestImportIndexesLikeTheTools(t *testing.T) {
	ctx := context.Background()
	imported, built := newTestServer(t, Options{}), newTestServer(t, Options{})
	for _, ts := range []*testServer{imported, built} {
		ts.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{ent("Old", "relic", "old note on tea")}})
		// Another owner's texts, created before: not the import's.
		if err := ts.Import(ctx, strings.NewReader(`{"type":"entity","name":"Bob tea","entityType":"person","observations":["green tea fan"]}`), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	file := `{"type":"entity","name":"Alpha Beta","entityType":"person","observations":["likes green tea","xyzzy 42"]}
{"type":"entity","name":"Old","entityType":"ignored","observations":["old note on tea","fresh remark"]}
{"type":"entity","name":"Gamma","entityType":"place","observations":[]}
{"type":"relation","from":"Alpha Beta","to":"Old","relationType":"knows"}`
	if err := imported.Import(ctx, strings.NewReader(file), ""); err != nil {
		t.Fatal(err)
	}
	built.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{
		ent("Alpha Beta", "person", "likes green tea", "xyzzy 42"), ent("Gamma", "place")}})
	built.mustCall(t, "add_observations", map[string]any{"observations": []map[string]any{
		{"entityName": "Old", "contents": []string{"fresh remark"}}}})
	built.mustCall(t, "create_relations", map[string]any{"relations": []map[string]any{rel("Alpha Beta", "Old", "knows")}})
	for _, q := range []string{"alpha", "Alpha Beta", "person", "plac", "green tea", "tea", "yzz", "42", "fresh rem", "old note", "remark", "relic", "gamma", "fan"} {
		search := func(ts *testServer) []string {
			var g graph
			if err := json.Unmarshal(ts.mustCall(t, "search_nodes", map[string]any{"query": q}).Structured, &g); err != nil {
				t.Fatal(err)
			}
			return names(g)
		}
		got, want := search(imported), search(built)
		if !slices.Equal(got, want) {
			t.Errorf("search %q after import = %q, after the same tool calls = %q", q, got, want)
		}
		if q != "fan" && len(want) == 0 {
			t.Errorf("search %q finds nothing: the test does not test it", q)
		}
	}
}

// TestImportTurnsForeignKeyChecksBackOn: Import writes without SQLite's
// foreign key checks (updateUnchecked). Afterwards, whether it succeeded or
// failed, the write connection must have them again: deleting an entity
// must cascade to its observations and relations, which only the checks do.
func TestImportTurnsForeignKeyChecksBackOn(t *testing.T) {
	ts := newTestServer(t, Options{})
	ctx := context.Background()
	if err := ts.Import(ctx, strings.NewReader(danglingFile), ""); err == nil {
		t.Fatal("import with dangling relations succeeded")
	}
	file := `{"type":"entity","name":"A","entityType":"t","observations":["x","y"]}
{"type":"entity","name":"B","entityType":"t","observations":["z"]}
{"type":"relation","from":"A","to":"B","relationType":"knows"}`
	if err := ts.Import(ctx, strings.NewReader(file), ""); err != nil {
		t.Fatal(err)
	}
	db := ts.store.write.db
	rows, err := db.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("the import left rows that refer to missing rows")
	}
	rows.Close()
	ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{"A"}})
	var orphans int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM observations WHERE entity_id NOT IN (SELECT id FROM entities))
		+ (SELECT count(*) FROM relations WHERE from_id NOT IN (SELECT id FROM entities) OR to_id NOT IN (SELECT id FROM entities))`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("deleting an imported entity left %d observations or relations behind: foreign key checks are still off", orphans)
	}
}

// TestUncheckedWriteCancelledMidQueryTurnsChecksBackOn cancels an import's
// transaction while a statement runs. database/sql then rolls it back on
// another goroutine, which may not have run when the checks are turned back
// on: inside the transaction PRAGMA foreign_keys is a no-op, and the pool's
// write connection went back with the checks off, so that deletes stopped
// cascading. Each round is one chance for that race; it was lost every time.
func TestUncheckedWriteCancelledMidQueryTurnsChecksBackOn(t *testing.T) {
	ts := newTestServer(t, Options{})
	for round := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		err := ts.store.updateUnchecked(ctx, "", func(g *graphTx) error {
			go cancel()
			// Runs until the cancellation interrupts it.
			_, err := g.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n")
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: err = %v, want context.Canceled", round, err)
		}
		var on int
		if err := ts.store.write.db.QueryRow("PRAGMA foreign_keys").Scan(&on); err != nil {
			t.Fatal(err)
		}
		if on != 1 {
			t.Fatalf("round %d: the write connection has foreign key checks off after a cancelled import", round)
		}
	}
	ts.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{ent("A", "t", "x")}})
	ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{"A"}})
	var orphans int
	if err := ts.store.write.db.QueryRow("SELECT count(*) FROM observations").Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("deleting an entity left %d observations (%v): foreign key checks are off", orphans, err)
	}
}

// TestImportEndsWithItsContextWhileTheReaderStalls: an import reading a
// pipe that stopped sending (a stuck upload, an idle stdin) ends when its
// context does, not when the pipe does, and leaves nothing behind.
func TestImportEndsWithItsContextWhileTheReaderStalls(t *testing.T) {
	ts := newTestServer(t, Options{})
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Import(ctx, r, "") }()
	// A first chunk, which the import writes, then nothing more.
	for i := range importChunk + 1 {
		if _, err := fmt.Fprintf(w, `{"type":"entity","name":"e%d","entityType":"t","observations":[]}`+"\n", i); err != nil {
			t.Fatal(err)
		}
	}
	// Cancel once the import holds the write connection, and a little
	// later, so that the cancellation meets the import waiting for the
	// next chunk rather than starting its transaction (the fixed import
	// passes either way).
	for ts.store.write.db.Stats().InUse == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Import = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Import still waits for the stalled reader after its context ended")
	}
	if g := ts.graphOf(t); len(g.Entities) != 0 {
		t.Fatalf("a cancelled import left %d entities", len(g.Entities))
	}
}
