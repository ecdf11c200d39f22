package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// buildBatch is how many entities or relations one build call carries.
const buildBatch = 1000

// entity and relation are the reference's tool argument shapes.
type entity struct {
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

type relation struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
}

// workload is a generated graph of n entities with 3 observations each and
// n relations, the same for every server given the same seed.
type workload struct {
	seed      uint64
	entities  []entity
	relations []relation
}

// connectives are the common words of observations, between the second and
// third made-up word: phrases that agents search for mix rare words with
// words that nearly every entity has.
var connectives = []string{"of", "and", "the", "with", "about", "for", "in", "on", "at", "to", "from", "by"}

// newWorkload generates the graph. Observations are four words from a
// vocabulary of n/2 made-up words (at least 64) with a common word in the
// middle ("w1 w2 about w3 w4"), so that one made-up word, the one-word
// search query, matches about 25 entities at every size (the median; short
// words are also inside longer ones, so at 100k one query in ten matches
// 300 or more).
func newWorkload(n int, seed int64) *workload {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	vocab := make([]string, max(64, n/2))
	for k := range vocab {
		vocab[k] = word(rng)
	}
	types := []string{"person", "project", "organization", "place", "event"}
	w := &workload{seed: uint64(seed)}
	for i := range n {
		e := entity{Name: fmt.Sprintf("e%06d", i), EntityType: types[i%len(types)]}
		for range 3 {
			words := make([]string, 5)
			for k := range words {
				words[k] = vocab[rng.IntN(len(vocab))]
			}
			words[2] = connectives[rng.IntN(len(connectives))]
			e.Observations = append(e.Observations, strings.Join(words, " "))
		}
		w.entities = append(w.entities, e)
	}
	verbs := []string{"knows", "works_on", "part_of", "located_in", "attended"}
	for i := range n {
		// Every entity starts exactly one relation, never to itself.
		j := (i + 1 + rng.IntN(n-1)) % n
		w.relations = append(w.relations, relation{w.entities[i].Name, w.entities[j].Name, verbs[rng.IntN(len(verbs))]})
	}
	return w
}

// word makes up a word of two to four consonant-vowel syllables. Its letter
// triples are about as varied as those of natural language, which matters
// to a trigram index: a handful of syllables would make every trigram
// common and every substring search slow.
func word(rng *rand.Rand) string {
	const consonants, vowels = "bcdfghjklmnpqrstvwxz", "aeiou"
	var b strings.Builder
	for range 2 + rng.IntN(3) {
		b.WriteByte(consonants[rng.IntN(len(consonants))])
		b.WriteByte(vowels[rng.IntN(len(vowels))])
	}
	return b.String()
}

// build creates the graph through the target's tools, in batches.
func (w *workload) build(ctx context.Context, t target) error {
	for i := 0; i < len(w.entities); i += buildBatch {
		batch := w.entities[i:min(i+buildBatch, len(w.entities))]
		if _, err := callTool(ctx, t, "create_entities", map[string]any{"entities": batch}); err != nil {
			return err
		}
	}
	for i := 0; i < len(w.relations); i += buildBatch {
		batch := w.relations[i:min(i+buildBatch, len(w.relations))]
		if _, err := callTool(ctx, t, "create_relations", map[string]any{"relations": batch}); err != nil {
			return err
		}
	}
	return nil
}

// operation is one timed kind of call. call gets the iteration number, unique
// within a run, and a random source that yields the same sequence for every
// server.
type operation struct {
	name string
	// maxCalls caps the timed calls (0: --iterations): every call of a
	// batch write grows the graph by up to 1000 entities.
	maxCalls int
	call     func(ctx context.Context, t target, rng *rand.Rand, i int) error
}

// batchCalls is the cap on timed calls of the batch writes.
const batchCalls = 20

// operations returns the timed calls. The reference has no paging, so its
// read_graph returns the whole graph.
func (w *workload) operations(paged bool) []operation {
	randomName := func(rng *rand.Rand) string { return w.entities[rng.IntN(len(w.entities))].Name }
	randomObservation := func(rng *rand.Rand) []string {
		return strings.Fields(w.entities[rng.IntN(len(w.entities))].Observations[rng.IntN(3)])
	}
	newEntity := func(name string) entity {
		return entity{name, "note", []string{"first timed observation", "second timed observation", "third timed observation"}}
	}
	tool := func(ctx context.Context, t target, name string, args any) error {
		_, err := callTool(ctx, t, name, args)
		return err
	}
	createEntities := func(size int) operation {
		return operation{fmt.Sprintf("create_entities (batch of %d)", size), batchCalls, func(ctx context.Context, t target, _ *rand.Rand, i int) error {
			batch := make([]entity, size)
			for k := range batch {
				batch[k] = newEntity(fmt.Sprintf("batch%d-%d-%d", size, i, k))
			}
			return tool(ctx, t, "create_entities", map[string]any{"entities": batch})
		}}
	}
	addObservations := func(size int) operation {
		return operation{fmt.Sprintf("add_observations (batch of %d)", size), batchCalls, func(ctx context.Context, t target, rng *rand.Rand, i int) error {
			batch := make([]map[string]any, size)
			for k := range batch {
				batch[k] = map[string]any{"entityName": randomName(rng), "contents": []string{fmt.Sprintf("batch observation %d %d %d", size, i, k)}}
			}
			return tool(ctx, t, "add_observations", map[string]any{"observations": batch})
		}}
	}
	createRelations := func(size int) operation {
		return operation{fmt.Sprintf("create_relations (batch of %d)", size), batchCalls, func(ctx context.Context, t target, rng *rand.Rand, i int) error {
			batch := make([]relation, size)
			for k := range batch {
				batch[k] = relation{randomName(rng), randomName(rng), fmt.Sprintf("batch%d_%d_%d", size, i, k)}
			}
			return tool(ctx, t, "create_relations", map[string]any{"relations": batch})
		}}
	}
	var cursor string
	return []operation{
		{"search_nodes (one word; median ~25 hits)", 0, func(ctx context.Context, t target, rng *rand.Rand, _ int) error {
			words := randomObservation(rng)
			query := words[[]int{0, 1, 3, 4}[rng.IntN(4)]] // a made-up word, not the connective
			return tool(ctx, t, "search_nodes", map[string]any{"query": query})
		}},
		{"search_nodes (three-word phrase with a common word)", 0, func(ctx context.Context, t target, rng *rand.Rand, _ int) error {
			words := randomObservation(rng)
			start := rng.IntN(3) // the phrase always holds the connective
			return tool(ctx, t, "search_nodes", map[string]any{"query": strings.Join(words[start:start+3], " ")})
		}},
		{"open_nodes (5 names)", 0, func(ctx context.Context, t target, rng *rand.Rand, _ int) error {
			names := []string{randomName(rng), randomName(rng), randomName(rng), randomName(rng), randomName(rng)}
			return tool(ctx, t, "open_nodes", map[string]any{"names": names})
		}},
		{"create_entities (1)", 0, func(ctx context.Context, t target, _ *rand.Rand, i int) error {
			return tool(ctx, t, "create_entities", map[string]any{"entities": []entity{newEntity(fmt.Sprintf("single-%d", i))}})
		}},
		{"add_observations (1)", 0, func(ctx context.Context, t target, rng *rand.Rand, i int) error {
			obs := []map[string]any{{"entityName": randomName(rng), "contents": []string{fmt.Sprintf("timed observation %d", i)}}}
			return tool(ctx, t, "add_observations", map[string]any{"observations": obs})
		}},
		createEntities(100),
		createEntities(1000),
		addObservations(100),
		addObservations(1000),
		createRelations(100),
		createRelations(1000),
		{"read_graph (page of 100; reference: whole graph)", 0, func(ctx context.Context, t target, _ *rand.Rand, _ int) error {
			if !paged {
				return tool(ctx, t, "read_graph", map[string]any{})
			}
			args := map[string]any{"limit": 100}
			if cursor != "" {
				args["cursor"] = cursor
			}
			result, err := callTool(ctx, t, "read_graph", args)
			if err != nil {
				return err
			}
			// Walk the pages, starting over after the last one.
			var page struct{ StructuredContent struct{ NextCursor string } }
			err = json.Unmarshal(result, &page)
			cursor = page.StructuredContent.NextCursor
			return err
		}},
	}
}
