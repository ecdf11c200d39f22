package caddymodule

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// proxyHandler adapts Caddy's reverse_proxy to the http.Handler the
// transport adapter calls. When the proxy fails before answering (backend
// down, timeouts) it writes only the status line; the adapter turns that
// into a JSON-RPC error for the client, and the cause goes to the log.
type proxyHandler struct {
	proxy  caddyhttp.MiddlewareHandler
	outage *outageWarning
}

func (p proxyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := p.proxy.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return nil
	}))
	if err == nil {
		return
	}
	status, cause := http.StatusBadGateway, err
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		if he.StatusCode >= 500 {
			status = he.StatusCode
		}
		if he.Err != nil {
			cause = he.Err
		}
	}
	p.outage.failed(status, cause)
	w.WriteHeader(status)
}
