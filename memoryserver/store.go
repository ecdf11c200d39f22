package memoryserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// store is the SQLite database behind a Server. Writes go through a pool of
// one connection whose transactions start with BEGIN IMMEDIATE, so writers in
// this process queue in Go and writers in other processes wait on SQLite's
// lock (busy_timeout) instead of failing halfway. Reads use a separate pool of
// read-only connections; in WAL mode they never block writers. Each pool
// keeps its statements prepared.
type store struct {
	write       *stmtCache
	read        *stmtCache
	terms       *termCache // used by write transactions
	checkpoints *checkpointer
}

// busyTimeoutMillis is how long a writer waits for another process's write
// transaction before giving up.
const busyTimeoutMillis = 10000

// openStore opens (creating if needed) the database at path and migrates it.
//
// synchronous=FULL makes SQLite fsync the WAL at every commit: a write is only
// acknowledged once it is on disk, so neither kill -9 nor a power cut loses it.
func openStore(ctx context.Context, path string, log *zap.Logger) (*store, error) {
	// The path goes into a "file:" URI; ":memory:" would give each pool a
	// database of its own.
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("memoryserver: invalid database path %q: want a file path without ? or #", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("memoryserver: creating database directory: %w", err)
	}
	common := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", path, busyTimeoutMillis)
	write, err := sql.Open("sqlite", common+fmt.Sprintf("&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(%d)&_txlock=immediate", writerCheckpointPages))
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
	// The checkpointer fsyncs the database file before the WAL may start
	// over: that needs synchronous FULL (SQLite's compiled-in default,
	// stated here so that a build with another default keeps it).
	ckpt, err := sql.Open("sqlite", common+"&_pragma=synchronous(FULL)")
	if err != nil {
		write.Close()
		read.Close()
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	return &store{write: newStmtCache(write), read: newStmtCache(read), terms: newTermCache(),
		checkpoints: startCheckpointer(ckpt, log, checkpointInterval)}, nil
}

// close stops the checkpointer and closes the pools; the last connection
// to close checkpoints what is left.
func (s *store) close() error {
	s.checkpoints.close()
	return errors.Join(s.checkpoints.db.Close(), s.read.close(), s.write.close(), s.read.db.Close(), s.write.db.Close())
}

// update runs fn in one write transaction (BEGIN IMMEDIATE) and commits it
// only if fn succeeds: a tool call is applied entirely or not at all.
func (s *store) update(ctx context.Context, owner string, fn func(*graphTx) error) error {
	g, err := transact(ctx, s.write.db, s.write, s.terms, owner, indexing(fn))
	if err == nil {
		s.remember(ctx, g)
	}
	return err
}

// updateUnchecked is update without SQLite's foreign key checks, for a
// writer whose every row refers to rows it has just written or looked up
// in the same transaction (Import: the checks were a tenth of its time).
// It holds the pool's one write connection throughout, so no other
// writer runs without the checks (deletes rely on them to cascade), and a
// connection whose checks are not back on afterwards is thrown away.
func (s *store) updateUnchecked(ctx context.Context, owner string, fn func(*graphTx) error) error {
	g, err := s.transactUnchecked(ctx, owner, fn)
	if err == nil {
		s.remember(ctx, g) // prepares on the pool: only once the connection is back
	}
	return err
}

func (s *store) transactUnchecked(ctx context.Context, owner string, fn func(*graphTx) error) (g *graphTx, err error) {
	conn, err := s.write.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return nil, err
	}
	defer func() {
		if on, onErr := foreignKeysOn(conn); !on {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			if onErr != nil {
				err = errors.Join(err, fmt.Errorf("memoryserver: turning foreign key checks back on: %w", onErr))
			}
		}
	}()
	return transact(ctx, conn, s.write, s.terms, owner, indexing(fn))
}

// foreignKeysOn turns conn's foreign key checks on and reports whether they
// are. When a cancelled context ended the transaction, database/sql rolls
// it back on another goroutine, which may not have run yet: inside a
// transaction the pragma does nothing, and a connection handed back to the
// pool with the checks still off would let deletes leave orphans behind.
func foreignKeysOn(conn *sql.Conn) (bool, error) {
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = ON"); err != nil {
		return false, err
	}
	var on bool
	err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on)
	return on, err
}

// indexing runs fn, then brings the search index up to date with what it
// wrote.
func indexing(fn func(*graphTx) error) func(*graphTx) error {
	return func(g *graphTx) error {
		if err := fn(g); err != nil {
			return err
		}
		return g.flushIndex()
	}
}

// view runs fn in one read transaction, so all its queries see one snapshot.
func (s *store) view(ctx context.Context, owner string, fn func(*graphTx) error) error {
	g, err := transact(ctx, s.read.db, s.read, nil, owner, fn)
	if err == nil {
		s.read.add(ctx, g.unprepared)
	}
	return err
}

// beginner is a pool or one of its connections.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// transact runs fn in a transaction begun on the pool of stmts or one of
// its connections, and commits it if fn succeeds.
func transact(ctx context.Context, on beginner, stmts *stmtCache, terms *termCache, owner string, fn func(*graphTx) error) (*graphTx, error) {
	tx, err := on.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	g := newGraphTx(ctx, tx, stmts, terms, owner)
	if err := fn(g); err != nil {
		return nil, errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return g, tx.Commit()
}

// remember prepares the statements a committed write transaction ran
// unprepared and keeps the term ids it met, for the transactions to come,
// and has the checkpointer copy its pages into the database file. It must
// not run while the transaction's connection is held.
func (s *store) remember(ctx context.Context, g *graphTx) {
	s.write.add(ctx, g.unprepared)
	s.terms.add(g.metTerms)
	s.checkpoints.committed()
}

// ignoreDone drops the error Rollback returns after a failed Commit or a
// cancelled context already ended the transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
