// Command mcpgate is the Caddy binary with mcpgate's modules compiled in:
// the mcp_gateway HTTP handler and the memoryserver app.
//
//	go run . run          # serves ./Caddyfile
//	go run . help         # every Caddy subcommand, and mcpgate's
package main

import (
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mcpgate/mcpgate/caddymodule"
	_ "github.com/mcpgate/mcpgate/memoryserver/caddyapp"
)

func main() {
	// Usage lines name the command as the operator runs it (mcpgate), not
	// caddy.
	caddy.CustomBinaryName = filepath.Base(os.Args[0])
	caddycmd.Main()
}
