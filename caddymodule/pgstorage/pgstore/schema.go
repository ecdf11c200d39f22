package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations bring the schema from version i to i+1. Append only: an
// instance starting against an older database applies the missing ones,
// and one finding a newer database refuses instead of guessing.
var migrations = []string{
	// 1: the key-value table certmagic.Storage maps onto, and the leases
	// of Lock. Keys compare bytewise (COLLATE "C") so that prefix LIKE
	// queries use the primary key's index whatever the database locale.
	`CREATE TABLE mcpgate_storage (
		key      text COLLATE "C" PRIMARY KEY,
		value    bytea NOT NULL,
		modified timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE mcpgate_locks (
		name    text PRIMARY KEY,
		holder  text NOT NULL,
		expires timestamptz NOT NULL
	);`,
}

// migrationLock is the advisory lock under which instances starting at
// the same time migrate one after the other.
const migrationLock = "mcpgate:schema"

// migrate creates or upgrades the schema in one transaction.
func migrate(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS mcpgate_schema (version integer NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM mcpgate_schema`).Scan(&version)
	switch {
	case err == pgx.ErrNoRows:
		if _, err := tx.Exec(ctx, `INSERT INTO mcpgate_schema (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	case version > len(migrations):
		return fmt.Errorf("the database schema is version %d, newer than this build knows (%d): upgrade mcpgate on this instance", version, len(migrations))
	}
	for ; version < len(migrations); version++ {
		if _, err := tx.Exec(ctx, migrations[version]); err != nil {
			return fmt.Errorf("migrating the schema to version %d: %w", version+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE mcpgate_schema SET version = $1`, version); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
