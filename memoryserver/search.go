package memoryserver

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// searchNodes finds entities whose name, type or observations match query:
// first those containing all of its words (ranked by bm25, name weighted
// over type over observations), then, in creation order, every other entity
// that contains query as a case-insensitive substring, which is the
// reference server's match.
// Relations that start or end at a hit come along.
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
	var ranked []int64
	if words := wordQuery(query); words != "" {
		var err error
		ranked, err = g.ids(`SELECT rowid FROM entity_words WHERE entity_words MATCH ? AND owner = ?
			ORDER BY bm25(entity_words, 0, 10, 3, 1), rowid`, words, g.owner)
		if err != nil {
			return nil, err
		}
	}
	substr, err := g.substringIDs(query)
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(ranked))
	for _, id := range ranked {
		seen[id] = true
	}
	for _, id := range substr {
		if !seen[id] {
			ranked = append(ranked, id)
		}
	}
	return ranked, nil
}

// substringIDs returns, in creation order, the entities whose name, type or
// an observation contains query, ignoring case: the reference server's match.
//
// The term index narrows the candidates: every run of letters and digits in
// the (lower-cased) query lies inside a term of any matching text, and
// where the run sits in the query says how (see termLookups). The postings
// of the terms found for each run are intersected in entity_postings, and
// the candidates are then checked against the text itself, except for a
// query that is one run: a text contains such a query exactly when one of
// its terms does, since the query cannot span a character that ends a term.
// A query no run of which can be looked up checks every entity of the owner.
func (g *graphTx) substringIDs(query string) ([]int64, error) {
	q := strings.ToLower(query)
	lookups := termLookups(q)
	if len(lookups) == 1 && lookups[0].kind == termInside {
		if ids, ok, err := g.termMatchIDs(lookups[0]); ok || err != nil {
			return ids, err
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
			return nil, err
		}
		if !ok {
			continue // too short or too common to narrow anything; the check decides
		}
		if len(ids) == 0 {
			return nil, nil // no term holds this run, so no text holds the query
		}
		groups = append(groups, anyTerm(ids))
	}
	args := []any{g.owner}
	var candidates string
	if len(groups) > 0 {
		ids, err := g.ids("SELECT rowid FROM entity_postings WHERE entity_postings MATCH ?", strings.Join(groups, " AND "))
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		candidates = " AND e.id IN (SELECT value FROM json_each(?))"
		args = append(args, jsonArray(ids))
	}
	var ids []int64
	last, matched := int64(-1), false
	var id int64
	var name, typ string
	var obs *string
	err := g.each(`SELECT e.id, e.name, e.entity_type, o.content FROM entities e
		LEFT JOIN observations o ON o.entity_id = e.id WHERE e.owner = ?`+candidates+" ORDER BY e.id, o.id",
		args, []any{&id, &name, &typ, &obs}, func() {
			if id != last {
				last = id
				matched = strings.Contains(strings.ToLower(name), q) || strings.Contains(strings.ToLower(typ), q)
				if matched {
					ids = append(ids, id)
				}
			}
			if !matched && obs != nil && strings.Contains(strings.ToLower(*obs), q) {
				matched = true
				ids = append(ids, id)
			}
		})
	return ids, err
}

// termMatchIDs is substringIDs for a query that is one run of letters and
// digits: the entities with a term containing it, no text to check. ok is
// false for a run too short for the trigram index.
func (g *graphTx) termMatchIDs(l termLookup) (ids []int64, ok bool, err error) {
	terms, ok, err := g.lookupTerms(l, -1)
	if !ok || err != nil || len(terms) == 0 {
		return nil, ok, err
	}
	// FTS5 steps an OR through all its terms for every hit, so a run found
	// in many terms is looked up in chunks, whose hits are merged here.
	found := map[int64]bool{}
	for chunk := range slices.Chunk(terms, maxLookupTerms) {
		hits, err := g.ids("SELECT rowid FROM entity_postings WHERE entity_postings MATCH ?", anyTerm(chunk))
		if err != nil {
			return nil, false, err
		}
		for _, id := range hits {
			found[id] = true
		}
	}
	ids, err = g.ids(`SELECT id FROM entities WHERE owner = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY id`,
		g.owner, jsonArray(slices.Collect(maps.Keys(found))))
	return ids, true, err
}

// distinctTerms splits lower-cased text into its distinct maximal runs of
// letters and digits: the terms of the substring index.
func distinctTerms(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.FieldsFunc(text, notWordRune) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }

// wordQuery turns free text into an FTS5 query matching all its words.
func wordQuery(query string) string {
	words := strings.FieldsFunc(query, notWordRune)
	for i, w := range words {
		words[i] = ftsString(w)
	}
	return strings.Join(words, " ")
}

// ftsString quotes s as an FTS5 string: one token or phrase, never syntax.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
