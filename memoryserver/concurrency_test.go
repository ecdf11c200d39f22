package memoryserver

import (
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentCreatesAllKept(t *testing.T) {
	ts := newTestServer(t, Options{})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent(fmt.Sprintf("e%03d", i), "t", "o")}})
		})
	}
	wg.Wait()
	if g := ts.graphOf(t); len(g.Entities) != 100 {
		t.Errorf("kept %d of 100 entities", len(g.Entities))
	}
}
