// Command mcpgate is the Caddy binary with the mcpgate modules compiled in.
//
//	go run . run          # serves ./Caddyfile
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
