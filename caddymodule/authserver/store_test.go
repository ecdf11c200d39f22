package authserver

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// refsOf is how many holders and waiters the process-local lock name has.
func (s *store) refsOf(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.locks[name]; m != nil {
		return m.refs
	}
	return 0
}

// A request waiting for a lock held long (the checks of a user's grants
// wait for the one at their provider) goes when its context ends, without
// running, and leaves the lock to the others; on PostgreSQL, atomically
// waits for the process-local lock before it opens a transaction.
func TestALockWaiterGoesWhenItsContextEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(s *store, ctx context.Context, fn func()) error
	}{
		{"locked", func(s *store, ctx context.Context, fn func()) error {
			return s.locked(ctx, "held", func() error { fn(); return nil })
		}},
		{"atomically", func(s *store, ctx context.Context, fn func()) error {
			return s.atomically(ctx, "held", func(context.Context) error { fn(); return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runOnClusters(t, func(t *testing.T, storages clusterStorage) {
				storage, _ := storages(t)
				s := newStore(storage, "")
				unlock, err := s.localLock(context.Background(), "held")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var ran atomic.Bool
				done := make(chan error, 1)
				go func() { done <- tc.wait(s, ctx, func() { ran.Store(true) }) }()
				waitFor(t, "the waiter to queue", func() bool { return s.refsOf("held") == 2 })
				cancel()
				var got error
				waitFor(t, "the waiter to go", func() bool {
					select {
					case got = <-done:
						return true
					default:
						return false
					}
				})
				if !errors.Is(got, context.Canceled) || ran.Load() {
					t.Errorf("the waiter returned %v, ran %v; want context.Canceled without running", got, ran.Load())
				}
				unlock()
				if n := s.refsOf("held"); n != 0 {
					t.Errorf("the lock counts %d holders and waiters after all went", n)
				}
				if err := tc.wait(s, context.Background(), func() {}); err != nil {
					t.Errorf("the next request: %v", err)
				}
			})
		})
	}
}
