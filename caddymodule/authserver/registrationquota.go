package authserver

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// unusedQuota limits the never-used clients one address holds at once
// (RegistrationPolicy.UnusedClientsPerAddress), so strangers cannot fill
// MaxClients, or storage, from one address. Clients that obtained a token
// do not count: only a signed-in user can make a client used, so the quota
// never stands in the way of real clients. It is kept in memory like the
// rate limits; a restart forgets it, which an attacker cannot cause.
type unusedQuota struct {
	limit int

	mu     sync.Mutex
	byAddr map[string][]quotaEntry
}

type quotaEntry struct {
	id       string
	issuedAt time.Time
}

func newUnusedQuota(limit int) *unusedQuota {
	return &unusedQuota{limit: limit, byAddr: map[string][]quotaEntry{}}
}

// reserve counts c for addr, or refuses with 429 temporarily_unavailable
// and Retry-After (when addr's oldest unused client expires) if addr holds
// the limit already. At the limit it first forgets clients that are gone
// or have been used since, loading at most limit records. The lock is held
// across those loads so concurrent registrations cannot overshoot.
func (s *Server) reserveUnused(ctx context.Context, addr string, c *client) *oauthError {
	q := s.unused
	if q.limit <= 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	entries := q.byAddr[addr]
	if len(entries) >= q.limit {
		entries = slices.DeleteFunc(entries, func(e quotaEntry) bool {
			stored, err := s.loadClient(ctx, e.id)
			return err == nil && (stored == nil || !stored.LastUsed.IsZero())
		})
		q.byAddr[addr] = entries
	}
	if len(entries) >= q.limit {
		wait := entries[0].issuedAt.Add(s.cfg.Registration.UnusedClientLifetime).Sub(s.cfg.Now())
		return &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "this address has registered too many clients that were never used; use one of them, or retry later",
			retryAfter:  max(wait, time.Second)}
	}
	if _, known := q.byAddr[addr]; !known && len(q.byAddr) >= maxRateKeys {
		// Bounded like the rate limiters: forgetting some address's
		// entries only gives back quota to whoever controls that many
		// addresses, who has it anyway.
		for k := range q.byAddr {
			delete(q.byAddr, k)
			break
		}
	}
	q.byAddr[addr] = append(entries, quotaEntry{id: c.ID, issuedAt: c.IssuedAt})
	return nil
}

// releaseUnused takes back a reservation whose client was not stored.
func (s *Server) releaseUnused(addr, id string) {
	q := s.unused
	q.mu.Lock()
	defer q.mu.Unlock()
	entries := slices.DeleteFunc(q.byAddr[addr], func(e quotaEntry) bool { return e.id == id })
	if len(entries) == 0 {
		delete(q.byAddr, addr)
		return
	}
	q.byAddr[addr] = entries
}

// evictionCandidate returns the storage key of the oldest dynamically
// registered client that never obtained a token, among names (the client
// keys), or "" when every client is in use. Evicting it makes room under
// MaxClients: a flood of registrations then pushes out its own unused
// clients instead of locking every newcomer out until the sweep.
// nextFree is, when there is none, how long until the sweep frees a slot.
func (s *Server) evictionCandidate(ctx context.Context, names []string) (key string, nextFree time.Duration, err error) {
	now := s.cfg.Now()
	var oldest time.Time
	nextFree = -1
	for _, name := range names {
		var c client
		found, err := s.store.get(ctx, name, &c)
		if err != nil {
			return "", 0, err
		}
		switch {
		case !found:
		case c.LastUsed.IsZero():
			if key == "" || c.IssuedAt.Before(oldest) {
				key, oldest = name, c.IssuedAt
			}
		default:
			if free := c.LastUsed.Add(s.cfg.Registration.ClientIdleLifetime).Sub(now); nextFree < 0 || free < nextFree {
				nextFree = free
			}
		}
	}
	return key, nextFree, nil
}
