package memoryserver

import (
	"cmp"
	"slices"
)

// importIndexChunk is how many texts an import gathers before it writes
// their postings in one statement: FTS5 writes its pending data out as a
// new segment at the end of every statement (and whenever its 1 MB of
// pending data is full), and merging many small segments cost more than
// writing them; bounded memory.
const importIndexChunk = 50_000

// importedEntity is an entity of an imported file with the terms of its
// texts, split on the decoding goroutine while the writer writes.
type importedEntity struct {
	entity
	nameTerms        []string   // of the name and type
	observationTerms [][]string // of each of the distinct Observations
}

// splitTerms readies a chunk of a file's entities for importWriter: each
// observation once, and the terms of every text.
func splitTerms(chunk []entity) []importedEntity {
	out := make([]importedEntity, len(chunk))
	for i, e := range chunk {
		e.Observations = distinct(e.Observations)
		out[i] = importedEntity{entity: e, nameTerms: docText{name: e.Name, entityType: e.EntityType}.terms()}
		out[i].observationTerms = make([][]string, len(e.Observations))
		for k, c := range e.Observations {
			out[i].observationTerms[k] = docText{observ: c}.terms()
		}
	}
	return out
}

// importWriter writes the entities of an import that are new to the graph
// under ids it assigns itself, above every id in the graph: it then knows
// each new text's document id and, from the decoder, its terms, and writes
// the postings without reading the texts back. No other writer runs
// during the import's transaction, and rows are added by nothing else.
type importWriter struct {
	g                           *graphTx
	nextEntity, nextObservation int64
	// ids are the ids of the entities the import created, and of those in
	// the graph that relations named, for the relations: looking the
	// created ones' names up again was a tenth of an import.
	ids     map[string]int64
	pending []docTerms
	// waiting are the file's relations from the first whose endpoints
	// were not known when it was read (it may name an entity further on)
	// to the end, in file order, for the end of the import.
	waiting []relation
}

func newImportWriter(g *graphTx) (*importWriter, error) {
	w := &importWriter{g: g, ids: map[string]int64{}}
	err := g.tx.QueryRowContext(g.ctx, `SELECT (SELECT ifnull(max(id), 0) + 1 FROM entities),
		(SELECT ifnull(max(id), 0) + 1 FROM observations)`).Scan(&w.nextEntity, &w.nextObservation)
	return w, err
}

// write stores a chunk: its new entities with their observations, and the
// observations of entities already in the graph (or earlier in the file).
func (w *importWriter) write(chunk []importedEntity) error {
	g := w.g
	rows := make([][2]string, len(chunk))
	for i, e := range chunk {
		rows[i] = [2]string{e.Name, e.EntityType}
	}
	// Entity i gets id first+i if its name is new; a name taken leaves its
	// id unused. A clash on an id would be an error, not skipped: the
	// conflict clause names only (owner, name).
	first := w.nextEntity
	w.nextEntity += int64(len(chunk))
	created := map[int64]bool{}
	var id int64
	if err := g.each(`INSERT INTO entities (id, owner, name, entity_type, created_at, updated_at)
		SELECT ?1 + key, ?2, value ->> 0, value ->> 1, ?3, ?3 FROM jsonb_each(?4) WHERE true
		ON CONFLICT (owner, name) DO NOTHING RETURNING id`,
		[]any{first, g.owner, g.now, jsonArray(rows)}, []any{&id}, func() { created[id] = true }); err != nil {
		return err
	}
	var observations [][3]any
	var more []observationAdd
	for i, e := range chunk {
		id := first + int64(i)
		if !created[id] {
			more = append(more, observationAdd{e.Name, e.Observations})
			continue
		}
		w.ids[e.Name] = id
		w.pending = append(w.pending, docTerms{entityDoc(id), e.nameTerms})
		for k, c := range e.Observations {
			observations = append(observations, [3]any{w.nextObservation, id, c})
			w.pending = append(w.pending, docTerms{w.nextObservation, e.observationTerms[k]})
			w.nextObservation++
		}
	}
	if len(observations) > 0 {
		if _, err := g.exec(`INSERT INTO observations (id, entity_id, content, created_at)
			SELECT value ->> 0, value ->> 1, value ->> 2, ? FROM jsonb_each(?)`, g.now, jsonArray(observations)); err != nil {
			return err
		}
	}
	if len(more) > 0 {
		// These go the tools' way, ids from SQLite and indexed at commit
		// (flushIndex); the next new observation's id is above theirs.
		if _, err := g.addObservations(more); err != nil {
			return err
		}
		var next int64
		if err := g.tx.QueryRowContext(g.ctx, "SELECT ifnull(max(id), 0) + 1 FROM observations").Scan(&next); err != nil {
			return err
		}
		w.nextObservation = max(w.nextObservation, next)
	}
	if len(w.pending) >= importIndexChunk {
		return w.flush()
	}
	return nil
}

// relate writes the relations of a chunk, in file order, as long as both
// endpoints of each are known by now (created by the import, or in the
// graph): a file holds its relations after its entities, so they need not
// wait in memory for the end. From the first relation with an endpoint
// not known yet, the rest of the file's relations wait (see waiting).
func (w *importWriter) relate(chunk []relation) error {
	if len(w.waiting) == 0 {
		if err := w.g.lookUpEndpoints(chunk, w.ids); err != nil {
			return err
		}
		known := len(chunk)
		for i, rel := range chunk {
			if !endpointsKnown(rel, w.ids) {
				known = i
				break
			}
		}
		if known > 0 {
			if _, err := w.g.insertRelations(chunk[:known], w.ids); err != nil {
				return err
			}
		}
		chunk = chunk[known:]
	}
	w.waiting = append(w.waiting, chunk...)
	return nil
}

// flush writes the postings of the texts written since the last flush.
func (w *importWriter) flush() error {
	slices.SortFunc(w.pending, func(a, b docTerms) int { return cmp.Compare(a.doc, b.doc) })
	err := w.g.writeDocTerms(w.pending)
	w.pending = w.pending[:0]
	return err
}
