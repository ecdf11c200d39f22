package stdiobackend

import (
	"encoding/json"
	"strconv"
)

// message is any JSON-RPC message on the child's stdio.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   json.RawMessage `json:"error,omitempty"`
}

func (m *message) isResponse() bool { return m.Method == "" && m.ID != nil }

// withID returns m encoded with id in place of its own.
func (m message) withID(id json.RawMessage) []byte {
	m.ID = id
	m.JSONRPC = "2.0"
	out, _ := json.Marshal(m) // raw members of valid JSON always encode
	return out
}

// numericID is the wire form of a gateway-assigned id.
func numericID(n int64) json.RawMessage {
	return json.RawMessage(strconv.FormatInt(n, 10))
}

// errorReply is a JSON-RPC error response.
func errorReply(id json.RawMessage, code int, text string) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	e, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, text})
	return message{ID: id, Error: e}.withID(id)
}

// progressToken returns params._meta.progressToken, if any.
func progressToken(params json.RawMessage) json.RawMessage {
	var p struct {
		Meta struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.Meta.ProgressToken
}

// withProgressToken returns params with _meta.progressToken set to token
// (the other members of params and _meta kept as they are).
func withProgressToken(params json.RawMessage, token json.RawMessage) json.RawMessage {
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) != nil {
		return params
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(p["_meta"], &meta) != nil || meta == nil {
		return params
	}
	meta["progressToken"] = token
	p["_meta"], _ = json.Marshal(meta)
	out, err := json.Marshal(p)
	if err != nil {
		return params
	}
	return out
}
