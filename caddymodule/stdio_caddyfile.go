package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseStdio parses
//
//	stdio <command> [<args...>] {
//	    env <KEY> <value>
//	    dir <path>
//	    per_user | shared
//	    idle_timeout <duration>
//	    max_processes <n>
//	    start_timeout <duration>
//	}
func parseStdio(d *caddyfile.Dispenser, res *Resource) error {
	if res.Stdio != nil || res.ProxyRaw != nil {
		return d.Errf("only one backend per resource: stdio or upstream; use a resource block for another")
	}
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("stdio needs the command to run, for example: stdio npx -y @modelcontextprotocol/server-memory")
	}
	s := &StdioBackend{Command: args[0], Args: args[1:]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "env":
			var k, v string
			if !d.AllArgs(&k, &v) {
				return d.Errf("env takes a variable name and one value (quote values with spaces), for example: env MEMORY_FILE_PATH /var/lib/notes/{http.auth.user.id}.json")
			}
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			if _, dup := s.Env[k]; dup {
				return d.Errf("env %s is set twice", k)
			}
			s.Env[k] = v
		case "dir":
			if !d.AllArgs(&s.Dir) {
				return d.ArgErr()
			}
		case "per_user", "shared":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.Shared = opt == "shared"
		case "idle_timeout":
			if err := durationArg(d, &s.IdleTimeout); err != nil {
				return err
			}
		case "start_timeout":
			if err := durationArg(d, &s.StartTimeout); err != nil {
				return err
			}
		case "max_processes":
			var n string
			if !d.AllArgs(&n) {
				return d.ArgErr()
			}
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return d.Errf("max_processes %q is not a positive number", n)
			}
			s.MaxProcesses = v
		default:
			return d.Errf("unrecognized stdio option '%s' (env, dir, per_user, shared, idle_timeout, max_processes, start_timeout)", opt)
		}
	}
	res.Stdio = s
	return nil
}
