package jsonrpc

import "encoding/json"

// Version is the only protocol version this package speaks.
const Version = "2.0"

// Request is a JSON-RPC request or, when ID is absent, a notification.
type Request struct {
	// JSONRPC is always "2.0" after a successful Parse.
	JSONRPC string `json:"jsonrpc"`
	// ID is the raw id (a string or a number); nil for a notification.
	ID json.RawMessage `json:"id,omitempty"`
	// Method is the method name.
	Method string `json:"method"`
	// Params is the raw params value (an object or an array), nil when absent.
	Params json.RawMessage `json:"params,omitempty"`
	// Name is params.name when params is an object whose "name" member (by
	// exact key) is a string: the tool of an MCP tools/call, the prompt of a
	// prompts/get. Else empty.
	Name string `json:"-"`
	// URI is params.uri when params is an object whose "uri" member (by
	// exact key) is a string: the resource of an MCP resources/read. Else
	// empty.
	URI string `json:"-"`
	// Meta is the raw params._meta (by exact key) when params is an object
	// that has one, else nil.
	Meta json.RawMessage `json:"-"`
}

// IsNotification reports whether r carries no id and so expects no reply.
func (r *Request) IsNotification() bool { return r.ID == nil }

// Response is a JSON-RPC response: exactly one of Result and Error is set.
type Response struct {
	// JSONRPC is always "2.0".
	JSONRPC string `json:"jsonrpc"`
	// ID echoes the request's id; nil marshals as null (id unknown).
	ID json.RawMessage `json:"id"`
	// Result is the raw result of a successful call.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is set when the call failed.
	Error *Error `json:"error,omitempty"`
}

// NewResult builds a success response; result must marshal to JSON.
func NewResult(id json.RawMessage, result any) (Response, error) {
	raw, err := json.Marshal(result)
	if err != nil {
		return Response{}, err
	}
	return Response{JSONRPC: Version, ID: id, Result: raw}, nil
}

// NewError builds an error response with the given code and message.
func NewError(id json.RawMessage, code int, message string) Response {
	return Response{JSONRPC: Version, ID: id, Error: &Error{Code: code, Message: message}}
}
