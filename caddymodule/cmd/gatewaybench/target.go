package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// targetLabels describe the targets by their -targets name.
var targetLabels = map[string]string{
	"gateway": "(a) mcp_gateway (token check, adapter) + reverse_proxy",
	"proxy":   "(b) plain reverse_proxy",
	"backend": "(c) memoryserver directly",
}

// target is one MCP endpoint under load.
type target struct {
	// name is the target's -targets name.
	name string
	// url is its MCP endpoint.
	url string
	// header is sent with every request; only the gateway's carries a token.
	header http.Header
}

// The protocol versions -protocol takes.
const (
	legacyProtocol = "2025-06-18"
	modernProtocol = "2026-07-28"
)

// newTarget returns the target name at origin's /mcp, spoken to in
// protocol; a non-empty token is sent as a Bearer token. Under 2026-07-28
// every request carries Mcp-Method and Mcp-Name of the measured call.
func newTarget(name, origin, token, protocol string) target {
	h := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {protocol},
	}
	if protocol == modernProtocol {
		h.Set("Mcp-Method", "tools/call")
		h.Set("Mcp-Name", measuredTool)
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return target{name: name, url: origin + "/mcp", header: h}
}

// post sends body and returns the response; the caller closes its body.
func (t target) post(ctx context.Context, client *http.Client, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = t.header.Clone()
	return client.Do(req)
}

// send is one measured request: it reads the whole reply and wants a 200.
func (t target) send(ctx context.Context, client *http.Client, body []byte) error {
	resp, err := t.post(ctx, client, body)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// callTool sends one tools/call and fails unless it returns a result that
// is not a tool error.
func (t target) callTool(ctx context.Context, client *http.Client, body []byte) error {
	resp, err := t.post(ctx, client, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var reply struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	switch err := json.Unmarshal(data, &reply); {
	case resp.StatusCode != http.StatusOK || err != nil:
		return fmt.Errorf("%s %s: %s", t.name, resp.Status, snippet(data))
	case reply.Error != nil:
		return fmt.Errorf("%s: JSON-RPC error: %s", t.name, reply.Error.Message)
	case reply.Result == nil || reply.Result.IsError:
		return fmt.Errorf("%s: tool failed: %s", t.name, snippet(data))
	}
	return nil
}

// snippet shortens a reply for an error message.
func snippet(b []byte) string {
	const limit = 300
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
