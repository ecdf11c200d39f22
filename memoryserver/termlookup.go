package memoryserver

import (
	"strings"
	"unicode/utf8"
)

// A termLookup finds the terms of the substring index that one run of
// letters and digits of a query can lie in. A text containing the query
// contains each run inside one of its terms, and the characters around the
// run in the query, which end terms, say which part of that term it is.
type termLookup struct {
	run  string
	kind lookupKind
}

type lookupKind int

const (
	// termWhole: the run has a separator on both sides in the query, so it
	// is a whole term of the text ("5012" in "observation 5012 about").
	termWhole lookupKind = iota
	// termPrefix: the run ends the query after a separator, so it begins a
	// term ("abo" in "5012 abo").
	termPrefix
	// termSuffix: the run starts the query before a separator, so it ends a
	// term ("tion" in "tion 5012").
	termSuffix
	// termInside: the run is the whole query, so it is anywhere in a term.
	termInside
)

// termLookups returns the lookups of the runs of q (lower-cased).
func termLookups(q string) []termLookup {
	runs := strings.FieldsFunc(q, notWordRune)
	if len(runs) == 0 {
		return nil
	}
	first, _ := utf8.DecodeRuneInString(q)
	last, _ := utf8.DecodeLastRuneInString(q)
	openStart, openEnd := !notWordRune(first), !notWordRune(last)
	out := make([]termLookup, len(runs))
	for i, r := range runs {
		atStart, atEnd := i == 0 && openStart, i == len(runs)-1 && openEnd
		kind := termWhole
		switch {
		case atStart && atEnd:
			kind = termInside
		case atStart:
			kind = termSuffix
		case atEnd:
			kind = termPrefix
		}
		out[i] = termLookup{r, kind}
	}
	return out
}

// maxLookupTerms bounds the terms one lookup of a query with several runs
// may return to narrow the search: a run that lies in more terms (a short
// prefix, a common trigram) would cost more to look up than it saves, and
// is left to the exact check.
const maxLookupTerms = 512

// maxNarrowingTerms bounds the terms of a lookup that only narrows a search
// other lookups already narrowed.
const maxNarrowingTerms = 8

// lookupTerms returns the ids of the terms l's run can lie in, at most limit
// of them (-1: all); ok is false when the lookup cannot narrow the search:
// a run shorter than a trigram inside or at the end of a term, or one found
// in more than limit terms.
func (g *graphTx) lookupTerms(l termLookup, limit int) (ids []int64, ok bool, err error) {
	grams := utf8.RuneCountInString(l.run) >= 3
	over := limit
	if limit >= 0 {
		over = limit + 1
	}
	switch l.kind {
	case termWhole:
		ids, err = g.ids("SELECT id FROM terms WHERE term = ?", l.run)
	case termPrefix:
		// Terms sort by their UTF-8 bytes, which sort like code points, and
		// U+10FFFF (not a letter) sorts after any character that can follow.
		ids, err = g.ids(`SELECT id FROM terms WHERE term >= ?1 AND term < ?1 || char(1114111) LIMIT ?2`,
			l.run, over)
	case termSuffix:
		if !grams {
			return nil, false, nil
		}
		ids, err = g.ids(`SELECT id FROM terms WHERE substr(term, -?2) = ?1
			AND id IN (SELECT rowid FROM term_grams WHERE term_grams MATCH ?3) LIMIT ?4`,
			l.run, utf8.RuneCountInString(l.run), ftsString(l.run), over)
	case termInside:
		if !grams {
			return nil, false, nil
		}
		// instr compares code points exactly, like strings.Contains.
		ids, err = g.ids(`SELECT id FROM terms WHERE instr(term, ?1) > 0
			AND id IN (SELECT rowid FROM term_grams WHERE term_grams MATCH ?2) LIMIT ?3`,
			l.run, ftsString(l.run), over)
	}
	if err != nil || (limit >= 0 && len(ids) > limit) {
		return nil, false, err
	}
	return ids, true, nil
}

// anyTerm is an FTS5 query for the documents of text_postings holding one
// of the terms ids.
func anyTerm(ids []int64) string {
	tokens := make([]string, len(ids))
	for k, id := range ids {
		tokens[k] = postingToken(id)
	}
	return "(" + strings.Join(tokens, " OR ") + ")"
}
