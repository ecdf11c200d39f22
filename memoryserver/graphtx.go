package memoryserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// graphTx is one transaction on one owner's graph.
type graphTx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *stmtCache // the pool's prepared statements
	owner string
	now   int64 // Unix milliseconds, one value for the whole transaction
	// staleDocs lists the search index documents (see entityDoc) to
	// remove and, if their text still exists, write again before the
	// transaction commits; newDocs those to write that have no rows yet: a
	// delete in a contentless index costs about as much as an insert even
	// when there is nothing to delete.
	staleDocs, newDocs []int64
	// unprepared lists the SQL texts run without a prepared statement, for
	// the store to prepare after the transaction (remember, view).
	unprepared []string
	// terms are the term ids known from earlier transactions (nil in read
	// transactions); metTerms those this one looked up or added, for
	// the store to add to terms after commit (remember).
	terms    *termCache
	metTerms map[string]int64
}

func newGraphTx(ctx context.Context, tx *sql.Tx, stmts *stmtCache, terms *termCache, owner string) *graphTx {
	return &graphTx{ctx: ctx, tx: tx, stmts: stmts, terms: terms, metTerms: map[string]int64{}, owner: owner, now: time.Now().UnixMilli()}
}

// stmt returns the pool's prepared statement for query, bound to this
// transaction, or nil (noting query for the store to prepare after the
// transaction) if there is none yet.
func (g *graphTx) stmt(query string) *sql.Stmt {
	if st := g.stmts.get(query); st != nil {
		return g.tx.StmtContext(g.ctx, st)
	}
	g.unprepared = append(g.unprepared, query)
	return nil
}

func (g *graphTx) exec(query string, args ...any) (sql.Result, error) {
	if st := g.stmt(query); st != nil {
		return st.ExecContext(g.ctx, args...)
	}
	return g.tx.ExecContext(g.ctx, query, args...)
}

func (g *graphTx) query(query string, args ...any) (*sql.Rows, error) {
	if st := g.stmt(query); st != nil {
		return st.QueryContext(g.ctx, args...)
	}
	return g.tx.QueryContext(g.ctx, query, args...)
}

// entityID looks an entity up by name; ok is false when it does not exist.
func (g *graphTx) entityID(name string) (id int64, ok bool, err error) {
	ids, err := g.ids("SELECT id FROM entities WHERE owner = ? AND name = ?", g.owner, name)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	return ids[0], true, nil
}

// mustEntityID is entityID with a missing entity reported as a tool error.
func (g *graphTx) mustEntityID(name string) (int64, error) {
	id, ok, err := g.entityID(name)
	if err == nil && !ok {
		err = notFound(name)
	}
	return id, err
}

// touch records that entities changed now.
func (g *graphTx) touch(ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := g.exec("UPDATE entities SET updated_at = ? WHERE id IN (SELECT value FROM json_each(?))", g.now, jsonArray(ids))
	return err
}

// jsonArray encodes ids, or rows of strings and numbers, for "IN (SELECT
// value FROM json_each(?))" and the batch statements, which keeps
// statements fixed whatever the number of items.
func jsonArray[T any](rows []T) string {
	b, _ := json.Marshal(rows) // cannot fail for strings, numbers and arrays of them
	return string(b)
}
