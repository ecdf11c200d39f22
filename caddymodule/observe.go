package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

// requestObserver records each MCP request's metrics, puts who called
// into Caddy's access log, and logs the request's detail at Debug. It never
// logs a token: only who (sub, client_id) did what (method, tool).
func (g *Gateway) requestObserver(resource string) func(transport.Event) {
	return func(ev transport.Event) {
		id, identified := guard.IdentityFrom(ev.Request.Context())
		if identified {
			annotateAccessLog(ev.Request, id, ev.Method)
		}
		if ev.Method == "tools/call" {
			g.auditToolCall(resource, ev, id)
		}
		method := metricMethod(ev.Method)
		g.metrics.requests.WithLabelValues(resource, method, ev.Outcome).Inc()
		if ev.Upstream > 0 {
			g.metrics.upstream.WithLabelValues(resource, method).Observe(ev.Upstream.Seconds())
		}
		ce := g.logger.Check(zapcore.DebugLevel, "mcp request")
		if ce == nil {
			return
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
		if identified {
			fields = append(fields, zap.String("sub", id.Subject), zap.String("client_id", id.ClientID))
		}
		ce.Write(fields...)
	}
}

// annotateAccessLog puts the verified caller into Caddy's access log, the
// way caddyauth does: the subject as {http.auth.user.id} (the log's
// user_id), the client id and the MCP method as extra fields. So the access
// log alone answers "who called what".
func annotateAccessLog(r *http.Request, id guard.Identity, method string) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user.id", id.Subject)
	}
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.String("mcp_client_id", id.ClientID))
		if method != "" {
			extra.Set(zap.String("mcp_method", clip(method)))
		}
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
