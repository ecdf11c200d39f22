package transport

import "encoding/json"

// listKeys are the list methods whose replies a Gate may filter, with the
// result member that holds the items.
var listKeys = map[string]string{
	"tools/list":               "tools",
	"resources/list":           "resources",
	"resources/templates/list": "resourceTemplates",
	"prompts/list":             "prompts",
}

// listFilter returns a reply rewrite limiting the items of a list method's
// result to those visible allows (by name), or nil when visible is nil
// (show all) or method is not a list method.
func listFilter(method string, visible func(name string) bool) func([]byte) []byte {
	key, isList := listKeys[method]
	if visible == nil || !isList {
		return nil
	}
	return func(body []byte) []byte { return filterListReply(body, key, visible) }
}

// filterListReply returns body with result[key] of a JSON-RPC response
// limited to the items visible allows. Bodies that are not such a response
// (errors, other shapes) come back unchanged.
func filterListReply(body []byte, key string, visible func(name string) bool) []byte {
	resp, ok := decodeReply(body)
	if !ok || resp.Result == nil {
		return body
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(resp.Result, &result) != nil {
		return body
	}
	var items []json.RawMessage
	if json.Unmarshal(result[key], &items) != nil {
		return body
	}
	kept := make([]json.RawMessage, 0, len(items))
	for _, item := range items {
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(item, &named) == nil && visible(named.Name) {
			kept = append(kept, item)
		}
	}
	if len(kept) == len(items) {
		return body
	}
	var err error
	if result[key], err = json.Marshal(kept); err != nil {
		return body
	}
	if resp.Result, err = json.Marshal(result); err != nil {
		return body
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return body
	}
	return out
}
