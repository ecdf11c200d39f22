// Package jsonrpc holds the JSON-RPC 2.0 message types and a bounded decoder
// shared by memoryserver and the gateway's transport adapter.
//
// It knows nothing about MCP: it turns bytes into requests, notifications and
// responses, tells a batch from a single message, and builds error replies with
// the standard codes.
//
// One reading for every parser: Parse refuses (InvalidRequest, per message)
// a message whose top-level object or params object repeats a key, or holds
// a case variant ("Method", "NAME") of a member a gateway decides on
// (jsonrpc, id, method, params, result, error; params.name, params.uri,
// params._meta).
// Parsers disagree on such input (first or last duplicate wins; Go's struct
// decoding folds case), so a gateway that checked one reading could forward
// bytes its backend reads another way. Because Parse refuses them, the
// client's own bytes can be forwarded unchanged. Deeper objects (such as
// params.arguments) are not checked: no gateway decision reads them.
package jsonrpc
