package memoryserver

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps one prepared statement per SQL text for a pool, so that a
// query run again skips SQLite's SQL compiler: database/sql prepares a
// statement once on each connection that uses it and keeps it there, and
// the driver reuses the compiled statement from call to call.
//
// Every SQL text of this package is a constant or one of a few fixed
// variants, so the cache stays small without eviction.
//
// A text is prepared only between transactions (see add): preparing inside
// one would wait for a connection, and the write pool's only connection is
// the transaction's own.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns the statement prepared for query, or nil if there is none yet.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

// add prepares the queries that have no statement yet. It must not be
// called inside a transaction of this pool. A query that fails to prepare
// is left out and runs unprepared; the next transaction using it tries again.
func (c *stmtCache) add(ctx context.Context, queries []string) {
	for _, q := range queries {
		if c.get(q) != nil {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.closed || c.stmts[q] != nil {
			st.Close() // closed meanwhile, or another caller was first
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes the prepared statements; later adds prepare nothing.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}
