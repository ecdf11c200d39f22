package transport

import "net/http"

// Routes returns the paths the endpoint answers, Path and Path+"/" (no
// redirect: a 301 turns a POST into a GET), each with the handler. The
// Caddy glue builds its one routing table from these.
func (h *Handler) Routes() map[string]http.Handler {
	return map[string]http.Handler{h.cfg.Path: h, h.cfg.Path + "/": h}
}
