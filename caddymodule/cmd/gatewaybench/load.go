package main

import (
	"context"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// requestTimeout bounds one request, so a stuck server cannot hold a worker
// past the end of its phase for long.
const requestTimeout = 10 * time.Second

// result is what one or more measured phases against a target gave.
type result struct {
	// ok counts replies with status 200; latencies holds each one's time.
	ok        int
	latencies []time.Duration
	// failed counts requests that got no reply or another status; firstErr
	// is the first such error.
	failed   int
	firstErr error
	// elapsed is the measured wall time.
	elapsed time.Duration
	// cpu is the CPU time the whole process used meanwhile (load generator,
	// Caddy and memoryserver alike); cpuKnown is false where it cannot be read.
	cpu      time.Duration
	cpuKnown bool
}

// load runs workers that each send body to t, one request at a time, until
// d has passed, and returns what they measured.
func load(ctx context.Context, client *http.Client, t target, body []byte, workers int, d time.Duration) result {
	parts := make([]result, workers)
	cpuStart, cpuKnown := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range parts {
		part := &parts[i]
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				t0 := time.Now()
				err := t.send(rctx, client, body)
				took := time.Since(t0)
				cancel()
				if err != nil {
					part.failed++
					if part.firstErr == nil {
						part.firstErr = err
					}
					continue
				}
				part.ok++
				part.latencies = append(part.latencies, took)
			}
		})
	}
	wg.Wait()
	total := result{elapsed: time.Since(start)}
	if cpuEnd, ok := processCPU(); ok && cpuKnown {
		total.cpu, total.cpuKnown = cpuEnd-cpuStart, true
	}
	for _, p := range parts {
		total.ok += p.ok
		total.failed += p.failed
		total.latencies = append(total.latencies, p.latencies...)
		if total.firstErr == nil {
			total.firstErr = p.firstErr
		}
	}
	return total
}

// add pools another phase's measurements into r.
func (r *result) add(o result) {
	r.cpuKnown = o.cpuKnown // the same for every phase on one platform
	r.cpu += o.cpu
	r.ok += o.ok
	r.failed += o.failed
	r.latencies = append(r.latencies, o.latencies...)
	r.elapsed += o.elapsed
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
}

// throughput is successful requests per second.
func (r result) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// cpuPerRequest is the process CPU time per successful request, or false
// when it is unknown.
func (r result) cpuPerRequest() (time.Duration, bool) {
	if !r.cpuKnown || r.ok == 0 {
		return 0, false
	}
	return r.cpu / time.Duration(r.ok), true
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of the
// latencies, or 0 when there are none. It sorts the latencies.
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	rank := int(math.Ceil(p / 100 * float64(len(r.latencies))))
	return r.latencies[max(rank, 1)-1]
}
