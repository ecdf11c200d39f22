package memoryserver

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// importChunk is how many entities Import indexes at a time: enough to
// amortize each indexing statement, few enough to bound memory.
const importChunk = 1000

// Import reads a file in the reference server's JSONL format into owner's
// graph ("" is the default graph) in one transaction: all of it or, on any
// error, none of it. Entities that exist already keep their type and gain the
// new observations; repeated observations and relations are stored once. An
// item that create_entities or create_relations would refuse is an error, and
// so is a relation to an entity that is not in the file or the graph, unless
// opts (at most one) sets ImportOptions.SkipDangling.
func (s *Server) Import(ctx context.Context, r io.Reader, owner string, opts ...ImportOptions) error {
	if len(opts) > 1 {
		return errors.New("import: pass at most one ImportOptions")
	}
	var opt ImportOptions
	if len(opts) == 1 {
		opt = opts[0]
	}
	entities, relations, err := decodeJSONL(r)
	if err != nil {
		return err
	}
	var skipped []relation
	err = s.store.update(ctx, owner, func(g *graphTx) error {
		for i, e := range entities {
			created, err := g.createEntities([]entity{e})
			if err == nil && len(created) == 0 {
				_, err = g.addObservations([]observationAdd{{e.Name, e.Observations}})
			}
			if err == nil && (i+1)%importChunk == 0 {
				err = g.reindexStale()
			}
			if err != nil {
				return err
			}
		}
		kept, dangling, err := g.splitDangling(relations)
		if err != nil {
			return err
		}
		if len(dangling) > 0 && opt.SkipDangling == nil {
			return danglingError(dangling)
		}
		skipped = dangling
		_, err = g.createRelations(kept)
		return err
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

// splitDangling separates the relations whose endpoints both exist from
// those with a missing endpoint.
func (g *graphTx) splitDangling(relations []relation) (kept, dangling []relation, err error) {
	for _, rel := range relations {
		ok := true
		for _, name := range []string{rel.From, rel.To} {
			var found bool
			if _, found, err = g.entityID(name); err != nil {
				return nil, nil, err
			}
			ok = ok && found
		}
		if ok {
			kept = append(kept, rel)
		} else {
			dangling = append(dangling, rel)
		}
	}
	return kept, dangling, nil
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
