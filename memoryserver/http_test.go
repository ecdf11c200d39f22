package memoryserver

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestHTTPProtocol(t *testing.T) {
	ts := newTestServer(t, Options{MaxBodyBytes: 1 << 10})
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   float64 // JSON-RPC error code, 0 for a result
	}{
		{"ping", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, 200, 0},
		{"string id", `{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}`, 200, 0},
		{"not json", `{"jsonrpc":`, 400, -32700},
		{"too deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), 400, -32700},
		{"scalar", `42`, 400, -32600},
		{"empty batch", `[]`, 400, -32600},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, 400, -32600},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, 400, -32600},
		{"method not string", `{"jsonrpc":"2.0","id":1,"method":7}`, 400, -32600},
		{"params scalar", `{"jsonrpc":"2.0","id":1,"method":"ping","params":3}`, 400, -32600},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"server/discover"}`, 200, -32601},
		{"tools/call without name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, 200, -32602},
		{"tools/call array params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}`, 200, -32602},
		{"initialize bad params", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":5}}`, 200, -32602},
		{"resources/read without uri", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}`, 200, -32602},
		{"resources/read unknown", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memory://x"}}`, 200, -32602},
		{"oversized", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("x", 1<<10) + `"}}`, 413, -32600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, v := ts.post(t, tc.body)
			if status != tc.status {
				t.Errorf("status = %d, want %d (%v)", status, tc.status, v)
			}
			m, _ := v.(map[string]any)
			if m["jsonrpc"] != "2.0" {
				t.Fatalf("reply %v is not JSON-RPC", v)
			}
			errObj, _ := m["error"].(map[string]any)
			switch {
			case tc.code == 0 && errObj != nil:
				t.Errorf("unexpected error %v", errObj)
			case tc.code != 0 && (errObj == nil || errObj["code"] != tc.code || errObj["message"] == ""):
				t.Errorf("error = %v, want code %v with a message", errObj, tc.code)
			}
		})
	}
}

func TestHTTPNotificationsAndBatches(t *testing.T) {
	ts := newTestServer(t, Options{})
	if status, v := ts.post(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != 202 || v != nil {
		t.Errorf("notification: %d %v, want 202 and no body", status, v)
	}
	if status, v := ts.post(t, `{"jsonrpc":"2.0","id":9,"result":{}}`); status != 202 || v != nil {
		t.Errorf("client response: %d %v, want 202 and no body", status, v)
	}
	status, v := ts.post(t, `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},`+
		`{"jsonrpc":"2.0","id":2,"method":"nope"},{"id":3}]`)
	replies, _ := v.([]any)
	if status != 200 || len(replies) != 3 {
		t.Fatalf("batch: %d %v, want 3 replies", status, v)
	}
	for i, want := range []float64{1, 2, 3} {
		if id := replies[i].(map[string]any)["id"]; id != want {
			t.Errorf("reply %d id = %v, want %v", i, id, want)
		}
	}
	if status, v := ts.post(t, `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`); status != 202 || v != nil {
		t.Errorf("batch of notifications: %d %v, want 202", status, v)
	}
}

func TestHTTPMethodsAndPaths(t *testing.T) {
	ts := newTestServer(t, Options{})
	base := strings.TrimSuffix(ts.url, "/mcp")
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/mcp", 405},
		{"DELETE", "/tools", 405},
		{"POST", "/other", 404},
		{"POST", "/tools", 200},
		{"POST", "/mcp/", 200},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), `"jsonrpc":"2.0"`) {
			t.Errorf("%s %s: %d %s, want %d with a JSON-RPC body", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s %s: Allow = %q, want POST", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

func TestInitializeNegotiatesVersion(t *testing.T) {
	ts := newTestServer(t, Options{})
	for asked, want := range map[string]string{
		"2024-11-05": "2024-11-05", "2025-03-26": "2025-03-26", "2025-06-18": "2025-06-18",
		"2025-11-25": "2025-11-25", "2031-01-01": "2025-11-25", "": "2025-11-25",
	} {
		_, v := ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+asked+
			`","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
		result := v.(map[string]any)["result"].(map[string]any)
		caps := result["capabilities"].(map[string]any)
		if result["protocolVersion"] != want || caps["tools"] == nil || caps["resources"] == nil {
			t.Errorf("asked %q: got %v, want version %s with tools and resources", asked, result, want)
		}
	}
}

func TestListsAndResources(t *testing.T) {
	ts := newTestServer(t, Options{})
	_, v := ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	tools := v.(map[string]any)["result"].(map[string]any)["tools"].([]any)
	var got []string
	for _, tool := range tools {
		m := tool.(map[string]any)
		got = append(got, m["name"].(string))
		if m["inputSchema"] == nil || m["outputSchema"] == nil || m["annotations"] == nil || m["description"] == "" {
			t.Errorf("tool %v lacks a schema, annotations or description", m["name"])
		}
	}
	want := "create_entities create_relations add_observations delete_entities delete_observations " +
		"delete_relations read_graph search_nodes open_nodes rename_entity replace_observation"
	if strings.Join(got, " ") != want {
		t.Errorf("tools = %v, want %s", got, want)
	}
	_, v = ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"resources/list"}`)
	res := v.(map[string]any)["result"].(map[string]any)["resources"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["uri"] != graphURI {
		t.Errorf("resources = %v", res)
	}
	ts.mustCall(t, "create_entities", map[string]any{"entities": []any{ent("A", "t", "x")}})
	_, v = ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memory://knowledge-graph"}}`)
	contents := v.(map[string]any)["result"].(map[string]any)["contents"].([]any)
	text := contents[0].(map[string]any)["text"].(string)
	if len(contents) != 1 || !strings.Contains(text, "\"name\": \"A\"") {
		t.Errorf("resource contents = %v", contents)
	}
	_, v = ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}`)
	if tpl := v.(map[string]any)["result"].(map[string]any)["resourceTemplates"].([]any); len(tpl) != 0 {
		t.Errorf("resourceTemplates = %v, want []", tpl)
	}
}
