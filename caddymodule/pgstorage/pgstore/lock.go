package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// A lock is a row of mcpgate_locks with a lease: the holder renews it
// while it works, so a holder that crashed (or lost the database) gives
// the lock up when the lease runs out, and nobody waits for it forever.
// Times are the database's, so instances with skewed clocks agree.

// heldLock is a lock this Storage holds, with the renewal to stop.
type heldLock struct {
	holder string
	stop   context.CancelFunc
	done   chan struct{}
}

// lockPoll is how often Lock retries a lock held elsewhere.
const lockPoll = 100 * time.Millisecond

// Lock acquires the named lock, waiting while another live holder has it.
func (s *Storage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// TryLock acquires the named lock when it is free or its lease ran out.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	if err := s.Migrate(ctx); err != nil {
		return false, err
	}
	b := make([]byte, 16)
	rand.Read(b)
	holder := hex.EncodeToString(b)
	// Always on the pool, never in a caller's transaction: a lease
	// written there would be invisible to everyone else until commit.
	tag, err := s.pool.Exec(ctx, `INSERT INTO mcpgate_locks (name, holder, expires)
		VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE mcpgate_locks.expires < now()`, name, holder, s.lease.Seconds())
	if err != nil {
		return false, s.wrap("taking lock "+name, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	renewCtx, stop := context.WithCancel(context.Background())
	l := &heldLock{holder: holder, stop: stop, done: make(chan struct{})}
	s.locksMu.Lock()
	s.locks[name] = l
	s.locksMu.Unlock()
	go s.renew(renewCtx, name, l)
	return true, nil
}

// renew extends the lease every third of it until the lock is released.
func (s *Storage) renew(ctx context.Context, name string, l *heldLock) {
	defer close(l.done)
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failed renewal is retried at the next tick; the lease
			// covers two misses.
			s.pool.Exec(ctx, `UPDATE mcpgate_locks SET expires = now() + make_interval(secs => $3)
				WHERE name = $1 AND holder = $2`, name, l.holder, s.lease.Seconds())
		}
	}
}

// Unlock releases the named lock. It fails when the lease had run out and
// someone else took the lock: the critical section was not exclusive.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.locksMu.Lock()
	l := s.locks[name]
	delete(s.locks, name) // before the row goes, so a new holder's entry survives
	s.locksMu.Unlock()
	if l == nil {
		return fmt.Errorf("postgres storage: unlocking %s, which this instance does not hold", name)
	}
	l.stop()
	<-l.done
	tag, err := s.pool.Exec(ctx, `DELETE FROM mcpgate_locks WHERE name = $1 AND holder = $2`, name, l.holder)
	if err != nil {
		return s.wrap("releasing lock "+name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres storage: lock %s had expired and was taken by another holder before it was released (raise lock_lease if this instance pauses that long)", name)
	}
	return nil
}
