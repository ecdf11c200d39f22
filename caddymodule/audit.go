package caddymodule

import (
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

// The audit trail is the logger http.handlers.mcp_gateway.audit, so
// operators route it with Caddy's log options (include/exclude, its own
// output). It gets one Info entry per tool call ("tool call", here) and
// one per authorization decision ("authorization", from the authorization
// server): who (sub, groups), which client (client_id, client_kind:
// pre-registered, cimd with client_host, or dcr), which resource, method
// and tool, the decision, the HTTP status and the latency. Never a
// tool's arguments or results, never a token.

// auditToolCall writes the entry of one tools/call request. A call the
// gate refused has no identity: it is recorded with an empty sub.
func (g *Gateway) auditToolCall(resource string, ev transport.Event, id guard.Identity) {
	ce := g.audit.Check(zap.InfoLevel, "tool call")
	if ce == nil {
		return
	}
	decision := "allowed"
	switch ev.Outcome {
	case transport.OutcomeRefused, transport.OutcomeInvalid:
		decision = "refused"
	case transport.OutcomeUpstreamError, transport.OutcomeTimeout:
		decision = "failed"
	}
	kind, host := g.server.ClientKind(id.ClientID)
	if id.ClientID == "" {
		kind = ""
	}
	fields := []zap.Field{
		zap.String("sub", id.Subject),
		zap.Strings("groups", id.Groups),
		zap.String("client_id", id.ClientID),
		zap.String("client_kind", kind),
		zap.String("resource", resource),
		zap.String("method", ev.Method),
		zap.String("tool", clip(ev.Tool)),
		zap.String("decision", decision),
		zap.Int("status", ev.Status),
		zap.Duration("latency", ev.Duration),
	}
	if host != "" {
		fields = append(fields, zap.String("client_host", host))
	}
	ce.Write(fields...)
}
