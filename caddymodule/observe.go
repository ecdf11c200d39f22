package caddymodule

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

// requestObserver logs each MCP request and records its metrics. It never
// logs a token: only who (sub, client_id) did what (method, tool).
func (g *Gateway) requestObserver(resource string) func(transport.Event) {
	return func(ev transport.Event) {
		method := metricMethod(ev.Method)
		g.metrics.requests.WithLabelValues(resource, method, ev.Outcome).Inc()
		if ev.Upstream > 0 {
			g.metrics.upstream.WithLabelValues(resource, method).Observe(ev.Upstream.Seconds())
		}
		fields := []zap.Field{
			zap.String("resource", resource),
			zap.String("method", clip(ev.Method)),
			zap.Int("status", ev.Status),
			zap.String("outcome", ev.Outcome),
			zap.Duration("duration", ev.Duration),
		}
		if ev.Tool != "" {
			fields = append(fields, zap.String("tool", clip(ev.Tool)))
		}
		if id, ok := guard.IdentityFrom(ev.Request.Context()); ok {
			fields = append(fields, zap.String("sub", id.Subject), zap.String("client_id", id.ClientID))
		}
		g.logger.Info("mcp request", fields...)
	}
}

// authFailureObserver counts requests the guard refused, by reason.
func (g *Gateway) authFailureObserver(resource string) func(*http.Request, string) {
	return func(_ *http.Request, reason string) {
		g.metrics.authFailures.WithLabelValues(resource, reason).Inc()
	}
}

// knownMethods are the MCP methods that get their own metric label; any
// other name a client sends is counted as "other", so clients cannot grow
// the metric's label set without bound.
var knownMethods = map[string]bool{
	"initialize": true, "ping": true, "server/discover": true,
	"tools/list": true, "tools/call": true,
	"resources/list": true, "resources/read": true, "resources/templates/list": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
	"prompts/list": true, "prompts/get": true,
	"completion/complete": true, "logging/setLevel": true,
	"notifications/initialized": true, "notifications/cancelled": true,
}

func metricMethod(method string) string {
	switch {
	case method == "":
		return "none"
	case knownMethods[method]:
		return method
	default:
		return "other"
	}
}

// maxLoggedName bounds the method and tool names a log line carries: they
// come from the client, which could otherwise make every line megabytes.
const maxLoggedName = 128

func clip(name string) string {
	if len(name) <= maxLoggedName {
		return name
	}
	return name[:maxLoggedName] + "…"
}
