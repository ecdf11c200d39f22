package memoryserver

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
)

// The search index holds one document per text: an entity's name and type
// under rowid -id, and each observation under its own id. text_postings
// lists, for the substring search, the ids of the texts' terms (maximal runs
// of letters and digits, lower-cased; see distinctTerms), whose trigrams
// term_grams indexes.

// entityDoc is the document id of entity id's name and type.
func entityDoc(id int64) int64 { return -id }

// indexNew marks documents created in this transaction for indexing.
func (g *graphTx) indexNew(docs ...int64) {
	g.newDocs = append(g.newDocs, docs...)
}

// reindex marks documents whose text changed or is gone; flushIndex
// rewrites or removes their index rows.
func (g *graphTx) reindex(docs ...int64) {
	g.staleDocs = append(g.staleDocs, docs...)
}

// docText is the text of one document.
type docText struct {
	doc                      int64
	name, entityType, observ string
}

// terms are the terms of t (see distinctTerms).
func (t docText) terms() []string {
	return distinctTerms(t.name + "\n" + t.entityType + "\n" + t.observ)
}

// docTerms are the terms of one document.
type docTerms struct {
	doc   int64
	terms []string
}

// flushIndex brings the index rows of the marked documents up to date with
// a fixed number of statements, however many documents changed: FTS5
// flushes its pending data at every statement, and each statement has a
// cost of its own, so a batch or an import runs much faster than one text
// at a time.
func (g *graphTx) flushIndex() error {
	if len(g.staleDocs) == 0 && len(g.newDocs) == 0 {
		return nil
	}
	stale := g.staleDocs
	docs := append(slices.Clone(stale), g.newDocs...)
	g.staleDocs, g.newDocs = nil, nil
	if len(stale) > 0 {
		if _, err := g.exec("DELETE FROM text_postings WHERE rowid IN (SELECT value FROM json_each(?))", jsonArray(stale)); err != nil {
			return err
		}
	}
	texts, err := g.docTexts(docs)
	if err != nil || len(texts) == 0 {
		return err
	}
	// FTS5 writes its pending rows out whenever a rowid is not above the
	// last one, so in rowid order a batch is written once.
	slices.SortFunc(texts, func(a, b docText) int { return cmp.Compare(a.doc, b.doc) })
	return g.writePostings(texts)
}

// writePostings writes the text_postings rows of texts, which are in rowid
// order, in one statement.
func (g *graphTx) writePostings(texts []docText) error {
	docs := make([]docTerms, len(texts))
	for i, t := range texts {
		docs[i] = docTerms{t.doc, t.terms()}
	}
	return g.writeDocTerms(docs)
}

// writeDocTerms writes the text_postings rows of docs, which are in rowid
// order, in one statement.
func (g *graphTx) writeDocTerms(docs []docTerms) error {
	if len(docs) == 0 {
		return nil
	}
	// Each distinct term gets a slot, and each term of a document the slot
	// of its term, so that the ids are looked up once per distinct term.
	// The observations' terms get the first slots: their words recur, and
	// the ids of the terms met are kept only up to maxCachedTerms, which
	// entity names, each a term of its own, would fill first (entity
	// documents come first in rowid order).
	slotOf := map[string]int{}
	var batchTerms []string
	slots := make([][]int, len(docs))
	for _, observations := range []bool{true, false} {
		for i, d := range docs {
			if (d.doc > 0) != observations {
				continue
			}
			slots[i] = make([]int, len(d.terms))
			for k, term := range d.terms {
				slot, ok := slotOf[term]
				if !ok {
					slot = len(batchTerms)
					slotOf[term] = slot
					batchTerms = append(batchTerms, term)
				}
				slots[i][k] = slot
			}
		}
	}
	termIDs, err := g.termIDs(batchTerms)
	if err != nil {
		return err
	}
	ids := make([]int64, len(batchTerms))
	for slot, term := range batchTerms {
		ids[slot] = termIDs[term]
	}
	// The rows as JSON, [[doc, "t<id> t<id> ..."], ...]: numbers, letters and
	// spaces only, nothing to escape.
	rows := []byte{'['}
	for i, d := range docs {
		if i > 0 {
			rows = append(rows, ',')
		}
		rows = append(rows, '[')
		rows = strconv.AppendInt(rows, d.doc, 10)
		rows = append(rows, ',', '"')
		for k, slot := range slots[i] {
			if k > 0 {
				rows = append(rows, ' ')
			}
			rows = appendPostingToken(rows, ids[slot])
		}
		rows = append(rows, '"', ']')
	}
	rows = append(rows, ']')
	_, err = g.exec(`INSERT INTO text_postings (rowid, terms) SELECT value ->> 0, value ->> 1 FROM jsonb_each(?)`, string(rows))
	return err
}

// docTexts loads the texts of the documents that still exist, each once.
func (g *graphTx) docTexts(docs []int64) ([]docText, error) {
	var entityIDs, obsIDs []int64
	seen := map[int64]bool{}
	for _, d := range docs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if d < 0 {
			entityIDs = append(entityIDs, -d)
		} else {
			obsIDs = append(obsIDs, d)
		}
	}
	var texts []docText
	var t docText
	if len(entityIDs) > 0 {
		err := g.each(`SELECT -id, name, entity_type FROM entities WHERE id IN (SELECT value FROM json_each(?))`,
			[]any{jsonArray(entityIDs)}, []any{&t.doc, &t.name, &t.entityType}, func() { texts = append(texts, t) })
		if err != nil {
			return nil, err
		}
	}
	t = docText{}
	if len(obsIDs) > 0 {
		err := g.each(`SELECT id, content FROM observations WHERE id IN (SELECT value FROM json_each(?))`,
			[]any{jsonArray(obsIDs)}, []any{&t.doc, &t.observ}, func() { texts = append(texts, t) })
		if err != nil {
			return nil, err
		}
	}
	return texts, nil
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
	var id int64
	var term string
	found := func() {
		ids[term] = id
		if len(g.metTerms) < maxCachedTerms { // an import of 1M entities meets millions
			g.metTerms[term] = id
		}
	}
	// The new terms' ids come back from the insert; only the terms that
	// were in the table already are looked up (a second index search per
	// term was a tenth of an import).
	err := g.each(`INSERT INTO terms (term) SELECT value FROM json_each(?) WHERE true
		ON CONFLICT (term) DO NOTHING RETURNING id, term`, []any{jsonArray(missing)}, []any{&id, &term}, found)
	if err != nil {
		return nil, err
	}
	missing = slices.DeleteFunc(missing, func(t string) bool { _, ok := ids[t]; return ok })
	if len(missing) == 0 {
		return ids, nil
	}
	err = g.each("SELECT id, term FROM terms WHERE term IN (SELECT value FROM json_each(?))",
		[]any{jsonArray(missing)}, []any{&id, &term}, found)
	return ids, err
}

// postingToken is the token of term id in text_postings.
func postingToken(id int64) string {
	return string(appendPostingToken(nil, id))
}

// appendPostingToken appends postingToken(id) to b.
func appendPostingToken(b []byte, id int64) []byte {
	return strconv.AppendInt(append(b, 't'), id, 10)
}

// reindexAll indexes every text of every owner: migration 2 runs it to
// fill the indexes it creates.
func reindexAll(ctx context.Context, tx *sql.Tx) error {
	g := newGraphTx(ctx, tx, newStmtCache(nil), nil, "")
	docs, err := g.ids("SELECT -id FROM entities UNION ALL SELECT id FROM observations")
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(docs, 4*importChunk) {
		g.indexNew(chunk...)
		if err := g.flushIndex(); err != nil {
			return err
		}
	}
	return nil
}
