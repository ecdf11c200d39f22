package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// backendKind is the era of the backend, learnt by probing it.
type backendKind int

const (
	// backendPlain answers JSON-RPC but not initialize (a /tools server).
	backendPlain backendKind = iota
	// backendLegacy is an MCP server of 2024-11-05..2025-11-25.
	backendLegacy
	// backendModern answers server/discover offering 2026-07-28: modern
	// requests pass through unchanged.
	backendModern
	// backendSessions is a legacy MCP server that opens a session in
	// initialize and serves nothing outside one. Modern requests are
	// adapted as for backendLegacy and sent in a session the gateway holds
	// for their caller (see sessionPool): one per verified identity, as one
	// shared session would mix users' state.
	backendSessions
)

// backendInfo is what the gateway knows of its backend.
type backendInfo struct {
	kind backendKind
	// version is the revision a legacy backend chose in initialize; modern
	// requests are forwarded to it under this MCP-Protocol-Version, and a
	// held session is opened with it.
	version string
	// discover is the server/discover result the gateway answers with for a
	// plain or legacy backend (resultType and caching hints still to add).
	discover map[string]any
}

// backendCache holds the backend's info between refreshes, so that
// server/discover and the adaptation of modern requests cost no backend
// round trip each.
type backendCache struct {
	fill sync.Mutex // one probe at a time; the others wait for its result

	mu      sync.Mutex
	info    *backendInfo
	fetched time.Time
}

// get returns the cached info while younger than ttl, else probes.
func (c *backendCache) get(now func() time.Time, ttl time.Duration, probe func() (*backendInfo, error)) (*backendInfo, error) {
	if info := c.fresh(now(), ttl); info != nil {
		return info, nil
	}
	c.fill.Lock()
	defer c.fill.Unlock()
	if info := c.fresh(now(), ttl); info != nil {
		return info, nil // filled while this caller waited
	}
	info, err := probe()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.info, c.fetched = info, now()
	c.mu.Unlock()
	return info, nil
}

func (c *backendCache) fresh(now time.Time, ttl time.Duration) *backendInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info == nil || now.Sub(c.fetched) >= ttl {
		return nil
	}
	return c.info
}

// forget drops the cached info: the backend failed, and may come back as
// another server (restarted, redeployed, replaced behind the proxy).
func (c *backendCache) forget() {
	c.mu.Lock()
	c.info = nil
	c.mu.Unlock()
}

// errProbe is a backend that answered the probe with neither a result nor
// a JSON-RPC error (down, timing out, not JSON-RPC).
var errProbe = errors.New("backend did not answer server/discover or initialize")

// probeBackend learns the backend's era: server/discover first (a modern
// backend), then initialize (a legacy MCP server), else a plain JSON-RPC
// backend. It asks with r's identity (the admitted request's headers), as
// backends may serve nobody without one.
func (h *Handler) probeBackend(r *http.Request) (*backendInfo, error) {
	discover, rpcErr, _, err := h.backendCall(r, "server/discover", mcpwire.ModernVersion,
		`{"_meta":{"`+mcpwire.MetaProtocolVersion+`":"`+mcpwire.ModernVersion+`","`+mcpwire.MetaPrefix+`clientInfo":{"name":"mcpgate","version":"1"},"`+mcpwire.MetaPrefix+`clientCapabilities":{}}}`)
	if err == nil && rpcErr == nil {
		var d struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		if json.Unmarshal(discover, &d) == nil && slices.Contains(d.SupportedVersions, mcpwire.ModernVersion) {
			return &backendInfo{kind: backendModern}, nil
		}
	}
	result, rpcErr, session, err := h.backendCall(r, "initialize", "",
		`{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpgate","version":"1"}}`)
	var refused *refusedError
	if err != nil && !errors.As(err, &refused) {
		return nil, err
	}
	if rpcErr != nil || refused != nil {
		return &backendInfo{kind: backendPlain, discover: map[string]any{
			"supportedVersions": []string{mcpwire.ModernVersion},
			// A plain JSON-RPC server is a tools server (tools/list, tools/call).
			"capabilities": map[string]any{"tools": map[string]any{}},
		}}, nil
	}
	var init struct {
		ProtocolVersion string                     `json:"protocolVersion"`
		Capabilities    map[string]json.RawMessage `json:"capabilities"`
		ServerInfo      json.RawMessage            `json:"serverInfo"`
		Instructions    string                     `json:"instructions"`
	}
	if json.Unmarshal(result, &init) != nil || !slices.Contains(protocolVersions, init.ProtocolVersion) {
		return nil, fmt.Errorf("backend answered initialize with an unusable result: %.200s", result)
	}
	d := map[string]any{
		"supportedVersions": []string{mcpwire.ModernVersion},
		"capabilities":      modernCapabilities(init.Capabilities),
	}
	if len(init.ServerInfo) > 0 {
		d["_meta"] = map[string]any{mcpwire.MetaServerInfo: init.ServerInfo}
	}
	if init.Instructions != "" {
		d["instructions"] = init.Instructions
	}
	kind := backendLegacy
	if session {
		kind = backendSessions
	}
	return &backendInfo{kind: kind, version: init.ProtocolVersion, discover: d}, nil
}

// modernCapabilities is a legacy backend's capabilities as the gateway can
// serve them to modern clients: change notifications need a
// subscriptions/listen stream, which a backend without one cannot feed, so
// listChanged and subscribe are dropped (the TypeScript SDK v2 advertises
// them as-is because it serves subscriptions/listen itself); logging is
// dropped with logging/setLevel, which 2026-07-28 removed.
func modernCapabilities(legacy map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(legacy))
	for name, raw := range legacy {
		if name == "logging" {
			continue
		}
		var sub map[string]json.RawMessage
		if json.Unmarshal(raw, &sub) == nil && sub != nil {
			delete(sub, "listChanged")
			delete(sub, "subscribe")
			raw, _ = json.Marshal(sub)
		}
		out[name] = raw
	}
	return out
}

// backendCall sends one request to the backend through the upstream
// handler and returns its result or JSON-RPC error, and whether the
// backend opened a session (which it closes: a probe keeps none); err is
// set when the backend gave neither. version, when set, is sent as
// MCP-Protocol-Version.
func (h *Handler) backendCall(r *http.Request, method, version, params string) (result json.RawMessage, rpcErr *jsonrpc.Error, session bool, err error) {
	rec := h.backendRequest(r, method, version, "", []byte(`{"jsonrpc":"2.0","id":"mcpgate-probe","method":"`+method+`","params":`+params+`}`))
	id := rec.header.Get("Mcp-Session-Id")
	if id != "" {
		h.closeSession(r, id)
	}
	resp, ok := decodeReply(lastMessage(rec.body.Bytes()))
	switch {
	case ok:
		return resp.Result, resp.Error, id != "", nil
	case rec.status >= 400 && rec.status < 500:
		return nil, nil, false, &refusedError{method: method, status: rec.status}
	}
	return nil, nil, false, fmt.Errorf("%w (%s: %d %s)", errProbe, method, rec.status, http.StatusText(rec.status))
}

// backendRequest sends the gateway's own JSON-RPC message body to the
// backend with r's identity, in session when set, and records the reply.
// version, when set, is sent as MCP-Protocol-Version (with Mcp-Method).
func (h *Handler) backendRequest(r *http.Request, method, version, session string, body []byte) *recorder {
	up := h.upstreamRequest(r, body, upstreamAccept)
	up.Method = http.MethodPost
	up.Header = up.Header.Clone()
	for _, k := range []string{"MCP-Protocol-Version", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name", "Last-Event-ID"} {
		up.Header.Del(k)
	}
	up.Header.Set("Content-Type", "application/json")
	if version != "" {
		up.Header.Set("MCP-Protocol-Version", version)
		up.Header.Set("Mcp-Method", method)
	}
	if session != "" {
		up.Header.Set("Mcp-Session-Id", session)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	rec := &recorder{header: make(http.Header)}
	h.upstream.ServeHTTP(rec, up.WithContext(ctx))
	return rec
}

// refusedError is a backend answering a probe with a 4xx that is not
// JSON-RPC: up, but without that method.
type refusedError struct {
	method string
	status int
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("backend refused %s: %d %s", e.method, e.status, http.StatusText(e.status))
}

// closeSession ends a session the backend opened (for a probe, or held
// for a caller), so sessions do not pile up on a stateful backend. It is
// best effort: the backend has sessionEndTimeout to answer.
func (h *Handler) closeSession(r *http.Request, session string) {
	ctx, cancel := context.WithTimeout(r.Context(), min(h.cfg.Timeout, sessionEndTimeout))
	defer cancel()
	up := h.upstreamRequest(r.Clone(ctx), nil, "")
	up.Method = http.MethodDelete
	up.Header = up.Header.Clone()
	for _, k := range []string{"MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"} {
		up.Header.Del(k)
	}
	up.Header.Set("Mcp-Session-Id", session)
	h.upstream.ServeHTTP(&recorder{header: make(http.Header)}, up)
}

// lastMessage returns body, or when body is an SSE stream (SDK servers
// answer with one when the client accepts it) the data of its last event.
func lastMessage(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] == '{' {
		return trimmed
	}
	var last []byte
	for line := range bytes.Lines(trimmed) {
		if data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:")); ok {
			last = bytes.TrimSpace(data)
		}
	}
	return last
}

// recorder is the ResponseWriter a probe's upstream call writes to; it
// keeps at most maxBuffered bytes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	if rec.body.Len()+len(p) <= maxBuffered {
		rec.body.Write(p)
	}
	return len(p), nil
}
