package main

import (
	"context"
	"hash/fnv"
	"log"
	"math/rand/v2"
	"slices"
	"time"
)

// warmups are untimed calls before each operation's timed ones.
const warmups = 3

// runResult is what one server did on one workload.
type runResult struct {
	build   time.Duration
	ops     []opResult
	peakRSS int64
}

// opResult holds one operation's latencies, sorted.
type opResult struct {
	name      string
	latencies []time.Duration
}

// percentile returns the p-th percentile (nearest rank) of the latencies.
func (r opResult) percentile(p int) time.Duration {
	rank := (p*len(r.latencies) + 99) / 100
	return r.latencies[max(rank, 1)-1]
}

// server says how to run one kind of server.
type server struct {
	name       string
	iterations int  // timed calls per operation
	paged      bool // read_graph takes limit and cursor
	start      func() (target, error)
}

// run starts a server, builds the workload's graph in it, times each
// operation and reads the server's peak RSS.
func run(ctx context.Context, w *workload, s server) (runResult, error) {
	t, err := s.start()
	if err != nil {
		return runResult{}, err
	}
	defer t.close()

	began := time.Now()
	if err := w.build(ctx, t); err != nil {
		return runResult{}, err
	}
	res := runResult{build: time.Since(began)}
	log.Printf("%s, %d entities: built in %v", s.name, len(w.entities), res.build.Round(time.Millisecond))

	for _, op := range w.operations(s.paged) {
		// The same calls, in the same order, for every server.
		h := fnv.New64a()
		h.Write([]byte(op.name))
		rng := rand.New(rand.NewPCG(w.seed, h.Sum64()))
		for k := range warmups {
			if err := op.call(ctx, t, rng, s.iterations+k); err != nil {
				return runResult{}, err
			}
		}
		calls := s.iterations
		if op.maxCalls > 0 {
			calls = min(calls, op.maxCalls)
		}
		latencies := make([]time.Duration, calls)
		for i := range latencies {
			began := time.Now()
			if err := op.call(ctx, t, rng, i); err != nil {
				return runResult{}, err
			}
			latencies[i] = time.Since(began)
		}
		slices.Sort(latencies)
		r := opResult{op.name, latencies}
		res.ops = append(res.ops, r)
		log.Printf("%s, %d entities: %s: p50 %v", s.name, len(w.entities), op.name, r.percentile(50))
	}
	res.peakRSS, err = peakRSS(t.pid())
	return res, err
}
