package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("mcp_auth", parseAuthAppOption)
}

// parseAuthAppOption sets up the mcp_auth app from the global option
//
//	mcp_auth {
//		sweep_interval <duration>
//	}
//
// The option is optional: every mcp_gateway loads the app with its defaults.
func parseAuthAppOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(AuthApp)
	d.Next() // the option's name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "sweep_interval":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("sweep_interval %q must be a positive duration such as 10m", v)
			}
			app.SweepInterval = caddy.Duration(dur)
		default:
			return nil, d.Errf("unrecognized mcp_auth option %q (known: sweep_interval)", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "mcp_auth", Value: caddyconfig.JSON(app, nil)}, nil
}
