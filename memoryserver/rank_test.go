package memoryserver

import (
	"slices"
	"testing"
)

// TestRankDocs checks the parts of the ranking: only texts holding every
// query word as a whole word are ranked; a name outranks a type outranks an
// observation; more occurrences and a shorter text rank higher; ties go to
// the lower document id.
func TestRankDocs(t *testing.T) {
	texts := map[int64]docText{
		-1: {doc: -1, name: "Green Tea", entityType: "drink"},
		-2: {doc: -2, name: "Shop", entityType: "green tea shop"},
		3:  {doc: 3, observ: "likes green tea"},
		4:  {doc: 4, observ: "likes green tea, drinks green tea daily at the office and at home"},
		5:  {doc: 5, observ: "green tea green tea"},
		6:  {doc: 6, observ: "greenish tea"},       // "green" only inside a word
		7:  {doc: 7, observ: "likes green tea"},    // ties with 3
		8:  {doc: 8, observ: "green and red only"}, // no "tea"
	}
	got := rankDocs(texts, wordsOf("Green TEA"))
	want := []int64{-1, -2, 5, 3, 7, 4}
	if !slices.Equal(got, want) {
		t.Errorf("rankDocs = %v, want %v", got, want)
	}
	if got := rankDocs(texts, nil); got != nil {
		t.Errorf("rankDocs without words = %v, want nothing ranked", got)
	}
}
