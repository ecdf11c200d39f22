package memoryserver

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// searchNodes finds the entities the reference server finds, those whose
// name, type or an observation contains query as a case-insensitive
// substring, and ranks them: first those containing all of its words as
// words (bm25, name weighted over type over observations), then the others
// in creation order. Relations that start or end at a hit come along.
func (g *graphTx) searchNodes(query string, p pageArgs) (graph, error) {
	offset, err := decodeCursor(cursorOffset, p.Cursor)
	if err != nil {
		return graph{}, err
	}
	hits, err := g.searchIDs(query)
	if err != nil {
		return graph{}, err
	}
	page := hits[min(int(offset), len(hits)):]
	var next string
	if p.Limit > 0 && len(page) > p.Limit {
		page = page[:p.Limit]
		next = encodeCursor(cursorOffset, offset+int64(p.Limit))
	}
	return g.subgraph(page, p.NamesOnly, true, next)
}

func (g *graphTx) searchIDs(query string) ([]int64, error) {
	hits, err := g.substringHits(query)
	if err != nil || len(hits.entities) == 0 {
		return hits.entities, err
	}
	// Each entity ranks by its best text.
	var ranked []int64
	seen := make(map[int64]bool, len(hits.entities))
	for _, d := range hits.ranked {
		if id := hits.docs[d]; !seen[id] {
			seen[id] = true
			ranked = append(ranked, id)
		}
	}
	for _, id := range hits.entities {
		if !seen[id] {
			ranked = append(ranked, id)
		}
	}
	return ranked, nil
}

// substringMatches are the owner's entities that contain a query, in
// creation order, the texts that contain it (document ids, see entityDoc)
// with their entities, and those of the texts that hold the query's words
// as words, best first (see ranker).
type substringMatches struct {
	entities []int64
	docs     map[int64]int64
	ranked   []int64
}

// substringHits finds the entities whose name, type or an observation
// contains query, ignoring case: the reference server's match.
//
// The term index narrows the candidates: every run of letters and digits in
// the (lower-cased) query lies inside a term of any matching text, and
// where the run sits in the query says how (see termLookups). The postings
// of the terms found for each run are intersected in text_postings, and
// the candidate texts are then checked against the query, except for a
// query that is one run: a text contains such a query exactly when one of
// its terms does, since the query cannot span a character that ends a term.
// A query no run of which can be looked up checks every text of the owner.
func (g *graphTx) substringHits(query string) (substringMatches, error) {
	q := strings.ToLower(query)
	rank := newRanker(query)
	lookups := termLookups(q)
	if len(lookups) == 1 && lookups[0].kind == termInside {
		if docs, ok, err := g.termMatchDocs(lookups[0]); ok || err != nil {
			if err != nil {
				return substringMatches{}, err
			}
			return g.ownedTexts(docs, false, "", rank)
		}
	}
	// Whole terms are looked up first: one term each, the most selective.
	// Once there is one, a partial run joins only if it lies in few terms,
	// since each term costs a lookup and the exact check decides anyway.
	partial := func(l termLookup) int {
		if l.kind == termWhole {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(lookups, func(a, b termLookup) int { return cmp.Compare(partial(a), partial(b)) })
	var groups []string
	for _, l := range lookups {
		limit := maxLookupTerms
		if len(groups) > 0 {
			limit = maxNarrowingTerms
		}
		ids, ok, err := g.lookupTerms(l, limit)
		if err != nil {
			return substringMatches{}, err
		}
		if !ok {
			continue // too short or too common to narrow anything; the check decides
		}
		if len(ids) == 0 {
			return substringMatches{}, nil // no term holds this run, so no text holds the query
		}
		groups = append(groups, anyTerm(ids))
	}
	if len(groups) == 0 {
		return g.ownedTexts(nil, true, q, rank)
	}
	docs, err := g.ids("SELECT rowid FROM text_postings WHERE text_postings MATCH ?", strings.Join(groups, " AND "))
	if err != nil || len(docs) == 0 {
		return substringMatches{}, err
	}
	return g.ownedTexts(docs, false, q, rank)
}

// ownedTexts keeps the texts among docs (with all, every text) that belong
// to the owner's entities and, unless q is empty, contain q, and has rank
// score them.
func (g *graphTx) ownedTexts(docs []int64, all bool, q string, rank *ranker) (substringMatches, error) {
	m := substringMatches{docs: map[int64]int64{}}
	keep := func(entity int64, t docText) {
		for _, s := range [...]string{t.name, t.entityType, t.observ} {
			if q == "" || strings.Contains(strings.ToLower(s), q) {
				m.docs[t.doc] = entity
				rank.add(t)
				return
			}
		}
	}
	var entityIDs, obsIDs []int64
	for _, d := range docs {
		if d < 0 {
			entityIDs = append(entityIDs, -d)
		} else {
			obsIDs = append(obsIDs, d)
		}
	}
	var id, entity int64
	var name, typ, content string
	// CROSS JOIN fixes the loop order: from the candidates, not from every
	// entity of the owner.
	entitySQL := "SELECT id, name, entity_type FROM entities WHERE owner = ?"
	obsSQL := `SELECT o.id, o.entity_id, o.content FROM entities e CROSS JOIN observations o ON o.entity_id = e.id
		WHERE e.owner = ?`
	entityArgs, obsArgs := []any{g.owner}, []any{g.owner}
	if !all {
		entitySQL = `SELECT e.id, e.name, e.entity_type FROM json_each(?1) c CROSS JOIN entities e ON e.id = c.value
			WHERE e.owner = ?2`
		obsSQL = `SELECT o.id, o.entity_id, o.content FROM json_each(?1) c CROSS JOIN observations o ON o.id = c.value
			CROSS JOIN entities e ON e.id = o.entity_id WHERE e.owner = ?2`
		entityArgs = []any{jsonArray(entityIDs), g.owner}
		obsArgs = []any{jsonArray(obsIDs), g.owner}
	}
	if all || len(entityIDs) > 0 {
		err := g.each(entitySQL, entityArgs, []any{&id, &name, &typ}, func() { keep(id, docText{doc: entityDoc(id), name: name, entityType: typ}) })
		if err != nil {
			return substringMatches{}, err
		}
	}
	if all || len(obsIDs) > 0 {
		err := g.each(obsSQL, obsArgs, []any{&id, &entity, &content}, func() { keep(entity, docText{doc: id, observ: content}) })
		if err != nil {
			return substringMatches{}, err
		}
	}
	seen := map[int64]bool{}
	for _, e := range m.docs {
		if !seen[e] {
			seen[e] = true
			m.entities = append(m.entities, e)
		}
	}
	slices.Sort(m.entities)
	m.ranked = rank.ranked()
	return m, nil
}

// termMatchDocs finds the texts containing a query that is one run of
// letters and digits: those with a term containing it. ok is false for a
// run too short for the trigram index.
func (g *graphTx) termMatchDocs(l termLookup) (docs []int64, ok bool, err error) {
	terms, ok, err := g.lookupTerms(l, -1)
	if !ok || err != nil || len(terms) == 0 {
		return nil, ok, err
	}
	// FTS5 steps an OR through all its terms for every hit, so a run found
	// in many terms is looked up in chunks, whose hits are merged here.
	found := map[int64]bool{}
	for chunk := range slices.Chunk(terms, maxLookupTerms) {
		hits, err := g.ids("SELECT rowid FROM text_postings WHERE text_postings MATCH ?", anyTerm(chunk))
		if err != nil {
			return nil, false, err
		}
		for _, id := range hits {
			found[id] = true
		}
	}
	return slices.Collect(maps.Keys(found)), true, nil
}

// wordsOf splits text into its lower-cased words, maximal runs of letters
// and digits: the terms of the substring index, and the words the ranking
// counts.
func wordsOf(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), notWordRune)
}

// distinctTerms are the words of text, each once, in order.
func distinctTerms(text string) []string {
	return distinct(wordsOf(text))
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }

// ftsString quotes s as an FTS5 string: one token or phrase, never syntax.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
