package memoryserver

import (
	"slices"
	"testing"
)

// TestRanker checks the parts of the ranking: only texts holding every
// query word as a whole word are ranked; a name outranks a type outranks an
// observation; more occurrences and a shorter text rank higher; ties go to
// the lower document id.
func TestRanker(t *testing.T) {
	texts := []docText{
		{doc: -1, name: "Green Tea", entityType: "drink"},
		{doc: -2, name: "Shop", entityType: "green tea shop"},
		{doc: 3, observ: "likes green tea"},
		{doc: 4, observ: "likes green tea, drinks green tea daily at the office and at home"},
		{doc: 5, observ: "green tea green tea"},
		{doc: 6, observ: "greenish tea"},       // "green" only inside a word
		{doc: 7, observ: "likes green tea"},    // ties with 3
		{doc: 8, observ: "green and red only"}, // no "tea"
	}
	r := newRanker("Green TEA")
	for _, tx := range texts {
		r.add(tx)
	}
	if got, want := r.ranked(), []int64{-1, -2, 5, 3, 7, 4}; !slices.Equal(got, want) {
		t.Errorf("ranked = %v, want %v", got, want)
	}
	r = newRanker("—")
	for _, tx := range texts {
		r.add(tx)
	}
	if got := r.ranked(); got != nil {
		t.Errorf("ranked without words = %v, want nothing ranked", got)
	}
}
