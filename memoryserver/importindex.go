package memoryserver

import "strings"

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
	// The postings need the texts' term ids from Go, a chunk of texts at
	// a time, each in rowid order (see flushIndex). Observations go first:
	// their words recur, and the ids of the terms met are kept only up to
	// maxCachedTerms, which entity names, each a term of its own, would
	// fill before the observations' words got in.
	var texts []docText
	var t docText
	for last := lastObservation; ; {
		texts = texts[:0]
		if err := g.each(`SELECT id, content FROM observations WHERE id > ? ORDER BY id LIMIT ?`,
			[]any{last, importIndexChunk}, []any{&t.doc, &t.observ}, func() { texts = append(texts, t) }); err != nil {
			return err
		}
		if len(texts) == 0 {
			break
		}
		if err := g.writePostings(texts); err != nil {
			return err
		}
		last = texts[len(texts)-1].doc
	}
	texts, t = texts[:0], docText{}
	if err := g.each(`SELECT -id, name, entity_type FROM entities WHERE id > ? ORDER BY id DESC`,
		[]any{lastEntity}, []any{&t.doc, &t.name, &t.entityType}, func() { texts = append(texts, t) }); err != nil {
		return err
	}
	return g.writePostings(texts)
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
