package main

import (
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
