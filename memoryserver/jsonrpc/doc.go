// Package jsonrpc holds the JSON-RPC 2.0 message types and a bounded decoder
// shared by memoryserver and the gateway's transport adapter.
//
// It knows nothing about MCP: it turns bytes into requests, notifications and
// responses, tells a batch from a single message, and builds error replies with
// the standard codes.
package jsonrpc
