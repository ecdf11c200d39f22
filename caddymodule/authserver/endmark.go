package authserver

import (
	"context"
	"time"
)

// An end mark is when the operator ended, at once and on every instance,
// everything of one user (a sign-out, signout.go) or one client id URL (a
// revocation, clientrevocation.go) that started before it: sessions,
// codes, approvals. What it ends is not looked for; it is refused where
// it is used, against the mark in storage. The mark is written before the
// operator lists the grants to revoke, so a grant a code makes meanwhile
// is either listed or sees the mark after its commit.
type endMark struct {
	// At is when the operator ended them.
	At time.Time `json:"at"`
}

// endMarkKey is the key of the mark of id in namespace ns, under the
// SHA-256 of the id.
func (s *Server) endMarkKey(ns, id string) string {
	return s.store.key(ns, hashToken(id)+".json")
}

// markEnd records that what id started before now is ended.
func (s *Server) markEnd(ctx context.Context, ns, id string) error {
	return s.store.put(ctx, s.endMarkKey(ns, id), endMark{At: s.cfg.Now()})
}

// endMarkOf returns id's mark in ns; zero if there is none (or it was
// swept).
func (s *Server) endMarkOf(ctx context.Context, ns, id string) (time.Time, error) {
	var m endMark
	found, err := s.store.get(ctx, s.endMarkKey(ns, id), &m)
	if err != nil || !found {
		return time.Time{}, err
	}
	return m.At, nil
}

// endedSince reports whether id's mark in ns is at or after started. A
// zero started (a record from before records carried it) counts as before
// every mark.
func (s *Server) endedSince(ctx context.Context, ns, id string, started time.Time) (bool, error) {
	at, err := s.endMarkOf(ctx, ns, id)
	return !at.IsZero() && !started.After(at), err
}

// sweepableAfter reports whether the mark may go at now, once what
// started before it has been unusable for at least lifetime.
func (m *endMark) sweepableAfter(now time.Time, lifetime time.Duration) bool {
	return now.After(m.At.Add(lifetime))
}
