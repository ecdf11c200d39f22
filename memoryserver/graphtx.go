package memoryserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
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
	// fresh lists the entities created since the last reindex, which have
	// no search rows to remove: a delete in the contentless postings index
	// costs as much as an insert even when there is nothing to delete.
	fresh []int64
	// unprepared lists the SQL texts run without a prepared statement, for
	// runTx to prepare after the transaction.
	unprepared []string
	// terms are the term ids known from earlier transactions (nil in read
	// transactions); metTerms those this one looked up or added, for
	// runTx to add to terms after commit.
	terms    *termCache
	metTerms map[string]int64
}

func newGraphTx(ctx context.Context, tx *sql.Tx, stmts *stmtCache, terms *termCache, owner string) *graphTx {
	return &graphTx{ctx: ctx, tx: tx, stmts: stmts, terms: terms, metTerms: map[string]int64{}, owner: owner, now: time.Now().UnixMilli()}
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

// touch marks entities as changed and refreshes their search index rows.
func (g *graphTx) touch(ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := g.exec("UPDATE entities SET updated_at = ? WHERE id IN (SELECT value FROM json_each(?))", g.now, jsonArray(ids)); err != nil {
		return err
	}
	g.stale = append(g.stale, ids...)
	return nil
}

// reindex marks an entity's search index entries as stale; store.update
// rewrites them (or removes them, when the entity is gone) before commit.
func (g *graphTx) reindex(id int64) {
	g.stale = append(g.stale, id)
}

// indexNew marks an entity created in this transaction for indexing.
func (g *graphTx) indexNew(id int64) {
	g.fresh = append(g.fresh, id)
}

// reindexStale rewrites the search index entries of the stale entities with
// a fixed number of statements, however many entities changed: FTS5 flushes
// its pending data at every statement, and each statement has a cost of its
// own, so a batch or an import runs much faster than one entity at a time.
func (g *graphTx) reindexStale() error {
	if len(g.stale) == 0 && len(g.fresh) == 0 {
		return nil
	}
	isFresh := make(map[int64]bool, len(g.fresh))
	for _, id := range g.fresh {
		isFresh[id] = true
	}
	var old []int64 // entities that may have search rows
	for _, id := range g.stale {
		if !isFresh[id] {
			old = append(old, id)
		}
	}
	list := jsonArray(append(old, g.fresh...))
	g.stale, g.fresh = nil, nil
	if len(old) > 0 {
		oldList := jsonArray(old)
		if _, err := g.exec("DELETE FROM entity_words WHERE rowid IN (SELECT value FROM json_each(?))", oldList); err != nil {
			return err
		}
		if _, err := g.exec("DELETE FROM entity_postings WHERE rowid IN (SELECT value FROM json_each(?))", oldList); err != nil {
			return err
		}
	}
	if _, err := g.exec(`INSERT INTO entity_words (rowid, owner, name, entity_type, observations)
		SELECT id, owner, name, entity_type,
			(SELECT group_concat(content, char(10)) FROM observations WHERE entity_id = e.id)
		FROM entities e WHERE id IN (SELECT value FROM json_each(?))`, list); err != nil {
		return err
	}
	return g.reindexTerms(list)
}

// reindexTerms writes the postings of the entities in list (a JSON array of
// ids, whose old postings are gone), adding the terms not seen before: each
// entity's document in entity_postings lists the ids of its terms.
func (g *graphTx) reindexTerms(list string) error {
	type doc struct {
		id    int64
		terms []string
	}
	var docs []doc
	seen := map[string]bool{}
	var batchTerms []string
	var id int64
	var text string
	err := g.each(`SELECT id, name || char(10) || entity_type || char(10) ||
			coalesce((SELECT group_concat(content, char(10)) FROM observations WHERE entity_id = e.id), '')
		FROM entities e WHERE id IN (SELECT value FROM json_each(?))`, []any{list}, []any{&id, &text}, func() {
		d := doc{id, distinctTerms(strings.ToLower(text))}
		for _, t := range d.terms {
			if !seen[t] {
				seen[t] = true
				batchTerms = append(batchTerms, t)
			}
		}
		docs = append(docs, d)
	})
	if err != nil || len(batchTerms) == 0 {
		return err
	}
	termIDs, err := g.termIDs(batchTerms)
	if err != nil {
		return err
	}
	rows := make([][2]any, 0, len(docs))
	var b strings.Builder
	for _, d := range docs {
		b.Reset()
		for k, t := range d.terms {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(postingToken(termIDs[t]))
		}
		rows = append(rows, [2]any{d.id, b.String()})
	}
	enc, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	_, err = g.exec(`INSERT INTO entity_postings (rowid, terms) SELECT value ->> 0, value ->> 1 FROM json_each(?)`, string(enc))
	return err
}

// termIDs returns the ids of terms, adding those not in the index yet.
func (g *graphTx) termIDs(terms []string) (map[string]int64, error) {
	ids := make(map[string]int64, len(terms))
	var missing []string
	for _, t := range terms {
		if id, ok := g.metTerms[t]; ok {
			ids[t] = id
		} else {
			missing = append(missing, t)
		}
	}
	if g.terms != nil {
		missing = g.terms.lookup(missing, ids)
	}
	if len(missing) == 0 {
		return ids, nil
	}
	list := jsonArray(missing)
	if _, err := g.exec("INSERT OR IGNORE INTO terms (term) SELECT value FROM json_each(?)", list); err != nil {
		return nil, err
	}
	var id int64
	var term string
	err := g.each("SELECT id, term FROM terms WHERE term IN (SELECT value FROM json_each(?))",
		[]any{list}, []any{&id, &term}, func() {
			ids[term] = id
			g.metTerms[term] = id
		})
	return ids, err
}

// postingToken is the token of term id in entity_postings.
func postingToken(id int64) string {
	return "t" + strconv.FormatInt(id, 10)
}

// jsonArray encodes ids, or rows of strings and numbers, for "IN (SELECT
// value FROM json_each(?))" and the batch statements, which keeps
// statements fixed whatever the number of items.
func jsonArray[T any](rows []T) string {
	b, _ := json.Marshal(rows) // cannot fail for strings, numbers and arrays of them
	return string(b)
}
