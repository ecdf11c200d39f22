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
// not used again), and returns its relations. Each line is decoded once and
// checked against the tool's schema before its fields are taken.
func decodeJSONL(r io.Reader, emit func([]entity) error) ([]relation, error) {
	entitySchema := toolSchemas["create_entities"].Properties["entities"].Items
	relationSchema := toolSchemas["create_relations"].Properties["relations"].Items
	var entities []entity
	var relations []relation
	dec := json.NewDecoder(r)
	dec.UseNumber() // as schema.validate decodes
	for n := 1; ; n++ {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			if len(entities) > 0 {
				return relations, emit(entities)
			}
			return relations, nil
		} else if err != nil {
			return nil, fmt.Errorf("import: item %d: %w", n, err)
		}
		item, _ := v.(map[string]any) // a non-object fails the type switch below
		var err error
		switch item["type"] {
		case "entity":
			if err = entitySchema.check(v, ""); err == nil {
				entities = append(entities, entity{Name: item["name"].(string), EntityType: item["entityType"].(string),
					Observations: stringItems(item["observations"])})
			}
			if err == nil && len(entities) == importChunk {
				err = emit(entities)
				entities = nil
			}
		case "relation":
			if err = relationSchema.check(v, ""); err == nil {
				relations = append(relations, relation{From: item["from"].(string), To: item["to"].(string),
					RelationType: item["relationType"].(string)})
			}
		default:
			err = errors.New(`want an object with "type" "entity" or "relation"`)
		}
		if err != nil {
			return nil, fmt.Errorf("import: item %d: %w", n, err)
		}
	}
}

// stringItems converts a JSON array the schema has checked holds only strings.
func stringItems(v any) []string {
	items, _ := v.([]any)
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = item.(string)
	}
	return out
}
