package memoryserver

import (
	"context"
	"encoding/json"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"go.uber.org/zap"
)

// graphURI is the reference server's one resource: the whole graph as JSON.
const graphURI = "memory://knowledge-graph"

// resourceList is the resources/list result.
var resourceList = map[string]any{"resources": []map[string]string{{
	"uri":         graphURI,
	"name":        "knowledge-graph",
	"title":       "Knowledge Graph",
	"description": "The full knowledge graph with all entities and relations",
	"mimeType":    "application/json",
}}}

func (s *Server) readResource(ctx context.Context, owner string, params json.RawMessage) (any, *jsonrpc.Error) {
	var p struct {
		URI *string `json:"uri"`
	}
	if err := decodeParams(params, &p); err != nil || p.URI == nil {
		return nil, jsonrpc.Errorf(jsonrpc.InvalidParams, `Invalid params: resources/read needs {"uri": string}`)
	}
	if *p.URI != graphURI {
		return nil, jsonrpc.Errorf(jsonrpc.InvalidParams, "Resource %s not found", *p.URI)
	}
	var g graph
	err := s.store.view(ctx, owner, func(tx *graphTx) (err error) {
		g, err = tx.readGraph(pageArgs{})
		return err
	})
	var text []byte
	if err == nil {
		text, err = marshalJS(g, "  ")
	}
	if err != nil {
		s.log.Error("reading resource failed", zap.Error(err))
		return nil, jsonrpc.Errorf(jsonrpc.InternalError, "Internal error: reading %s failed", graphURI)
	}
	return map[string]any{"contents": []map[string]string{{"uri": graphURI, "mimeType": "application/json", "text": string(text)}}}, nil
}
