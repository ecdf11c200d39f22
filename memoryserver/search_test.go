package memoryserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSearchFindsExactlyTheSubstringMatches compares search_nodes with a
// scan of every text, the reference server's match, on a graph made to
// catch an index that takes a wrong shortcut: words inside other words,
// repeated and short words, punctuation and runs of spaces, non-ASCII case,
// and texts that changed after they were indexed (added, deleted and
// replaced observations, renamed and deleted entities).
func TestSearchFindsExactlyTheSubstringMatches(t *testing.T) {
	ts := newTestServer(t, Options{})
	rng := rand.New(rand.NewPCG(13, 13))
	syllables := []string{"ba", "ab", "bab", "ca", "ÉC", "éc", "ol", "Ö", "ö", "x1", "1", "na", "ban"}
	separators := []string{" ", " ", " ", "  ", "-", ", ", "\n", "/", "'"}
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		return b.String()
	}
	text := func() string {
		var b strings.Builder
		for k := range 1 + rng.IntN(5) {
			if k > 0 {
				b.WriteString(separators[rng.IntN(len(separators))])
			}
			b.WriteString(word())
		}
		return b.String()
	}
	var entities []any
	for i := range 60 {
		var obs []string
		for range rng.IntN(4) {
			obs = append(obs, text())
		}
		entities = append(entities, ent(fmt.Sprintf("%s %d", word(), i), word(), obs...))
	}
	ts.mustCall(t, "create_entities", map[string]any{"entities": entities})
	name := func(i int) string { return entities[i].(map[string]any)["name"].(string) }
	var adds []any
	for i := range 20 {
		adds = append(adds, map[string]any{"entityName": name(i), "contents": []string{text(), text()}})
	}
	ts.mustCall(t, "add_observations", map[string]any{"observations": adds})
	for i := 20; i < 25; i++ {
		obs := entities[i].(map[string]any)["observations"].([]string)
		if len(obs) > 0 {
			ts.mustCall(t, "delete_observations", map[string]any{"deletions": []any{
				map[string]any{"entityName": name(i), "observations": obs[:1]}}})
		}
	}
	for i := 25; i < 30; i++ {
		ts.mustCall(t, "rename_entity", map[string]any{"oldName": name(i), "newName": text() + fmt.Sprint(i)})
	}
	for i := 30; i < 35; i++ {
		if obs := entities[i].(map[string]any)["observations"].([]string); len(obs) > 0 {
			ts.mustCall(t, "replace_observation", map[string]any{"entityName": name(i), "oldObservation": obs[0], "newObservation": text()})
		}
	}
	ts.mustCall(t, "delete_entities", map[string]any{"entityNames": []string{name(35), name(36), name(37)}})

	g := ts.graphOf(t)
	var texts []string
	for _, e := range g.Entities {
		texts = append(texts, e.Name, e.EntityType)
		texts = append(texts, e.Observations...)
	}
	var queries []string
	for range 400 {
		// A piece of a text, cut anywhere: inside words, across separators.
		runes := []rune(texts[rng.IntN(len(texts))])
		from := rng.IntN(len(runes))
		q := string(runes[from : from+1+rng.IntN(len(runes)-from)])
		if rng.IntN(4) == 0 {
			q = strings.ToUpper(q)
		}
		queries = append(queries, q)
	}
	for range 100 {
		queries = append(queries, text()) // mostly no match, some across texts
	}
	for _, q := range queries {
		var want []string
		for _, e := range g.Entities {
			if slices.ContainsFunc(append([]string{e.Name, e.EntityType}, e.Observations...), func(s string) bool {
				return strings.Contains(strings.ToLower(s), strings.ToLower(q))
			}) {
				want = append(want, e.Name)
			}
		}
		var found graph
		if err := json.Unmarshal(ts.mustCall(t, "search_nodes", map[string]any{"query": q}).Structured, &found); err != nil {
			t.Fatal(err)
		}
		got := names(found)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
}

// TestSearchRanksByBestText puts the entities whose texts hold the query's
// words as whole words first, a name above a type above an observation, and
// the rest of the matches after them in creation order.
func TestSearchRanksByBestText(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{
		ent("Inside", "doc", "the redgreen tea"),     // "green tea" only inside a word
		ent("Observation", "doc", "likes green tea"), // in an observation
		ent("Green Tea", "drink"),                    // in the name
		ent("Other", "green tea blend"),              // in the type
	}})
	var found graph
	json.Unmarshal(ts.mustCall(t, "search_nodes", map[string]any{"query": "green tea"}).Structured, &found)
	if want := []string{"Green Tea", "Other", "Observation", "Inside"}; !slices.Equal(names(found), want) {
		t.Errorf("search order = %q, want %q", names(found), want)
	}
}

// A write whose terms are in the terms table but not in this process's term
// cache (another process added them) must index them under their existing
// ids, which the insert of new terms does not return.
func TestIndexesTermsAnotherProcessAdded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	open := func() *testServer {
		srv, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			hs.Close()
			srv.Close()
		})
		return &testServer{Server: srv, url: hs.URL + "/mcp"}
	}
	first, second := open(), open()
	first.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{ent("A", "person", "quokka wombat")}})
	second.mustCall(t, "create_entities", map[string]any{"entities": []map[string]any{ent("B", "person", "wombat quokka numbat")}})
	for _, q := range []string{"quokka", "wombat", "okka", "womb"} {
		var g graph
		if err := json.Unmarshal(second.mustCall(t, "search_nodes", map[string]any{"query": q}).Structured, &g); err != nil {
			t.Fatal(err)
		}
		if got := names(g); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("search %q = %q, want both entities", q, got)
		}
	}
}
