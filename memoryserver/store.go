package memoryserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// store is the SQLite database behind a Server. Writes go through a pool of
// one connection whose transactions start with BEGIN IMMEDIATE, so writers in
// this process queue in Go and writers in other processes wait on SQLite's
// lock (busy_timeout) instead of failing halfway. Reads use a separate pool of
// read-only connections; in WAL mode they never block writers. Each pool
// keeps its statements prepared.
type store struct {
	write *stmtCache
	read  *stmtCache
	terms *termCache // used by write transactions
}

// busyTimeoutMillis is how long a writer waits for another process's write
// transaction before giving up.
const busyTimeoutMillis = 10000

// openStore opens (creating if needed) the database at path and migrates it.
//
// synchronous=FULL makes SQLite fsync the WAL at every commit: a write is only
// acknowledged once it is on disk, so neither kill -9 nor a power cut loses it.
func openStore(ctx context.Context, path string) (*store, error) {
	// The path goes into a "file:" URI; ":memory:" would give each pool a
	// database of its own.
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("memoryserver: invalid database path %q: want a file path without ? or #", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("memoryserver: creating database directory: %w", err)
	}
	common := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", path, busyTimeoutMillis)
	write, err := sql.Open("sqlite", common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("memoryserver: opening %s: %w", path, err)
	}
	// 16 MiB of page cache per reader keeps the hot index pages of a graph of
	// 100k entities in memory (SQLite's default is 2 MiB).
	// Readers map up to 256 MiB of the database: searches read pages
	// without copying them into each connection's cache (about 10% off a
	// search at 100k entities). Mapped pages count as resident memory but
	// are the kernel's file cache, shared and reclaimable.
	read, err := sql.Open("sqlite", common+"&_pragma=query_only(1)&_pragma=cache_size(-16384)&_pragma=mmap_size(268435456)")
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return &store{write: newStmtCache(write), read: newStmtCache(read), terms: newTermCache()}, nil
}

// close closes both pools.
func (s *store) close() error {
	return errors.Join(s.read.close(), s.write.close(), s.read.db.Close(), s.write.db.Close())
}

// update runs fn in one write transaction (BEGIN IMMEDIATE) and commits it
// only if fn succeeds: a tool call is applied entirely or not at all.
func (s *store) update(ctx context.Context, owner string, fn func(*graphTx) error) error {
	return runTx(ctx, s.write, s.terms, owner, func(g *graphTx) error {
		if err := fn(g); err != nil {
			return err
		}
		return g.flushIndex()
	})
}

// view runs fn in one read transaction, so all its queries see one snapshot.
func (s *store) view(ctx context.Context, owner string, fn func(*graphTx) error) error {
	return runTx(ctx, s.read, nil, owner, fn)
}

// runTx runs fn in a transaction of the pool, then prepares the statements
// it ran unprepared and remembers the term ids it met (terms, if not nil),
// for the transactions to come.
func runTx(ctx context.Context, p *stmtCache, terms *termCache, owner string, fn func(*graphTx) error) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	g := newGraphTx(ctx, tx, p, terms, owner)
	if err := fn(g); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	p.add(ctx, g.unprepared)
	if terms != nil {
		terms.add(g.metTerms)
	}
	return nil
}

// ignoreDone drops the error Rollback returns after a failed Commit or a
// cancelled context already ended the transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
