package authserver

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// flightGroup runs at most one call per key at a time and hands its result
// to every request that asks for the key while it runs. A client_id URL is
// named by whoever opens /authorize or posts to /token, so a burst of
// requests naming one uncached or expired document would otherwise fetch
// it once each, spending the host's fetch budget (and its bandwidth) on
// copies of one answer.
type flightGroup[T any] struct {
	// limit bounds each call as a whole, its storage included: the call
	// runs detached from the request, so nothing else would end one
	// blocked on a storage that does not answer (a PostgreSQL pool with no
	// free connection), and every distinct key a stranger names and
	// abandons would leave a goroutine behind. Required: zero ends every
	// call at once.
	limit time.Duration

	mu      sync.Mutex
	flights map[string]*flight[T]
}

type flight[T any] struct {
	done   chan struct{}
	result T
	err    error
	// callers is how many requests have asked for this call's result
	// (tests observe it to release concurrent requests together).
	callers int
}

// do returns the result of fn for key, starting fn unless a call for key
// is under way, and waits for it as long as ctx allows. fn runs on a
// goroutine of its own with ctx's values but not its cancellation: the
// request that happened to start it may go away (a client that disconnects
// at once, on purpose) without failing the others that wait for it, or
// leaving a failure cached for the next minute. fn's context ends after
// g.limit instead.
func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	f := g.flights[key]
	if f == nil {
		f = &flight[T]{done: make(chan struct{})}
		if g.flights == nil {
			g.flights = map[string]*flight[T]{}
		}
		g.flights[key] = f
		detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.limit)
		go func() {
			defer cancel()
			g.run(detached, key, f, fn)
		}()
	}
	f.callers++
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.result, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (g *flightGroup[T]) run(ctx context.Context, key string, f *flight[T], fn func(context.Context) (T, error)) {
	defer func() {
		// The call runs outside any request, where net/http's recovery
		// no longer applies: a panic would take the whole server down.
		if r := recover(); r != nil {
			f.err = fmt.Errorf("authserver: panic while loading %s: %v", key, r)
		}
		g.mu.Lock()
		delete(g.flights, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.result, f.err = fn(ctx)
}
