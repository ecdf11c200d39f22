package memoryserver

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
)

// toolsJSON is the tools/list result: the reference server's nine tools with
// their exact names, descriptions, annotations and schemas, extended only by
// optional inputs, declared output fields and two new tools.
//
//go:embed tools.json
var toolsJSON []byte

// toolOutput is what a tool returns on success.
type toolOutput struct {
	// structured becomes structuredContent.
	structured any
	// text becomes the text content: strings as they are, anything else as
	// two-space-indented JSON, like the reference's JSON.stringify(x, null, 2).
	// Nil means structured itself, which is then encoded only once.
	text any
}

// toolFunc runs one tool with arguments already validated against its schema.
type toolFunc func(ctx context.Context, st *store, owner string, args json.RawMessage) (toolOutput, error)

// toolFuncs implements every tool listed in tools.json.
var toolFuncs = map[string]toolFunc{
	"create_entities": writeTool(func(g *graphTx, a struct{ Entities []entity }) (toolOutput, error) {
		created, err := g.createEntities(a.Entities)
		return toolOutput{map[string]any{"entities": created}, created}, err
	}),
	"create_relations": writeTool(func(g *graphTx, a struct{ Relations []relation }) (toolOutput, error) {
		created, err := g.createRelations(a.Relations)
		return toolOutput{map[string]any{"relations": created}, created}, err
	}),
	"add_observations": writeTool(func(g *graphTx, a struct{ Observations []observationAdd }) (toolOutput, error) {
		results, err := g.addObservations(a.Observations)
		return toolOutput{map[string]any{"results": results}, results}, err
	}),
	"delete_entities": writeTool(func(g *graphTx, a struct{ EntityNames []string }) (toolOutput, error) {
		return done("Entities deleted successfully"), g.deleteEntities(a.EntityNames)
	}),
	"delete_observations": writeTool(func(g *graphTx, a struct{ Deletions []observationDelete }) (toolOutput, error) {
		return done("Observations deleted successfully"), g.deleteObservations(a.Deletions)
	}),
	"delete_relations": writeTool(func(g *graphTx, a struct{ Relations []relation }) (toolOutput, error) {
		return done("Relations deleted successfully"), g.deleteRelations(a.Relations)
	}),
	"read_graph": readTool(func(g *graphTx, a pageArgs) (toolOutput, error) {
		return graphOutput(g.readGraph(a))
	}),
	"search_nodes": readTool(func(g *graphTx, a struct {
		Query string
		pageArgs
	}) (toolOutput, error) {
		return graphOutput(g.searchNodes(a.Query, a.pageArgs))
	}),
	"open_nodes": readTool(func(g *graphTx, a struct{ Names []string }) (toolOutput, error) {
		return graphOutput(g.openNodes(a.Names))
	}),
	"rename_entity": writeTool(func(g *graphTx, a struct{ OldName, NewName string }) (toolOutput, error) {
		return entityOutput(g.renameEntity(a.OldName, a.NewName))
	}),
	"replace_observation": writeTool(func(g *graphTx, a struct{ EntityName, OldObservation, NewObservation string }) (toolOutput, error) {
		return entityOutput(g.replaceObservation(a.EntityName, a.OldObservation, a.NewObservation))
	}),
}

// writeTool runs fn in a write transaction with its arguments decoded as A.
func writeTool[A any](fn func(*graphTx, A) (toolOutput, error)) toolFunc {
	return txTool((*store).update, fn)
}

// readTool runs fn in a read transaction with its arguments decoded as A.
func readTool[A any](fn func(*graphTx, A) (toolOutput, error)) toolFunc {
	return txTool((*store).view, fn)
}

// txTool decodes a tool's arguments as A and runs fn in a transaction of
// the kind run starts.
func txTool[A any](run func(*store, context.Context, string, func(*graphTx) error) error,
	fn func(*graphTx, A) (toolOutput, error)) toolFunc {
	return func(ctx context.Context, st *store, owner string, args json.RawMessage) (out toolOutput, err error) {
		var a A
		if err := json.Unmarshal(args, &a); err != nil {
			return out, err
		}
		err = run(st, ctx, owner, func(g *graphTx) (err error) {
			out, err = fn(g, a)
			return err
		})
		return out, err
	}
}

func done(message string) toolOutput {
	return toolOutput{map[string]any{"success": true, "message": message}, message}
}

func graphOutput(g graph, err error) (toolOutput, error) {
	return toolOutput{structured: g}, err
}

func entityOutput(e entity, err error) (toolOutput, error) {
	return toolOutput{map[string]any{"entity": e}, e}, err
}

// toolSchemas maps each tool name to its input schema, parsed from toolsJSON.
var toolSchemas = func() map[string]*schema {
	var list struct {
		Tools []struct {
			Name        string  `json:"name"`
			InputSchema *schema `json:"inputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(toolsJSON, &list); err != nil {
		panic(fmt.Sprintf("memoryserver: tools.json: %v", err))
	}
	schemas := make(map[string]*schema, len(list.Tools))
	for _, t := range list.Tools {
		if toolFuncs[t.Name] == nil {
			panic("memoryserver: tools.json lists unimplemented tool " + t.Name)
		}
		schemas[t.Name] = t.InputSchema
	}
	return schemas
}()
