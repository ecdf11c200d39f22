package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	r := opResult{latencies: make([]time.Duration, 200)}
	for i := range r.latencies {
		r.latencies[i] = time.Duration(i + 1)
	}
	for _, tt := range []struct {
		p    int
		want time.Duration
	}{{50, 100}, {99, 198}, {100, 200}, {1, 2}} {
		if got := r.percentile(tt.p); got != tt.want {
			t.Errorf("p%d = %d, want %d", tt.p, got, tt.want)
		}
	}
	one := opResult{latencies: []time.Duration{7}}
	if got := one.percentile(50); got != 7 {
		t.Errorf("p50 of one = %d, want 7", got)
	}
}

func TestWorkloadIsDeterministic(t *testing.T) {
	a, b := newWorkload(100, 1), newWorkload(100, 1)
	if len(a.entities) != 100 || len(a.relations) != 100 {
		t.Fatalf("%d entities, %d relations, want 100 each", len(a.entities), len(a.relations))
	}
	for i := range a.entities {
		if a.entities[i].Observations[0] != b.entities[i].Observations[0] || a.relations[i] != b.relations[i] {
			t.Fatalf("entity or relation %d differs between two workloads of one seed", i)
		}
		if r := a.relations[i]; r.From == r.To {
			t.Fatalf("relation %d points to itself", i)
		}
	}
}

// recorder is a target that records the arguments of each tool call.
type recorder struct{ args []map[string]any }

func (r *recorder) rpc(_ context.Context, _ string, params any) (json.RawMessage, error) {
	r.args = append(r.args, params.(map[string]any)["arguments"].(map[string]any))
	return json.RawMessage(`{}`), nil
}
func (r *recorder) pid() int     { return 0 }
func (r *recorder) close() error { return nil }

func TestPhraseQueriesAreThreeWordsOfAnObservationWithItsCommonWord(t *testing.T) {
	w := newWorkload(200, 1)
	var phrase operation
	for _, op := range w.operations(true) {
		if strings.HasPrefix(op.name, "search_nodes (three-word phrase") {
			phrase = op
		}
	}
	rec := &recorder{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		if err := phrase.call(context.Background(), rec, rng, i); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range rec.args {
		q := a["query"].(string)
		words := strings.Fields(q)
		if len(words) != 3 || !slices.ContainsFunc(words, func(s string) bool { return slices.Contains(connectives, s) }) {
			t.Errorf("query %q: want three words, one of them common", q)
		}
		if !slices.ContainsFunc(w.entities, func(e entity) bool {
			return slices.ContainsFunc(e.Observations, func(o string) bool { return strings.Contains(o, q) })
		}) {
			t.Errorf("query %q is in no observation", q)
		}
	}
}
