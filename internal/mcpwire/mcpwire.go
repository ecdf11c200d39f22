// Package mcpwire holds what the MCP 2026-07-28 wire rules need on both
// sides of the gateway, the era adapter (caddymodule/transport) and the
// memory server: which era a request is, the Streamable HTTP request
// headers (Mcp-Method, Mcp-Name, MCP-Protocol-Version) checked against the
// body, the removed methods and the error codes. It knows no backend.
package mcpwire

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// ModernVersion is the first (and only) MCP revision of the modern era: no
// initialize, no sessions, the version and client capabilities in every
// request's params._meta.
const ModernVersion = "2026-07-28"

// The reserved params._meta keys of a modern request.
const (
	MetaPrefix          = "io.modelcontextprotocol/"
	MetaProtocolVersion = MetaPrefix + "protocolVersion"
	MetaServerInfo      = MetaPrefix + "serverInfo"
	// MetaClientCapabilities is required with the version.
	MetaClientCapabilities = MetaPrefix + "clientCapabilities"
)

// ModernVersions are the modern revisions served: the supportedVersions of
// server/discover, as in the TypeScript SDK v2 (older ones are negotiated
// with initialize).
var ModernVersions = []string{ModernVersion}

// The MCP error codes of 2026-07-28 (schema.ts).
const (
	// CodeHeaderMismatch: Mcp-Method, Mcp-Name or MCP-Protocol-Version
	// missing, malformed, or different from the body.
	CodeHeaderMismatch = -32020
	// CodeUnsupportedVersion: the requested protocol version is not served.
	CodeUnsupportedVersion = -32022
)

// RemovedMethods are gone in 2026-07-28; a modern request for one is
// answered 404 with -32601, as for any method the server does not have
// (a gateway must not relay it to a legacy backend that would still run it).
var RemovedMethods = map[string]bool{
	"initialize":                         true,
	"ping":                               true,
	"logging/setLevel":                   true,
	"resources/subscribe":                true,
	"resources/unsubscribe":              true,
	"notifications/initialized":          true,
	"notifications/roots/list_changed":   true,
	"notifications/elicitation/complete": true,
}

// CacheableMethods are the operations whose complete results carry the
// caching hints ttlMs and cacheScope.
var CacheableMethods = map[string]bool{
	"server/discover":          true,
	"tools/list":               true,
	"prompts/list":             true,
	"resources/list":           true,
	"resources/templates/list": true,
	"resources/read":           true,
}

// nameSource maps the methods whose Mcp-Name header mirrors a body field to
// that field (SEP-2243).
var nameSource = map[string]string{
	"tools/call":     "name",
	"prompts/get":    "name",
	"resources/read": "uri",
}

// Rejection is a refusal decided from the request alone.
type Rejection struct {
	// Status is the HTTP status to answer with.
	Status int
	// Code and Message make the JSON-RPC error; Data, when set, its data.
	Code    int
	Message string
	Data    any
}

// headerMismatch is the -32020 refusal.
func HeaderMismatch(message string) *Rejection {
	return &Rejection{Status: http.StatusBadRequest, Code: CodeHeaderMismatch, Message: "Header mismatch: " + message}
}

// unsupportedVersion is the -32022 refusal listing what is served.
func UnsupportedVersion(requested string, supported []string) *Rejection {
	return &Rejection{Status: http.StatusBadRequest, Code: CodeUnsupportedVersion,
		Message: "Unsupported protocol version " + requested + " (supported: " + strings.Join(supported, ", ") + ")",
		Data:    map[string]any{"supported": supported, "requested": requested}}
}

// invalidEnvelope is the -32602 refusal of a modern request whose _meta
// lacks a required key.
func InvalidEnvelope(message string) *Rejection {
	return &Rejection{Status: http.StatusBadRequest, Code: jsonrpc.InvalidParams, Message: "Invalid params: " + message}
}

// Classify decides the era of req and checks its headers against its body.
// A request is modern when its params._meta names a modern protocol version
// (the body decides, as in the TypeScript SDK v2 server: a proxy dropping a
// header must not change the era); a modern MCP-Protocol-Version header on a
// request without the claim is refused with -32602. Mcp-Method and Mcp-Name, when present,
// must match the body in every era, so that nothing routing or deciding on
// a header (a load balancer, a policy, this gateway's tool scopes) can be
// shown one call while the backend runs another; on modern requests they are
// also required. served are the protocol versions the caller serves, newest
// first.
func Classify(h http.Header, req *jsonrpc.Request, served []string) (modern bool, rej *Rejection) {
	for _, name := range []string{"MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"} {
		if len(h.Values(name)) > 1 {
			// Two values: which one an intermediary or the backend acts
			// on (the first, the last, both joined) is anyone's guess.
			return false, HeaderMismatch(name + " must be sent once")
		}
	}
	headerVersion := strings.Trim(h.Get("MCP-Protocol-Version"), " \t")
	claimed, hasClaim, rej := EnvelopeVersion(req.Meta)
	switch {
	case rej != nil:
		return false, rej
	case !hasClaim:
		if rej := CheckProtocolVersion(h, served); rej != nil {
			return false, rej
		}
		if headerVersion >= ModernVersion && !req.IsNotification() {
			// A modern client always sends the claim; without it the
			// request is neither era's (the spec's answer, which a dual-era
			// client takes as the cue to fall back to initialize).
			return false, InvalidEnvelope("MCP-Protocol-Version " + headerVersion + " needs params._meta[" + quote(MetaProtocolVersion) + "] and [" + quote(MetaClientCapabilities) + "]")
		}
	case headerVersion != "" && headerVersion != claimed:
		return false, HeaderMismatch("MCP-Protocol-Version header " + quote(headerVersion) + " does not match params._meta protocol version " + quote(claimed))
	case claimed >= ModernVersion && claimed != ModernVersion, !slices.Contains(served, claimed):
		// Versions in _meta are the modern era's way: list those served.
		return false, UnsupportedVersion(claimed, ModernVersions)
	default:
		modern = claimed >= ModernVersion
	}
	if modern && !req.IsNotification() {
		if headerVersion == "" {
			return false, HeaderMismatch("the MCP-Protocol-Version header is required")
		}
		if h.Get("Mcp-Method") == "" {
			return false, HeaderMismatch("the Mcp-Method header is required")
		}
	}
	return modern, checkStandardHeaders(h, req, modern)
}

// EnvelopeVersion reads params._meta's protocol version claim. A _meta with
// a repeated key is refused: the gateway and the backend could read
// different versions (or client capabilities) from it.
func EnvelopeVersion(meta json.RawMessage) (version string, claimed bool, rej *Rejection) {
	if len(meta) == 0 || meta[0] != '{' {
		return "", false, nil
	}
	members, err := jsonrpc.Object(meta, "params._meta")
	if err != nil {
		return "", false, &Rejection{Status: http.StatusBadRequest, Code: err.Code, Message: err.Message}
	}
	raw, ok := members[MetaProtocolVersion]
	if !ok {
		return "", false, nil
	}
	if json.Unmarshal(raw, &version) != nil || raw[0] != '"' {
		return "", true, InvalidEnvelope("params._meta[" + quote(MetaProtocolVersion) + "] must be a string")
	}
	if caps := members[MetaClientCapabilities]; len(caps) == 0 || caps[0] != '{' {
		return "", true, InvalidEnvelope("params._meta[" + quote(MetaClientCapabilities) + "] must be an object (empty when the client has none)")
	}
	if info, ok := members[MetaPrefix+"clientInfo"]; ok && (len(info) == 0 || info[0] != '{') {
		return "", true, InvalidEnvelope("params._meta[" + quote(MetaPrefix+"clientInfo") + "] must be an object")
	}
	return version, true, nil
}

// checkStandardHeaders compares Mcp-Method and Mcp-Name with the body;
// required says whether absent headers are a mismatch too.
func checkStandardHeaders(h http.Header, req *jsonrpc.Request, required bool) *Rejection {
	if method := strings.Trim(h.Get("Mcp-Method"), " \t"); method != "" && method != req.Method {
		return HeaderMismatch("Mcp-Method header " + quote(method) + " does not match body method " + quote(req.Method))
	}
	field, ok := nameSource[req.Method]
	if !ok {
		return nil
	}
	body := req.Name
	if field == "uri" {
		body = req.URI
	}
	header, present := h["Mcp-Name"]
	switch {
	case !present && required && body != "" && !req.IsNotification():
		return HeaderMismatch("the Mcp-Name header is required for " + req.Method)
	case !present:
		return nil
	}
	name, ok := DecodeHeaderValue(strings.Trim(header[0], " \t"))
	if !ok {
		return HeaderMismatch("Mcp-Name carries an invalid =?base64?...?= value")
	}
	if name != body {
		return HeaderMismatch("Mcp-Name header " + quote(name) + " does not match params." + field + " " + quote(body))
	}
	return nil
}

// decodeHeaderValue decodes the SEP-2243 sentinel =?base64?<b64>?= (the
// markers exact and lowercase, the payload canonical padded base64 of
// UTF-8); any other value is taken as is.
func DecodeHeaderValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok || !strings.HasSuffix(inner, "?=") {
		return v, true
	}
	inner = strings.TrimSuffix(inner, "?=")
	raw, err := base64.StdEncoding.Strict().DecodeString(inner)
	if err != nil || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw), true
}

// quote renders s for an error message, escaped.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// CheckProtocolVersion refuses an MCP-Protocol-Version header that is not
// absent (or empty) or a single version of served, with the
// UnsupportedProtocolVersion error that lists them.
func CheckProtocolVersion(h http.Header, served []string) *Rejection {
	values := h.Values("MCP-Protocol-Version")
	switch {
	case len(values) == 0 || len(values) == 1 && (values[0] == "" || slices.Contains(served, values[0])):
		return nil
	case len(values) == 1:
		return UnsupportedVersion(values[0], served)
	}
	return UnsupportedVersion("(more than one MCP-Protocol-Version header)", served)
}
