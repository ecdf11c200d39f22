package memoryserver

import (
	"encoding/json"
	"slices"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// servedVersions are every MCP version this server speaks, newest first:
// 2026-07-28 per request (its _meta), the older ones through initialize.
var servedVersions = append([]string{mcpwire.ModernVersion}, protocolVersions...)

// Caching hints of the 2026-07-28 list and read results. The tool list and
// the resource list never change while the server runs and are the same
// for everyone; the graph read is the caller's own and changes with every
// write.
const (
	staticTTLMs = 3_600_000
	graphTTLMs  = 0
)

// discoverResult is the server/discover result (resultType, hints and
// serverInfo are added like on every modern result).
var discoverResult = map[string]any{
	"supportedVersions": mcpwire.ModernVersions,
	// Plain HTTP cannot push, so no listChanged or subscribe.
	"capabilities": map[string]any{"tools": struct{}{}, "resources": struct{}{}},
}

// modernRequest reads req's era from its params._meta. A modern request
// gets resp set when it must be refused (a malformed envelope, an
// unsupported version, a method 2026-07-28 removed); older requests are
// served as before, so the server stays wire-compatible with the reference
// for them.
func modernRequest(req *jsonrpc.Request) (modern bool, resp *jsonrpc.Response) {
	version, claimed, rej := mcpwire.EnvelopeVersion(req.Meta)
	refuse := func(code int, message string, data any) (bool, *jsonrpc.Response) {
		r := jsonrpc.NewError(req.ID, code, message)
		if data != nil {
			r.Error.Data, _ = json.Marshal(data)
		}
		return true, &r
	}
	switch {
	case rej != nil:
		return refuse(rej.Code, rej.Message, rej.Data)
	case !claimed || version < mcpwire.ModernVersion && slices.Contains(servedVersions, version):
		return false, nil
	case version != mcpwire.ModernVersion:
		r := mcpwire.UnsupportedVersion(version, mcpwire.ModernVersions)
		return refuse(r.Code, r.Message, r.Data)
	case mcpwire.RemovedMethods[req.Method]:
		return refuse(jsonrpc.MethodNotFound, "Method not found: "+req.Method+" is not part of MCP "+mcpwire.ModernVersion, nil)
	}
	return true, nil
}

// modernResult adds to a result what 2026-07-28 requires of it: resultType,
// the caching hints of cacheable results, and the server's identity.
func modernResult(method string, result json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(result, &fields); err != nil {
		return nil, err
	}
	set := func(key string, value any) error {
		raw, err := json.Marshal(value)
		fields[key] = raw
		return err
	}
	if err := set("resultType", "complete"); err != nil {
		return nil, err
	}
	if err := set("_meta", map[string]any{mcpwire.MetaServerInfo: serverInfo}); err != nil {
		return nil, err
	}
	if mcpwire.CacheableMethods[method] {
		ttl, scope := staticTTLMs, "public"
		if method == "resources/read" {
			ttl, scope = graphTTLMs, "private"
		}
		if err := set("ttlMs", ttl); err != nil {
			return nil, err
		}
		if err := set("cacheScope", scope); err != nil {
			return nil, err
		}
	}
	return json.Marshal(fields)
}
