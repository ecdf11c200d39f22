package transport

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// modernVersion is the first (and only) MCP revision of the modern era: no
// initialize, no sessions, the version and client capabilities in every
// request's params._meta.
const modernVersion = "2026-07-28"

// The reserved params._meta keys of a modern request.
const (
	metaPrefix          = "io.modelcontextprotocol/"
	metaProtocolVersion = metaPrefix + "protocolVersion"
	metaServerInfo      = metaPrefix + "serverInfo"
	// metaClientCapabilities is required with the version.
	metaClientCapabilities = metaPrefix + "clientCapabilities"
)

// modernVersions are the modern revisions served: the supportedVersions of
// server/discover, as in the TypeScript SDK v2 (older ones are negotiated
// with initialize).
var modernVersions = []string{modernVersion}

// The MCP error codes of 2026-07-28 (schema.ts).
const (
	// codeHeaderMismatch: Mcp-Method, Mcp-Name or MCP-Protocol-Version
	// missing, malformed, or different from the body.
	codeHeaderMismatch = -32020
	// codeUnsupportedVersion: the requested protocol version is not served.
	codeUnsupportedVersion = -32022
)

// removedMethods are gone in 2026-07-28; a modern request for one is
// answered 404 with -32601, as for any method the server does not have,
// rather than relayed to a legacy backend that would still run it.
var removedMethods = map[string]bool{
	"initialize":                         true,
	"ping":                               true,
	"logging/setLevel":                   true,
	"resources/subscribe":                true,
	"resources/unsubscribe":              true,
	"notifications/initialized":          true,
	"notifications/roots/list_changed":   true,
	"notifications/elicitation/complete": true,
}

// nameSource maps the methods whose Mcp-Name header mirrors a body field to
// that field (SEP-2243).
var nameSource = map[string]string{
	"tools/call":     "name",
	"prompts/get":    "name",
	"resources/read": "uri",
}

// rejection is a refusal decided before the backend is called.
type rejection struct {
	status  int
	code    int
	message string
	data    any
}

// headerMismatch is the -32020 refusal.
func headerMismatch(message string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeHeaderMismatch, message: "Header mismatch: " + message}
}

// unsupportedVersion is the -32022 refusal listing what is served.
func unsupportedVersion(requested string, supported []string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeUnsupportedVersion,
		message: "Unsupported protocol version " + requested + " (supported: " + strings.Join(supported, ", ") + ")",
		data:    map[string]any{"supported": supported, "requested": requested}}
}

// invalidEnvelope is the -32602 refusal of a modern request whose _meta
// lacks a required key.
func invalidEnvelope(message string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: jsonrpc.InvalidParams, message: "Invalid params: " + message}
}

// classify decides the era of req and checks its headers against its body.
// A request is modern when its params._meta names a modern protocol version
// (the body decides, as in the TypeScript SDK v2 server: a proxy dropping a
// header must not change the era); a modern MCP-Protocol-Version header on a
// request without the claim is refused with -32602. Mcp-Method and Mcp-Name, when present,
// must match the body in every era, so that nothing routing or deciding on
// a header (a load balancer, a policy, this gateway's tool scopes) can be
// shown one call while the backend runs another; on modern requests they are
// also required.
func classify(h http.Header, req *jsonrpc.Request) (modern bool, rej *rejection) {
	headerVersion := strings.Trim(h.Get("MCP-Protocol-Version"), " \t")
	claimed, hasClaim, rej := envelopeVersion(req.Meta)
	switch {
	case rej != nil:
		return false, rej
	case !hasClaim:
		if rej := checkProtocolVersion(h); rej != nil {
			return false, rej
		}
		if headerVersion >= modernVersion && !req.IsNotification() {
			// A modern client always sends the claim; without it the
			// request is neither era's (the spec's answer, which a dual-era
			// client takes as the cue to fall back to initialize).
			return false, invalidEnvelope("MCP-Protocol-Version " + headerVersion + " needs params._meta[" + quote(metaProtocolVersion) + "] and [" + quote(metaClientCapabilities) + "]")
		}
	case headerVersion != "" && headerVersion != claimed:
		return false, headerMismatch("MCP-Protocol-Version header " + quote(headerVersion) + " does not match params._meta protocol version " + quote(claimed))
	case claimed >= modernVersion && claimed != modernVersion, !slices.Contains(protocolVersions, claimed):
		// Versions in _meta are the modern era's way: list those served.
		return false, unsupportedVersion(claimed, modernVersions)
	default:
		modern = claimed >= modernVersion
	}
	if modern && !req.IsNotification() {
		if headerVersion == "" {
			return false, headerMismatch("the MCP-Protocol-Version header is required")
		}
		if h.Get("Mcp-Method") == "" {
			return false, headerMismatch("the Mcp-Method header is required")
		}
	}
	return modern, checkStandardHeaders(h, req, modern)
}

// envelopeVersion reads params._meta's protocol version claim. A _meta with
// a repeated key is refused: the gateway and the backend could read
// different versions (or client capabilities) from it.
func envelopeVersion(meta json.RawMessage) (version string, claimed bool, rej *rejection) {
	if len(meta) == 0 || meta[0] != '{' {
		return "", false, nil
	}
	members, err := jsonrpc.Object(meta, "params._meta")
	if err != nil {
		return "", false, &rejection{status: http.StatusBadRequest, code: err.Code, message: err.Message}
	}
	raw, ok := members[metaProtocolVersion]
	if !ok {
		return "", false, nil
	}
	if json.Unmarshal(raw, &version) != nil || raw[0] != '"' {
		return "", true, invalidEnvelope("params._meta[" + quote(metaProtocolVersion) + "] must be a string")
	}
	if caps := members[metaClientCapabilities]; len(caps) == 0 || caps[0] != '{' {
		return "", true, invalidEnvelope("params._meta[" + quote(metaClientCapabilities) + "] must be an object (empty when the client has none)")
	}
	if info, ok := members[metaPrefix+"clientInfo"]; ok && (len(info) == 0 || info[0] != '{') {
		return "", true, invalidEnvelope("params._meta[" + quote(metaPrefix+"clientInfo") + "] must be an object")
	}
	return version, true, nil
}

// checkStandardHeaders compares Mcp-Method and Mcp-Name with the body;
// required says whether absent headers are a mismatch too.
func checkStandardHeaders(h http.Header, req *jsonrpc.Request, required bool) *rejection {
	if method := strings.Trim(h.Get("Mcp-Method"), " \t"); method != "" && method != req.Method {
		return headerMismatch("Mcp-Method header " + quote(method) + " does not match body method " + quote(req.Method))
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
		return headerMismatch("the Mcp-Name header is required for " + req.Method)
	case !present:
		return nil
	case len(header) != 1:
		// Two values: which one an intermediary acts on is anyone's guess.
		return headerMismatch("Mcp-Name must be sent once")
	}
	name, ok := decodeHeaderValue(strings.Trim(header[0], " \t"))
	if !ok {
		return headerMismatch("Mcp-Name carries an invalid =?base64?...?= value")
	}
	if name != body {
		return headerMismatch("Mcp-Name header " + quote(name) + " does not match params." + field + " " + quote(body))
	}
	return nil
}

// decodeHeaderValue decodes the SEP-2243 sentinel =?base64?<b64>?= (the
// markers exact and lowercase, the payload canonical padded base64 of
// UTF-8); any other value is taken as is.
func decodeHeaderValue(v string) (string, bool) {
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
