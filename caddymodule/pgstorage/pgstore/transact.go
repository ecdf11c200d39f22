package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// txKey carries a Storage's open transaction in a context.
type txKey struct{ s *Storage }

func (s *Storage) txOf(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(txKey{s}).(pgx.Tx)
	return tx
}

// Transact runs fn as one transaction holding the named lock: among every
// instance sharing the database, one runs fn for a name at a time, and
// Store, Load, Delete, List and Stat called with the context fn receives
// go through the transaction, so fn's writes apply all together when it
// returns nil and not at all otherwise (or when the instance dies
// midway). The lock is a transaction-scoped advisory lock: it costs one
// statement, needs no lease, and PostgreSQL releases it when the
// transaction ends, the connection included. Locks taken with Lock are a
// separate set of names.
//
// A context that already carries a transaction of s joins it.
func (s *Storage) Transact(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if tx := s.txOf(ctx); tx != nil {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "mcpgate:"+name); err != nil {
			return s.wrap("taking lock "+name, err)
		}
		return fn(ctx)
	}
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	select {
	case s.txSlots <- struct{}{}:
		defer func() { <-s.txSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.wrap("beginning a transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "mcpgate:"+name); err != nil {
		return s.wrap("taking lock "+name, err)
	}
	if err := fn(context.WithValue(ctx, txKey{s}, tx)); err != nil {
		return err
	}
	return s.wrap("committing", tx.Commit(ctx))
}
