package memoryserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
)

// ImportOptions adjust Import. The zero value is the strict default.
type ImportOptions struct {
	// SkipDangling, when set, makes Import leave out every relation whose
	// from or to entity is neither in the file nor in the graph (the
	// reference server stored such relations), import everything else, and
	// then call SkipDangling once for each relation left out, in file
	// order. Nil (the default) refuses the whole file instead, so that
	// nothing is lost without notice.
	SkipDangling func(from, relationType, to string)
}

// errImportStopped ends the decoding of a file whose import failed.
var errImportStopped = errors.New("import stopped")

// importChunk is how many entities or relations Import writes at a time
// (their postings go in larger batches, importIndexChunk): enough to
// amortize each statement, few enough to bound memory.
const importChunk = 1000

// Import reads a file in the reference server's JSONL format into owner's
// graph ("" is the default graph) in one transaction: all of it or, on any
// error, none of it. Entities that exist already keep their type and gain the
// new observations; repeated observations and relations are stored once. An
// item that create_entities or create_relations would refuse is an error, and
// so is a relation to an entity that is not in the file or the graph, unless
// opts (at most one) sets ImportOptions.SkipDangling. It returns once ctx
// is done, even while a read of r blocks; the reading stops at the next
// line it decodes, or when that read returns (close r to end it), and r
// must not be read by anything else until then.
func (s *Server) Import(ctx context.Context, r io.Reader, owner string, opts ...ImportOptions) error {
	if len(opts) > 1 {
		return errors.New("import: pass at most one ImportOptions")
	}
	var opt ImportOptions
	if len(opts) == 1 {
		opt = opts[0]
	}
	// The file is decoded, validated and split into terms on another
	// goroutine while the chunks decoded so far are written: that is a
	// fifth of an import's work.
	batches := make(chan importBatch, 2)
	decoded := make(chan error, 1)
	// The decoder stops at its next line once Import has returned; a read
	// of r that blocks (a stalled pipe) holds it until r returns, but not
	// Import, which ends with ctx.
	decoding, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		defer close(batches)
		send := func(b importBatch) error {
			select {
			case batches <- b:
				return nil
			case <-decoding.Done():
				return errImportStopped
			}
		}
		decoded <- decodeJSONL(decoding, r,
			func(chunk []entity) error { return send(importBatch{entities: splitTerms(chunk)}) },
			func(chunk []relation) error { return send(importBatch{relations: chunk}) })
	}()
	var skipped []relation
	err := s.store.updateUnchecked(ctx, owner, func(g *graphTx) error {
		w, err := newImportWriter(g)
		if err != nil {
			return err
		}
		for b := range receive(ctx, batches) {
			if b.relations != nil {
				err = w.relate(b.relations)
			} else {
				err = w.write(b.entities)
			}
			if err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := <-decoded; err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
		kept, dangling, err := g.splitDangling(w.waiting, w.ids)
		if err != nil {
			return err
		}
		if len(dangling) > 0 && opt.SkipDangling == nil {
			return danglingError(dangling)
		}
		skipped = dangling
		for chunk := range slices.Chunk(kept, importChunk) {
			if _, err := g.insertRelations(chunk, w.ids); err != nil {
				return err
			}
		}
		return nil
	})
	var te *toolError
	if errors.As(err, &te) {
		return fmt.Errorf("import: %s", te.msg)
	}
	if err != nil {
		return err
	}
	for _, rel := range skipped {
		opt.SkipDangling(rel.From, rel.RelationType, rel.To)
	}
	return nil
}

// receive yields the values sent on ch until it is closed or ctx is done.
func receive[T any](ctx context.Context, ch <-chan T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			select {
			case <-ctx.Done():
				return
			case v, ok := <-ch:
				if !ok || !yield(v) {
					return
				}
			}
		}
	}
}

// importBatch is a chunk of a file's entities or one of its relations.
type importBatch struct {
	entities  []importedEntity
	relations []relation
}

// splitDangling separates the relations whose endpoints both exist from
// those with a missing endpoint, and adds the ids of the endpoints not in
// ids yet to it.
func (g *graphTx) splitDangling(relations []relation, ids map[string]int64) (kept, dangling []relation, err error) {
	for chunk := range slices.Chunk(relations, importChunk) {
		if err := g.lookUpEndpoints(chunk, ids); err != nil {
			return nil, nil, err
		}
		for _, rel := range chunk {
			if endpointsKnown(rel, ids) {
				kept = append(kept, rel)
			} else {
				dangling = append(dangling, rel)
			}
		}
	}
	return kept, dangling, nil
}

// lookUpEndpoints adds to ids the ids of the relations' endpoints that are
// not in it yet and exist in the graph.
func (g *graphTx) lookUpEndpoints(relations []relation, ids map[string]int64) error {
	var names []string
	for _, rel := range relations {
		for _, name := range []string{rel.From, rel.To} {
			if _, ok := ids[name]; !ok {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	found, err := g.entityIDs(names)
	maps.Copy(ids, found)
	return err
}

// endpointsKnown reports whether both endpoints of rel have ids.
func endpointsKnown(rel relation, ids map[string]int64) bool {
	_, from := ids[rel.From]
	_, to := ids[rel.To]
	return from && to
}

// danglingError refuses an import for its dangling relations and says what
// to do about them.
func danglingError(dangling []relation) error {
	r := dangling[0]
	return toolErrorf("%d relation(s) point at entities that are neither in the file nor in the graph, "+
		"the first: %s -[%s]-> %s; nothing was imported. Add the missing entities to the file, "+
		"or import with --skip-dangling (ImportOptions.SkipDangling) to leave those relations out",
		len(dangling), r.From, r.RelationType, r.To)
}
