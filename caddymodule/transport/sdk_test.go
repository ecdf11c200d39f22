package transport

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestGoSDKStreamingBackend puts the official Go SDK's Streamable HTTP
// server (SSE replies, sessions, GET stream) behind the adapter and talks to
// it with the SDK's client: sessions pass both ways, SSE replies stream
// through, and closing the client DELETEs the backend's session.
func TestGoSDKStreamingBackend(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "backend", Version: "test"}, nil)
	type echoArgs struct {
		Text string `json:"text"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	b := &recordingHandler{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)}
	url := gateway(t, Config{StreamGET: true}, proxyTo(t, b))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "test"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if session.ID() == "" {
		t.Error("the backend's session id did not reach the client")
	}
	tools, err := session.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 1 {
		t.Fatalf("tools/list: %v %v", tools, err)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through the gateway"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "through the gateway" {
		t.Fatalf("tools/call: %+v %v", res, err)
	}
	if err := session.Close(); err != nil {
		t.Fatal(err)
	}
	if !b.saw(http.MethodDelete) {
		t.Error("closing the session did not reach the backend")
	}
}

// recordingHandler records the HTTP methods it served.
type recordingHandler struct {
	next http.Handler

	mu      sync.Mutex
	methods []string
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.methods = append(h.methods, r.Method)
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

func (h *recordingHandler) saw(method string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.methods, method)
}
