package main

import (
	"encoding/json"
	"fmt"
)

// toolCall returns a JSON-RPC tools/call request body.
func toolCall(tool string, args any) ([]byte, error) {
	return json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      1,
		"method":  "tools/call",
		"params":  map[string]any{"name": tool, "arguments": args},
	})
}

// entityName is the name of the i-th seeded entity.
func entityName(i int) string { return fmt.Sprintf("entity-%d", i) }

// seedCalls build a graph of n entities with three observations each and a
// relation from each entity to the next.
func seedCalls(n int) ([][]byte, error) {
	entities := make([]map[string]any, n)
	relations := make([]map[string]any, n-1)
	for i := range n {
		entities[i] = map[string]any{
			"name":         entityName(i),
			"entityType":   "benchmark",
			"observations": []string{fmt.Sprintf("observation %d.a", i), fmt.Sprintf("observation %d.b", i), fmt.Sprintf("observation %d.c", i)},
		}
		if i > 0 {
			relations[i-1] = map[string]any{"from": entityName(i - 1), "to": entityName(i), "relationType": "precedes"}
		}
	}
	ents, err := toolCall("create_entities", map[string]any{"entities": entities})
	if err != nil {
		return nil, err
	}
	rels, err := toolCall("create_relations", map[string]any{"relations": relations})
	if err != nil {
		return nil, err
	}
	return [][]byte{ents, rels}, nil
}

// measuredTool is the tool of the measured request.
const measuredTool = "open_nodes"

// measuredCall is the request every target gets: open_nodes on three
// entities, a read that returns them and the relations among them. Under
// 2026-07-28 its params carry the per-request _meta envelope.
func measuredCall(protocol string) ([]byte, error) {
	params := map[string]any{"name": measuredTool, "arguments": map[string]any{"names": []string{entityName(0), entityName(1), entityName(2)}}}
	if protocol == modernProtocol {
		params["_meta"] = map[string]any{
			"io.modelcontextprotocol/protocolVersion":    modernProtocol,
			"io.modelcontextprotocol/clientInfo":         map[string]string{"name": "gatewaybench", "version": "1"},
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		}
	}
	return json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
}
