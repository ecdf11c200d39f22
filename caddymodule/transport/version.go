package transport

import (
	"net/http"
	"slices"
)

// protocolVersions are the published MCP protocol revisions the gateway
// serves, newest first. An absent header means 2025-03-26 (per the
// 2025-06-18 transport specification), which is published, so absence is
// valid.
var protocolVersions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// checkProtocolVersion refuses an MCP-Protocol-Version header that is not
// absent (or empty) or a single published revision, with the
// UnsupportedProtocolVersion error that lists what is served.
func checkProtocolVersion(h http.Header) *rejection {
	values := h.Values("MCP-Protocol-Version")
	switch {
	case len(values) == 0 || len(values) == 1 && (values[0] == "" || slices.Contains(protocolVersions, values[0])):
		return nil
	case len(values) == 1:
		return unsupportedVersion(values[0], protocolVersions)
	}
	return unsupportedVersion("(more than one MCP-Protocol-Version header)", protocolVersions)
}
