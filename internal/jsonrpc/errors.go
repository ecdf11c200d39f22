package jsonrpc

import (
	"encoding/json"
	"fmt"
)

// The standard JSON-RPC 2.0 error codes.
const (
	// ParseError: the payload is not JSON, or nests too deeply to decode.
	ParseError = -32700
	// InvalidRequest: the JSON is not a valid JSON-RPC message.
	InvalidRequest = -32600
	// MethodNotFound: the method does not exist.
	MethodNotFound = -32601
	// InvalidParams: the method's params are missing or malformed.
	InvalidParams = -32602
	// InternalError: the server failed while handling a valid call.
	InternalError = -32603
)

// Error is a JSON-RPC error object; it also implements the error interface.
type Error struct {
	// Code is one of the codes above or an application code.
	Code int `json:"code"`
	// Message is a short human-readable description.
	Message string `json:"message"`
	// Data is optional extra detail.
	Data json.RawMessage `json:"data,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
