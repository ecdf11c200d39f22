package pgstorage

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the storage from Caddyfile tokens. Syntax:
//
//	storage postgres [<dsn>] {
//		dsn             <connection string>
//		max_connections <n>
//		lock_lease      <duration>
//	}
func (p *Postgres) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "postgres"
	if d.NextArg() {
		p.DSN = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "dsn":
			if !d.NextArg() {
				return d.Errf("dsn needs a connection string, e.g. dsn {env.DATABASE_URL}")
			}
			p.DSN = d.Val()
		case "max_connections":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n <= 0 {
				return d.Errf("max_connections must be a positive number, e.g. max_connections 10 (got %q)", d.Val())
			}
			p.MaxConnections = n
		case "lock_lease":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("lock_lease must be a duration, e.g. lock_lease 15s (got %q)", d.Val())
			}
			p.LockLease = caddy.Duration(dur)
		default:
			return d.Errf("unknown storage postgres option %q (known: dsn, max_connections, lock_lease)", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*Postgres)(nil)
