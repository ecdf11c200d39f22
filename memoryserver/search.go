package memoryserver

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
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
// the (lower-cased) query lies inside some term of a matching text, so a
// match has, for each such run, a term containing it, which the trigram
// index over the terms finds. Candidates are then checked against the text
// itself. A query without a run of three or more characters checks every
// entity of the owner.
func (g *graphTx) substringIDs(query string) ([]int64, error) {
	q := strings.ToLower(query)
	if isSearchTerm(q) {
		return g.termMatchIDs(q)
	}
	sql := `SELECT e.id, e.name, e.entity_type, o.content FROM entities e
		LEFT JOIN observations o ON o.entity_id = e.id WHERE e.owner = ?`
	args := []any{g.owner}
	if runs := searchRuns(q); len(runs) > 0 {
		var candidates []string
		for _, r := range runs {
			candidates = append(candidates, `SELECT entity_id FROM entity_terms
				WHERE term_id IN (SELECT rowid FROM term_grams WHERE term_grams MATCH ?)`)
			args = append(args, ftsString(r))
		}
		sql += " AND e.id IN (" + strings.Join(candidates, " INTERSECT ") + ")"
	}
	var ids []int64
	last, matched := int64(-1), false
	var id int64
	var name, typ string
	var obs *string
	err := g.each(sql+" ORDER BY e.id, o.id", args, []any{&id, &name, &typ, &obs}, func() {
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

// termMatchIDs is substringIDs for a query q that is one run of letters and
// digits (lower-cased): a text contains q exactly when one of its terms
// does, since q cannot span a character that ends a term. So the check is
// made on the few terms the trigram index finds, not on entity texts.
// instr compares code points exactly, like strings.Contains.
func (g *graphTx) termMatchIDs(q string) ([]int64, error) {
	return g.ids(`SELECT id FROM entities WHERE owner = ? AND id IN (
			SELECT entity_id FROM entity_terms WHERE term_id IN (
				SELECT id FROM terms WHERE instr(term, ?) > 0
					AND id IN (SELECT rowid FROM term_grams WHERE term_grams MATCH ?)))
		ORDER BY id`, g.owner, q, ftsString(q))
}

// isSearchTerm reports whether q is a single run of letters and digits long
// enough for the trigram index.
func isSearchTerm(q string) bool {
	return utf8.RuneCountInString(q) >= 3 && strings.IndexFunc(q, notWordRune) < 0
}

// maxSearchRuns bounds the runs of a query used to find candidates: the
// longest are the most selective, and candidates are checked anyway.
const maxSearchRuns = 4

// searchRuns returns the runs of letters and digits of q that the trigram
// index can look up (three characters or more), longest first.
func searchRuns(q string) []string {
	var runs []string
	for _, r := range distinctTerms(q) {
		if utf8.RuneCountInString(r) >= 3 {
			runs = append(runs, r)
		}
	}
	slices.SortStableFunc(runs, func(a, b string) int { return len(b) - len(a) })
	return runs[:min(len(runs), maxSearchRuns)]
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
