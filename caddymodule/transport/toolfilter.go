package transport

import "encoding/json"

// toolsFilter returns a reply rewrite limiting a tools/list result to the
// tools visible allows, or nil when visible is nil (show all).
func toolsFilter(visible func(tool string) bool) func([]byte) []byte {
	if visible == nil {
		return nil
	}
	return func(body []byte) []byte { return filterToolsReply(body, visible) }
}

// filterToolsReply returns body with result.tools of a JSON-RPC tools/list
// response limited to the tools visible allows. Bodies that are not such a
// response (errors, other shapes) come back unchanged.
func filterToolsReply(body []byte, visible func(tool string) bool) []byte {
	resp, ok := decodeReply(body)
	if !ok || resp.Result == nil {
		return body
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(resp.Result, &result) != nil {
		return body
	}
	var tools []json.RawMessage
	if json.Unmarshal(result["tools"], &tools) != nil {
		return body
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &named) == nil && visible(named.Name) {
			kept = append(kept, t)
		}
	}
	if len(kept) == len(tools) {
		return body
	}
	var err error
	if result["tools"], err = json.Marshal(kept); err != nil {
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
