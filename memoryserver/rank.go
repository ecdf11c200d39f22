package memoryserver

import (
	"cmp"
	"slices"
)

// The ranking of search results: bm25 over the texts that hold every word
// of the query as a whole word, scored here as the substring search reads
// the matching texts (a word index beside the substring index cost a
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

// A ranker scores the matching texts of one search as they are read, and
// keeps only the scores of those holding every word, not the texts.
type ranker struct {
	words   []string // lower-cased, see wordsOf
	texts   int      // texts added
	length  int      // their words, in all
	holding []scoredText
}

// scoredText is what bm25 needs of a text holding every query word.
type scoredText struct {
	doc    int64
	length int       // words in the text
	freq   []float64 // weighted count of each query word
}

func newRanker(query string) *ranker {
	return &ranker{words: wordsOf(query)}
}

// add scores one matching text.
func (r *ranker) add(t docText) {
	if len(r.words) == 0 {
		return
	}
	s := scoredText{doc: t.doc, freq: make([]float64, len(r.words))}
	for _, col := range [...]struct {
		text   string
		weight float64
	}{{t.name, nameWeight}, {t.entityType, typeWeight}, {t.observ, observationWeight}} {
		for _, w := range wordsOf(col.text) {
			s.length++
			for k, qw := range r.words {
				if w == qw {
					s.freq[k] += col.weight
				}
			}
		}
	}
	r.texts++
	r.length += s.length
	if !slices.Contains(s.freq, 0) {
		r.holding = append(r.holding, s)
	}
}

// ranked returns the documents added that hold every word of the query,
// best first; ties go to the lower document id, so entity names and types
// come before observations.
func (r *ranker) ranked() []int64 {
	if len(r.holding) == 0 {
		return nil
	}
	avgLength := max(float64(r.length)/float64(r.texts), 1)
	score := func(s scoredText) float64 {
		norm := bm25K1 * (1 - bm25B + bm25B*float64(s.length)/avgLength)
		total := 0.0
		for _, f := range s.freq {
			total += f * (bm25K1 + 1) / (f + norm)
		}
		return total
	}
	type ranked struct {
		doc   int64
		score float64
	}
	byScore := make([]ranked, len(r.holding))
	for i, s := range r.holding {
		byScore[i] = ranked{s.doc, score(s)}
	}
	slices.SortFunc(byScore, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.doc, b.doc))
	})
	docs := make([]int64, len(byScore))
	for i, s := range byScore {
		docs[i] = s.doc
	}
	return docs
}
