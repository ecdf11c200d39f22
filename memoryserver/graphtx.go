package memoryserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
)

// graphTx is one transaction on one owner's graph.
type graphTx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *stmtCache // the pool's prepared statements
	owner string
	now   int64 // Unix milliseconds, one value for the whole transaction
	// stale lists the entities whose search rows must be rewritten before
	// the transaction commits.
	stale []int64
	// unprepared lists the SQL texts run without a prepared statement, for
	// runTx to prepare after the transaction.
	unprepared []string
}

func newGraphTx(ctx context.Context, tx *sql.Tx, stmts *stmtCache, owner string) *graphTx {
	return &graphTx{ctx: ctx, tx: tx, stmts: stmts, owner: owner, now: time.Now().UnixMilli()}
}

// stmt returns the pool's prepared statement for query, bound to this
// transaction, or nil (noting query for runTx) if there is none yet.
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

// touch marks an entity as changed and refreshes its search index rows.
func (g *graphTx) touch(id int64) error {
	if _, err := g.exec("UPDATE entities SET updated_at = ? WHERE id = ?", g.now, id); err != nil {
		return err
	}
	g.reindex(id)
	return nil
}

// reindex marks an entity's search index entries as stale; store.update
// rewrites them (or removes them, when the entity is gone) before commit.
func (g *graphTx) reindex(id int64) {
	g.stale = append(g.stale, id)
}

// reindexStale rewrites the search index entries of the stale entities with
// a fixed number of statements, however many entities changed: FTS5 flushes
// its pending data at every statement, and each statement has a cost of its
// own, so a batch or an import runs much faster than one entity at a time.
func (g *graphTx) reindexStale() error {
	if len(g.stale) == 0 {
		return nil
	}
	list := idList(g.stale)
	g.stale = nil
	if _, err := g.exec("DELETE FROM entity_words WHERE rowid IN (SELECT value FROM json_each(?))", list); err != nil {
		return err
	}
	if _, err := g.exec(`INSERT INTO entity_words (rowid, owner, name, entity_type, observations)
		SELECT id, owner, name, entity_type,
			(SELECT group_concat(content, char(10)) FROM observations WHERE entity_id = e.id)
		FROM entities e WHERE id IN (SELECT value FROM json_each(?))`, list); err != nil {
		return err
	}
	return g.reindexTerms(list)
}

// reindexTerms rewrites the postings of the entities in list (a JSON array
// of ids) and adds the terms not seen before.
func (g *graphTx) reindexTerms(list string) error {
	if _, err := g.exec("DELETE FROM entity_terms WHERE entity_id IN (SELECT value FROM json_each(?))", list); err != nil {
		return err
	}
	var postings []any // [entity id, term] pairs
	seen := map[string]bool{}
	var newTerms []string
	var id int64
	var text string
	err := g.each(`SELECT id, name || char(10) || entity_type || char(10) ||
			coalesce((SELECT group_concat(content, char(10)) FROM observations WHERE entity_id = e.id), '')
		FROM entities e WHERE id IN (SELECT value FROM json_each(?))`, []any{list}, []any{&id, &text}, func() {
		for _, t := range distinctTerms(strings.ToLower(text)) {
			postings = append(postings, []any{id, t})
			if !seen[t] {
				seen[t] = true
				newTerms = append(newTerms, t)
			}
		}
	})
	if err != nil || len(postings) == 0 {
		return err
	}
	if _, err := g.exec("INSERT OR IGNORE INTO terms (term) SELECT value FROM json_each(?)", idList(newTerms)); err != nil {
		return err
	}
	b, err := json.Marshal(postings)
	if err != nil {
		return err
	}
	_, err = g.exec(`INSERT OR IGNORE INTO entity_terms (term_id, entity_id)
		SELECT t.id, p.value ->> 0 FROM json_each(?) p JOIN terms t ON t.term = p.value ->> 1`, string(b))
	return err
}

// idList encodes ids for "IN (SELECT value FROM json_each(?))", which keeps
// statements fixed whatever the number of ids.
func idList[T int64 | string](ids []T) string {
	b, _ := json.Marshal(ids) // cannot fail for these types
	return string(b)
}
