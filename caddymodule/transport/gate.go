package transport

import "net/http"

// Gate decides who may use the endpoint; *guard.Guard implements it.
type Gate interface {
	// Admit authenticates r and returns the request to forward (identity
	// attached, client credentials removed). When it refuses, it has
	// written the answer and returns false.
	Admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool)
	// AdmitCall decides whether the admitted r may invoke the JSON-RPC
	// method (tool is the tool name of a tools/call, else empty). When it
	// refuses, it has written the answer and returns false.
	AdmitCall(w http.ResponseWriter, r *http.Request, method, tool string) bool
	// ListFilter returns which items (by name) a list reply of method
	// (tools/list, resources/list, ...) may show to r's caller, or nil to
	// show all.
	ListFilter(r *http.Request, method string) func(name string) bool
}
