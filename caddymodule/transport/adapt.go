package transport

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// cacheHints are the caching fields added to cacheable results.
type cacheHints struct {
	ttlMs int64
	scope string
}

// legacyBody returns a modern request's body as a legacy backend should
// see it: the reserved io.modelcontextprotocol/ keys removed from
// params._meta (the backend does not know them, and a strict one refuses
// them), params._meta removed when nothing else is left, every other byte
// the client's own. Parse and classify refused repeated or case-variant
// params and _meta members, so the splice edits the only copy there is.
func legacyBody(body []byte, req *jsonrpc.Request) []byte {
	if len(req.Meta) == 0 || req.Meta[0] != '{' {
		return body
	}
	members, err := jsonrpc.Object(req.Meta, "params._meta")
	if err != nil {
		return body // unreachable: classify refused it
	}
	meta := []byte(req.Meta)
	stripped := false
	for key := range members {
		if strings.HasPrefix(key, mcpwire.MetaPrefix) {
			meta, stripped = jsonrpc.ReplaceMember(meta, key, nil), true
		}
	}
	if !stripped {
		return body
	}
	var metaValue []byte
	if !isEmptyObject(meta) {
		metaValue = meta
	}
	params := jsonrpc.ReplaceMember(req.Params, "_meta", metaValue)
	return jsonrpc.ReplaceMember(body, "params", params)
}

func isEmptyObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && len(m) == 0
}

// legacyHeaders rewrites the forwarded headers of a modern request for a
// backend of info's kind: a legacy backend gets the revision it chose in
// initialize (a 2026-07-28 header would make it refuse the call), a plain
// one none.
func legacyHeaders(h http.Header, info *backendInfo) {
	h.Del("MCP-Protocol-Version")
	if info.kind == backendLegacy {
		h.Set("MCP-Protocol-Version", info.version)
	}
}

// modernReply returns a rewrite of a legacy backend's reply to a modern
// request for method: results get resultType "complete" and, when
// cacheable, ttlMs and cacheScope; fields the backend set are kept. Other
// bodies come back unchanged.
func modernReply(method string, hints cacheHints) func([]byte) []byte {
	return func(body []byte) []byte {
		resp, ok := decodeReply(body)
		if !ok || resp.Result == nil {
			return body
		}
		result, ok := completeResult(resp.Result, method, hints)
		if !ok {
			return body
		}
		resp.Result = result
		out, err := json.Marshal(resp)
		if err != nil {
			return body
		}
		return out
	}
}

// completeResult adds the 2026-07-28 result fields to result.
func completeResult(result json.RawMessage, method string, hints cacheHints) (json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(result, &fields) != nil || fields == nil {
		return nil, false
	}
	add := func(key string, value any) {
		if _, set := fields[key]; !set {
			fields[key], _ = json.Marshal(value)
		}
	}
	add("resultType", "complete")
	if mcpwire.CacheableMethods[method] {
		add("ttlMs", hints.ttlMs)
		add("cacheScope", hints.scope)
	}
	out, err := json.Marshal(fields)
	return out, err == nil
}

// privateScope returns a rewrite setting cacheScope "private" on a result
// that has one: a tools/list filtered per token must not be cached across
// authorization contexts, whatever the backend said of the whole list.
func privateScope(body []byte) []byte {
	resp, ok := decodeReply(body)
	if !ok || resp.Result == nil {
		return body
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(resp.Result, &fields) != nil || fields == nil || fields["cacheScope"] == nil || string(fields["cacheScope"]) == `"private"` {
		return body
	}
	fields["cacheScope"] = json.RawMessage(`"private"`)
	var err error
	if resp.Result, err = json.Marshal(fields); err != nil {
		return body
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return body
	}
	return out
}

// then composes two body rewrites (either may be nil).
func then(first, second func([]byte) []byte) func([]byte) []byte {
	switch {
	case first == nil:
		return second
	case second == nil:
		return first
	}
	return func(b []byte) []byte { return second(first(b)) }
}

// plainAnswer returns, for the initialize and ping of a 2025 client, a
// reply rewrite that answers them in place of a plain JSON-RPC backend that
// does not know them (its -32601): a 2025 client cannot reach the tools of
// a /tools server without an initialize result. A backend that answers them
// itself is relayed unchanged. For other methods it returns nil.
func plainAnswer(req *jsonrpc.Request) func([]byte) []byte {
	var result any
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(req.Params, &p)
		version := protocolVersions[1] // the newest legacy revision
		if slices.Contains(protocolVersions[1:], p.ProtocolVersion) {
			version = p.ProtocolVersion
		}
		result = map[string]any{
			"protocolVersion": version,
			// As in a probe of such a backend: a tools server.
			"capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo":   map[string]any{"name": "mcpgate", "version": "1"},
		}
	case "ping":
		result = map[string]any{}
	default:
		return nil
	}
	return func(body []byte) []byte {
		if !isMethodNotFound(body) {
			return body
		}
		resp, err := jsonrpc.NewResult(req.ID, result)
		if err != nil {
			return body
		}
		out, err := json.Marshal(resp)
		if err != nil {
			return body
		}
		return out
	}
}
