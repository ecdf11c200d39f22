package memoryserver

import (
	"cmp"
	"slices"
	"strings"
)

// importIndexChunk is how many texts indexImported splits into terms and
// writes to text_postings at a time: few statements (FTS5 writes its
// pending data out at the end of each), bounded memory.
const importIndexChunk = 50_000

// indexImported writes the index rows of every entity with an id above
// lastEntity and every observation with an id above lastObservation: the
// rows an import created, since ids only grow within the write
// transaction (rowids are max+1 and nothing is deleted meanwhile) and no
// other writer runs during it. Rows an import created earlier in the same
// transaction were not indexed one chunk at a time: FTS5 writes its
// pending data out as a new segment at the end of every statement, and
// merging the hundreds of small segments of a chunked import cost more
// than writing the index. An import changes no existing text (an entity
// already in the graph keeps its name and type), so nothing is stale.
func (g *graphTx) indexImported(lastEntity, lastObservation int64) error {
	// Observations go first: their words recur, and the ids of the terms
	// met are kept only up to maxCachedTerms, which entity names, each a
	// term of its own, would fill before the observations' words got in.
	if err := g.indexRowsAbove(`SELECT id, '', '', content FROM observations WHERE id > ? ORDER BY id LIMIT ?`,
		lastObservation, func(id int64) int64 { return id }); err != nil {
		return err
	}
	return g.indexRowsAbove(`SELECT id, name, entity_type, '' FROM entities WHERE id > ? ORDER BY id LIMIT ?`,
		lastEntity, entityDoc)
}

// indexRowsAbove writes the postings of the rows query returns (id, name,
// type, observation of the rows with an id above its first argument, in id
// order, at most its second) a chunk at a time; doc gives a row's document
// id. Each chunk goes in rowid order (see flushIndex).
func (g *graphTx) indexRowsAbove(query string, last int64, doc func(id int64) int64) error {
	var texts []docText
	var id int64
	var t docText
	for {
		texts = texts[:0]
		err := g.each(query, []any{last, importIndexChunk}, []any{&id, &t.name, &t.entityType, &t.observ}, func() {
			t.doc = doc(id)
			texts = append(texts, t)
		})
		if err != nil || len(texts) == 0 {
			return err
		}
		last = id
		slices.SortFunc(texts, func(a, b docText) int { return cmp.Compare(a.doc, b.doc) })
		if err := g.writePostings(texts); err != nil {
			return err
		}
	}
}

// writePostings writes the text_postings rows of texts, which are in rowid
// order, in one statement.
func (g *graphTx) writePostings(texts []docText) error {
	if len(texts) == 0 {
		return nil
	}
	docTerms := make([][]string, len(texts))
	var batchTerms []string
	seen := map[string]bool{}
	for i, t := range texts {
		docTerms[i] = distinctTerms(strings.ToLower(t.name + "\n" + t.entityType + "\n" + t.observ))
		for _, term := range docTerms[i] {
			if !seen[term] {
				seen[term] = true
				batchTerms = append(batchTerms, term)
			}
		}
	}
	termIDs, err := g.termIDs(batchTerms)
	if err != nil {
		return err
	}
	postings := make([][2]any, len(texts))
	var b strings.Builder
	for i, t := range texts {
		b.Reset()
		for k, term := range docTerms[i] {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(postingToken(termIDs[term]))
		}
		postings[i] = [2]any{t.doc, b.String()}
	}
	_, err = g.exec(`INSERT INTO text_postings (rowid, terms) SELECT value ->> 0, value ->> 1 FROM json_each(?)`, jsonArray(postings))
	return err
}
