package transport

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func onlyRead(tool string) bool { return strings.HasPrefix(tool, "read") }

func TestFilterToolsReply(t *testing.T) {
	in := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_graph"},{"name":"delete_entities"}],"nextCursor":"c"}}`
	out := string(filterListReply([]byte(in), "tools", onlyRead))
	if strings.Contains(out, "delete_entities") || !strings.Contains(out, "read_graph") || !strings.Contains(out, `"nextCursor":"c"`) {
		t.Fatalf("filtered %s", out)
	}
	for _, same := range []string{
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`not json`,
	} {
		if got := string(filterListReply([]byte(same), "tools", onlyRead)); got != same {
			t.Errorf("%s changed to %s", same, got)
		}
	}
}

func TestSSEFilterRewritesOnlyToolLists(t *testing.T) {
	stream := "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n" +
		"id: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\n" +
		"data: \"result\":{\"tools\":[{\"name\":\"read_graph\"},{\"name\":\"delete_entities\"}]}}\n\n" +
		": comment without end"
	var out bytes.Buffer
	f := newSSEFilter(&out, listFilter("tools/list", onlyRead))
	f.Write([]byte(stream))
	f.close()
	got := out.String()
	first := "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
	if !strings.HasPrefix(got, first) || !strings.HasSuffix(got, ": comment without end") {
		t.Fatalf("untouched parts changed: %q", got)
	}
	if strings.Contains(got, "delete_entities") || !strings.Contains(got, "id: 7\ndata: {") {
		t.Errorf("tool list event not filtered: %q", got)
	}
}

// FuzzSSEFilter checks that the output does not depend on how the stream
// is split into writes, and that the tool-list filter never panics.
func FuzzSSEFilter(f *testing.F) {
	f.Add("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"x\"}]}}\n\n", 5)
	f.Add("event: a\r\ndata: 1\r\n\r\ndata: 2\n\n", 3)
	f.Add("data: \n\n\n\n", 1)
	f.Fuzz(func(t *testing.T, stream string, cut int) {
		var whole, split bytes.Buffer
		a := newSSEFilter(&whole, listFilter("tools/list", onlyRead))
		a.Write([]byte(stream))
		a.close()
		b := newSSEFilter(&split, listFilter("tools/list", onlyRead))
		if cut < 0 {
			cut = -cut
		}
		cut %= len(stream) + 1
		b.Write([]byte(stream[:cut]))
		b.Write([]byte(stream[cut:]))
		b.close()
		if whole.String() != split.String() {
			t.Fatalf("split at %d: %q != %q", cut, split.String(), whole.String())
		}
	})
}

// FuzzFilterToolsReply checks that filtering keeps JSON valid and that a
// rewritten reply lists only visible tools.
func FuzzFilterToolsReply(f *testing.F) {
	f.Add(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_graph"},{"name":"delete_entities"}]}}`)
	f.Add(`{"jsonrpc":"2.0","id":"a","result":{"tools":[1,{"name":2},{"name":"read"}]}}`)
	f.Add(`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		out := filterListReply([]byte(body), "tools", onlyRead)
		if string(out) == body {
			return
		}
		var reply struct {
			Result struct {
				Tools []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		if err := json.Unmarshal(out, &reply); err != nil {
			t.Fatalf("rewritten reply is not JSON: %q", out)
		}
		for _, tool := range reply.Result.Tools {
			if !onlyRead(tool.Name) {
				t.Fatalf("hidden tool %q kept", tool.Name)
			}
		}
	})
}
