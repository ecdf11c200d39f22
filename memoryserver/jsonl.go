package memoryserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The reference server's file format (JSONL): one entity or relation per
// line, entities first, each in creation order, fields in this order, lines
// joined by "\n" with no newline at the end.
type (
	entityLine struct {
		Type         string   `json:"type"`
		Name         string   `json:"name"`
		EntityType   string   `json:"entityType"`
		Observations []string `json:"observations"`
	}
	relationLine struct {
		Type         string `json:"type"`
		From         string `json:"from"`
		To           string `json:"to"`
		RelationType string `json:"relationType"`
	}
)

// Export writes owner's graph ("" is the default graph) in the reference
// server's JSONL format, byte for byte as the reference would save it.
func (s *Server) Export(ctx context.Context, w io.Writer, owner string) error {
	var g graph
	err := s.store.view(ctx, owner, func(tx *graphTx) (err error) {
		g, err = tx.readGraph(pageArgs{})
		return err
	})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	sep := ""
	emit := func(v any) error {
		b, err := marshalJS(v, "")
		if err == nil {
			_, err = bw.WriteString(sep + string(b))
		}
		sep = "\n"
		return err
	}
	for _, e := range g.Entities {
		if err := emit(entityLine{"entity", e.Name, e.EntityType, e.Observations}); err != nil {
			return err
		}
	}
	for _, r := range g.Relations {
		if err := emit(relationLine{"relation", r.From, r.To, r.RelationType}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// decodeJSONL reads a file in the reference server's format, passing its
// entities to emit in chunks of up to importChunk as it goes (a chunk is
// not used again), and returns its relations.
func decodeJSONL(r io.Reader, emit func([]entity) error) ([]relation, error) {
	entitySchema := toolSchemas["create_entities"].Properties["entities"].Items
	relationSchema := toolSchemas["create_relations"].Properties["relations"].Items
	var entities []entity
	var relations []relation
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			if len(entities) > 0 {
				return relations, emit(entities)
			}
			return relations, nil
		} else if err != nil {
			return nil, fmt.Errorf("import: item %d: %w", n, err)
		}
		var item struct {
			Type string `json:"type"`
		}
		json.Unmarshal(raw, &item) // a non-object fails the type switch below
		var err error
		switch item.Type {
		case "entity":
			var e entity
			if err = entitySchema.validate(raw); err == nil {
				err = json.Unmarshal(raw, &e)
				entities = append(entities, entity{Name: e.Name, EntityType: e.EntityType, Observations: e.Observations})
			}
			if err == nil && len(entities) == importChunk {
				err = emit(entities)
				entities = nil
			}
		case "relation":
			var rel relation
			if err = relationSchema.validate(raw); err == nil {
				err = json.Unmarshal(raw, &rel)
				relations = append(relations, relation{From: rel.From, To: rel.To, RelationType: rel.RelationType})
			}
		default:
			err = errors.New(`want an object with "type" "entity" or "relation"`)
		}
		if err != nil {
			return nil, fmt.Errorf("import: item %d: %w", n, err)
		}
	}
}
