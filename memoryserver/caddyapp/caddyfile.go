package caddyapp

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/mcpgate/mcpgate/memoryserver"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("memoryserver", parseGlobalOption)
}

// parseGlobalOption sets up the memoryserver app from the global option
// block. Syntax:
//
//	memoryserver {
//		listen         <address>
//		db             <path>
//		subject_header [<header>]
//		max_body       <size>
//	}
//
// The block is optional: a bare "memoryserver" runs the app with its
// defaults. subject_header without an argument means X-MCP-Subject. max_body
// takes a size like 4MiB or 4194304.
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // consume option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "listen":
			if !d.AllArgs(&app.Listen) {
				return nil, d.ArgErr()
			}
		case "db":
			if !d.AllArgs(&app.DB) {
				return nil, d.ArgErr()
			}
		case "subject_header":
			app.SubjectHeader = memoryserver.DefaultSubjectHeader
			if d.CountRemainingArgs() > 0 && !d.AllArgs(&app.SubjectHeader) {
				return nil, d.ArgErr()
			}
		case "max_body":
			var size string
			if !d.AllArgs(&size) {
				return nil, d.ArgErr()
			}
			n, err := humanize.ParseBytes(size)
			if err != nil {
				return nil, d.Errf("parsing max_body %q: %v", size, err)
			}
			app.MaxBody = int64(n)
		default:
			return nil, d.Errf("unrecognized memoryserver option %q", d.Val())
		}
	}
	return httpcaddyfile.App{
		Name:  "memoryserver",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}
