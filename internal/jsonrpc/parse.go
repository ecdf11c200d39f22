package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
)

// DefaultMaxDepth is the nesting limit for arrays and objects that callers
// should pass to Parse unless they have a reason to differ.
const DefaultMaxDepth = 64

// Message is one element of a payload. Exactly one of Request, Response and
// Err is set.
type Message struct {
	// Request is a request or notification sent by the peer.
	Request *Request
	// Response is a response sent by the peer (to a request of ours).
	Response *Response
	// Err says why the element is not a valid JSON-RPC message.
	Err *Error
	// ID is the element's id when one could be read (for replying to Err).
	ID json.RawMessage
}

// Payload is one decoded HTTP body or stdio line.
type Payload struct {
	// Batch is true when the payload was a JSON array of messages.
	Batch bool
	// Messages holds the single message, or the batch's elements in order.
	Messages []Message
}

// Parse decodes one payload. It fails with ParseError when data is not JSON
// or nests deeper than maxDepth, and with InvalidRequest when the payload is
// neither an object nor a non-empty array. Invalid elements inside a valid
// payload do not fail the whole payload: they come back with Message.Err set.
// The raw members of a message (ID, Params, Meta, Result) are slices of
// data, not copies: data must not change while they are in use, and a kept
// ID keeps data alive.
func Parse(data []byte, maxDepth int) (Payload, *Error) {
	if err := checkDepth(data, maxDepth); err != nil {
		return Payload{}, err
	}
	// json.Unmarshal validates its whole input before decoding, so the
	// object and array cases need no separate validity pass.
	trimmed := bytes.Trim(data, " \t\r\n") // JSON whitespace only (RFC 8259 §2)
	if len(trimmed) == 0 {
		return Payload{}, Errorf(ParseError, "Parse error: not valid JSON")
	}
	switch trimmed[0] {
	case '{':
		// Valid, then read member by member in place: decoding the object
		// into a map copied every member only to look at six of them.
		if !json.Valid(trimmed) {
			return Payload{}, Errorf(ParseError, "Parse error: not valid JSON")
		}
		return Payload{Messages: []Message{parseObject(trimmed)}}, nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return Payload{}, Errorf(ParseError, "Parse error: %v", err)
		}
		if len(elems) == 0 {
			return Payload{}, Errorf(InvalidRequest, "Invalid Request: empty batch")
		}
		p := Payload{Batch: true, Messages: make([]Message, len(elems))}
		for i, e := range elems {
			p.Messages[i] = parseElement(e)
		}
		return p, nil
	default:
		if !json.Valid(trimmed) {
			return Payload{}, Errorf(ParseError, "Parse error: not valid JSON")
		}
		return Payload{}, Errorf(InvalidRequest, "Invalid Request: expected a JSON object or array")
	}
}

// checkDepth rejects payloads that nest arrays or objects deeper than max,
// scanning bytes only so that hostile input costs no allocations.
func checkDepth(data []byte, max int) *Error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return Errorf(ParseError, "Parse error: JSON nests deeper than %d levels", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// parseElement classifies one (valid JSON) element of a payload.
func parseElement(raw json.RawMessage) Message {
	if len(raw) == 0 || raw[0] != '{' {
		return Message{Err: Errorf(InvalidRequest, "Invalid Request: message must be a JSON object")}
	}
	return parseObject(raw)
}

// The members of a message, in the order of messageMembers.
const (
	memberJSONRPC = iota
	memberID
	memberMethod
	memberParams
	memberResult
	memberError
	messageMemberCount
)

// parseObject classifies one message, given as its bytes (a valid JSON
// object).
func parseObject(raw []byte) Message {
	var m [messageMemberCount]json.RawMessage
	if bad, err := checkMembers(raw, "message", messageMembers, m[:]); err != nil {
		id := lastMember(raw, "id")
		if strings.EqualFold(bad, "id") || !validID(id) {
			id = nil // which id to answer is in doubt
		}
		return Message{ID: id, Err: err}
	}
	id, hasID := m[memberID], m[memberID] != nil
	if hasID && string(id) != "null" && !validID(id) {
		return Message{Err: Errorf(InvalidRequest, "Invalid Request: id must be a string or a number")}
	}
	if string(m[memberJSONRPC]) != `"2.0"` {
		return Message{ID: id, Err: Errorf(InvalidRequest, `Invalid Request: "jsonrpc" must be "2.0"`)}
	}
	if method := m[memberMethod]; method != nil {
		return parseRequest(method, m[memberParams], id)
	}
	return parseResponse(m[memberResult], m[memberError], id, hasID)
}

func parseRequest(method, params, id json.RawMessage) Message {
	if string(id) == "null" {
		return Message{Err: Errorf(InvalidRequest, "Invalid Request: id must not be null")}
	}
	var name string
	if err := json.Unmarshal(method, &name); err != nil || method[0] != '"' {
		return Message{ID: id, Err: Errorf(InvalidRequest, `Invalid Request: "method" must be a string`)}
	}
	if params != nil && params[0] != '{' && params[0] != '[' && string(params) != "null" {
		return Message{ID: id, Err: Errorf(InvalidRequest, `Invalid Request: "params" must be an object or an array`)}
	}
	if string(params) == "null" {
		params = nil
	}
	req := &Request{JSONRPC: Version, ID: id, Method: name, Params: params}
	if len(params) > 0 && params[0] == '{' {
		var found [3]json.RawMessage // paramsMembers: name, uri, _meta
		if _, err := checkMembers(params, "params", paramsMembers, found[:]); err != nil {
			return Message{ID: id, Err: err}
		}
		// Valid JSON strings: Unmarshal cannot fail.
		if len(found[0]) > 0 && found[0][0] == '"' {
			_ = json.Unmarshal(found[0], &req.Name)
		}
		if len(found[1]) > 0 && found[1][0] == '"' {
			_ = json.Unmarshal(found[1], &req.URI)
		}
		req.Meta = found[2]
	}
	return Message{ID: id, Request: req}
}

func parseResponse(result, errRaw, id json.RawMessage, hasID bool) Message {
	hasResult, hasError := result != nil, errRaw != nil
	if !hasID || hasResult == hasError {
		return Message{ID: id, Err: Errorf(InvalidRequest, `Invalid Request: a message needs "method", or "id" with exactly one of "result" and "error"`)}
	}
	resp := &Response{JSONRPC: Version, ID: id, Result: result}
	if hasError {
		resp.Error = new(Error)
		if err := json.Unmarshal(errRaw, resp.Error); err != nil {
			return Message{ID: id, Err: Errorf(InvalidRequest, `Invalid Request: "error" must be an object with a numeric code and a message`)}
		}
	}
	return Message{ID: id, Response: resp}
}

// validID accepts the id forms MCP allows: a string or a number. (A request
// with a null id is refused in parseRequest: MCP forbids it, and a reply to it
// could not be told apart from a reply to an unreadable request.)
func validID(id json.RawMessage) bool {
	return len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9'))
}
