package memoryserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"go.uber.org/zap"
)

// protocolVersions are the MCP versions this server speaks, newest first.
var protocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// serverInfo names this implementation in the initialize result.
var serverInfo = map[string]string{"name": "memoryserver", "title": "mcpgate memory server", "version": "1.0.0"}

// method handles one JSON-RPC method; a nil error means success.
type method func(s *Server, ctx context.Context, owner string, params json.RawMessage) (any, *jsonrpc.Error)

// methods are the MCP methods served; anything else is MethodNotFound.
var methods = map[string]method{
	"initialize":               (*Server).initialize,
	"ping":                     constant(struct{}{}),
	"tools/list":               constant(json.RawMessage(toolsJSON)),
	"tools/call":               (*Server).callTool,
	"resources/list":           constant(resourceList),
	"resources/templates/list": constant(map[string][]any{"resourceTemplates": {}}),
	"resources/read":           (*Server).readResource,
}

// constant is a method whose result never changes.
func constant(result any) method {
	return func(*Server, context.Context, string, json.RawMessage) (any, *jsonrpc.Error) { return result, nil }
}

// respond answers every message of a payload that needs an answer: requests
// get a response, invalid elements an error; notifications and responses from
// the peer get none (MCP notifications to a server need no action here).
func (s *Server) respond(ctx context.Context, owner string, p jsonrpc.Payload) []jsonrpc.Response {
	var out []jsonrpc.Response
	for _, m := range p.Messages {
		switch {
		case m.Err != nil:
			out = append(out, jsonrpc.Response{JSONRPC: jsonrpc.Version, ID: m.ID, Error: m.Err})
		case m.Request != nil && !m.Request.IsNotification():
			out = append(out, s.call(ctx, owner, m.Request))
		}
	}
	return out
}

// call runs one request, of either era (see modernRequest).
func (s *Server) call(ctx context.Context, owner string, req *jsonrpc.Request) jsonrpc.Response {
	modern, refused := modernRequest(req)
	if refused != nil {
		return *refused
	}
	m, ok := methods[req.Method]
	if modern && req.Method == "server/discover" {
		m, ok = constant(discoverResult), true
	}
	if !ok {
		return jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found: "+req.Method)
	}
	result, rpcErr := m(s, ctx, owner, req.Params)
	if rpcErr != nil {
		return jsonrpc.Response{JSONRPC: jsonrpc.Version, ID: req.ID, Error: rpcErr}
	}
	resp, err := jsonrpc.NewResult(req.ID, result)
	if err == nil && modern {
		resp.Result, err = modernResult(req.Method, resp.Result)
	}
	if err != nil {
		return s.internal(req.Method, err, req.ID)
	}
	return resp
}

// internal logs err and returns a generic InternalError response.
func (s *Server) internal(what string, err error, id json.RawMessage) jsonrpc.Response {
	s.log.Error("request failed", zap.String("method", what), zap.Error(err))
	return jsonrpc.NewError(id, jsonrpc.InternalError, "Internal error")
}

// decodeParams decodes params (an object, or absent) into v.
func decodeParams(params json.RawMessage, v any) *jsonrpc.Error {
	if params == nil {
		return nil
	}
	if params[0] != '{' || json.Unmarshal(params, v) != nil {
		return jsonrpc.Errorf(jsonrpc.InvalidParams, "Invalid params: expected an object with the fields this method takes")
	}
	return nil
}

func (s *Server) initialize(_ context.Context, _ string, params json.RawMessage) (any, *jsonrpc.Error) {
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	version := protocolVersions[0]
	if slices.Contains(protocolVersions, p.ProtocolVersion) {
		version = p.ProtocolVersion
	}
	return map[string]any{
		"protocolVersion": version,
		// Plain HTTP cannot push, so no listChanged or subscribe.
		"capabilities": map[string]any{"tools": struct{}{}, "resources": struct{}{}},
		"serverInfo":   serverInfo,
	}, nil
}

// callResult is a tools/call result.
type callResult struct {
	Content           []textContent `json:"content"`
	StructuredContent any           `json:"structuredContent,omitempty"`
	IsError           bool          `json:"isError,omitempty"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func errorResult(msg string) callResult {
	return callResult{Content: []textContent{{"text", msg}}, IsError: true}
}

// callTool runs a tool. Like the reference server, an unknown tool, invalid
// arguments and failures the caller caused come back as a result with isError
// true; only malformed params are a JSON-RPC error.
func (s *Server) callTool(ctx context.Context, owner string, params json.RawMessage) (any, *jsonrpc.Error) {
	var p struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := decodeParams(params, &p); err != nil || p.Name == nil {
		return nil, jsonrpc.Errorf(jsonrpc.InvalidParams, `Invalid params: tools/call needs {"name": string, "arguments": object}`)
	}
	sch, ok := toolSchemas[*p.Name]
	if !ok {
		return errorResult("MCP error -32602: Tool " + *p.Name + " not found"), nil
	}
	args := p.Arguments
	if args == nil || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	args, err := sch.validate(args)
	if err != nil {
		return errorResult("MCP error -32602: Input validation error: Invalid arguments for tool " + *p.Name + ": " + err.Error()), nil
	}
	out, err := toolFuncs[*p.Name](ctx, s.store, owner, args)
	var te *toolError
	if errors.As(err, &te) {
		return errorResult(te.msg), nil
	}
	if err != nil {
		s.log.Error("tool failed", zap.String("tool", *p.Name), zap.Error(err))
		return nil, jsonrpc.Errorf(jsonrpc.InternalError, "Internal error: %s failed", *p.Name)
	}
	text, structured, err := encodeOutput(out)
	if err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.InternalError, "Internal error: encoding %s output", *p.Name)
	}
	return callResult{Content: []textContent{{"text", text}}, StructuredContent: structured}, nil
}

// encodeOutput returns a tool output's text content and structuredContent.
// When the text is the structured value itself, that is encoded once: the
// compact encoding goes out as structuredContent, and json.Marshal, when it
// writes the reply, escapes it exactly as it would have escaped the value.
func encodeOutput(out toolOutput) (string, any, error) {
	switch t := out.text.(type) {
	case string:
		return t, out.structured, nil
	case nil:
		compact, err := marshalJS(out.structured, "")
		if err != nil {
			return "", nil, err
		}
		return string(indentJSON(compact, "  ")), json.RawMessage(compact), nil
	default:
		b, err := marshalJS(out.text, "  ")
		return string(b), out.structured, err
	}
}
