package memoryserver

import (
	"cmp"
	"slices"
	"strings"
)

// The ranking of search results: bm25 over the texts that hold every word
// of the query as a whole word, computed here from the texts the substring
// search has already read (a word index beside the substring index cost a
// quarter of every write and of an import). Column weights as in a
// weighted bm25: a word in a name counts 10 times, in a type 3 times, in an
// observation once. Every ranked text holds every query word, so the
// inverse document frequency, which only weighs words against each other,
// is left out, and the average text length is that of the matching texts.
const (
	bm25K1 = 1.2
	bm25B  = 0.75

	nameWeight, typeWeight, observationWeight = 10, 3, 1
)

// rankDocs returns the documents among texts that hold every word of words
// (lower-cased, see wordsOf), best first; ties go to the lower document id,
// so entity names and types come before observations.
func rankDocs(texts map[int64]docText, words []string) []int64 {
	if len(words) == 0 || len(texts) == 0 {
		return nil
	}
	type scored struct {
		doc   int64
		score float64
	}
	type counted struct {
		doc    int64
		length int
		freq   []float64 // weighted count of each word
	}
	var holding []counted
	total := 0
	for doc, t := range texts {
		c := counted{doc: doc, freq: make([]float64, len(words))}
		for _, col := range [...]struct {
			text   string
			weight float64
		}{{t.name, nameWeight}, {t.entityType, typeWeight}, {t.observ, observationWeight}} {
			for _, w := range wordsOf(col.text) {
				c.length++
				for k, qw := range words {
					if w == qw {
						c.freq[k] += col.weight
					}
				}
			}
		}
		total += c.length
		if !slices.Contains(c.freq, 0) {
			holding = append(holding, c)
		}
	}
	avgLength := float64(total) / float64(len(texts))
	ranked := make([]scored, len(holding))
	for i, c := range holding {
		norm := bm25K1 * (1 - bm25B + bm25B*float64(c.length)/max(avgLength, 1))
		s := 0.0
		for _, f := range c.freq {
			s += f * (bm25K1 + 1) / (f + norm)
		}
		ranked[i] = scored{c.doc, s}
	}
	slices.SortFunc(ranked, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.doc, b.doc))
	})
	docs := make([]int64, len(ranked))
	for i, r := range ranked {
		docs[i] = r.doc
	}
	return docs
}

// wordsOf splits text into its lower-cased words: maximal runs of letters
// and digits, as the substring index's terms.
func wordsOf(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), notWordRune)
}
