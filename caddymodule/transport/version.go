package transport

import (
	"net/http"
	"slices"
)

// protocolVersions are the published MCP protocol revisions. An absent
// header means 2025-03-26 (per the 2025-06-18 transport specification),
// which is published, so absence is valid.
var protocolVersions = []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}

// validProtocolVersion reports whether the MCP-Protocol-Version header is
// absent (or empty) or a single published revision.
func validProtocolVersion(h http.Header) bool {
	values := h.Values("MCP-Protocol-Version")
	return len(values) == 0 || len(values) == 1 && (values[0] == "" || slices.Contains(protocolVersions, values[0]))
}
