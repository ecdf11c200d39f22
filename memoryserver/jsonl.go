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

// decodeJSONL reads a file in the reference server's format, until ctx is
// done, and passes its
// entities and its relations, in file order, to emitEntities and
// emitRelations in chunks of up to importChunk as it goes (a chunk is not
// used again). Each line is decoded once and checked against the tool's
// schema before its fields are taken.
func decodeJSONL(ctx context.Context, r io.Reader, emitEntities func([]entity) error, emitRelations func([]relation) error) error {
	entitySchema := toolSchemas["create_entities"].Properties["entities"].Items
	relationSchema := toolSchemas["create_relations"].Properties["relations"].Items
	var entities []entity
	var relations []relation
	// flush emits what is buffered: at most one of the two buffers holds
	// lines, those since the last line of the other kind.
	flush := func() (err error) {
		switch {
		case len(entities) > 0:
			err, entities = emitEntities(entities), nil
		case len(relations) > 0:
			err, relations = emitRelations(relations), nil
		}
		return err
	}
	dec := json.NewDecoder(r)
	dec.UseNumber() // as schema.validate decodes
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return flush()
		} else if err != nil {
			return fmt.Errorf("import: item %d: %w", n, err)
		}
		item, _ := v.(map[string]any) // a non-object fails the type switch below
		var err error
		switch item["type"] {
		case "entity":
			if err = entitySchema.check(v, ""); err == nil && len(relations) > 0 {
				err = flush()
			}
			if err == nil {
				entities = append(entities, entity{Name: item["name"].(string), EntityType: item["entityType"].(string),
					Observations: stringItems(item["observations"])})
			}
		case "relation":
			if err = relationSchema.check(v, ""); err == nil && len(entities) > 0 {
				err = flush()
			}
			if err == nil {
				relations = append(relations, relation{From: item["from"].(string), To: item["to"].(string),
					RelationType: item["relationType"].(string)})
			}
		default:
			err = errors.New(`want an object with "type" "entity" or "relation"`)
		}
		if err == nil && len(entities)+len(relations) == importChunk {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("import: item %d: %w", n, err)
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
