package caddymodule

import (
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
)

// The startup banner: after a configuration with an mcp_gateway has
// started (Caddy's "started" event), one short block on standard error
// says where to connect, who logs in, where the data lives and how to
// trust the local CA: what a newcomer otherwise digs out of the JSON log.
// It is printed once per process: a reload (`caddy reload`, the admin API)
// starts the configuration again and must not repeat it.

// banner is the process's banner state: where it goes, and whether it was
// printed.
var banner = struct {
	sync.Mutex
	out     io.Writer
	printed bool
}{out: os.Stderr}

// bannerFacts is what the banner says.
type bannerFacts struct {
	// URLs are the MCP endpoints, plain HTTP first.
	URLs []string
	// FirstUser is the first_user's name, "" without one.
	FirstUser string
	// Password is the first user's generated password while it is still
	// to be used for a first login; "" once it was.
	Password string
	// PasswordConfigured says the first user's password comes from the
	// configuration (MCPGATE_PASSWORD), so `mcp passwd` does not apply.
	PasswordConfigured bool
	// Storage is the absolute path of the file storage, "" for other
	// storages.
	Storage string
	// MemoryDB is the memory server's database, "" without one.
	MemoryDB string
	// RootCert is the absolute path of the local CA's root certificate, ""
	// when no site uses it.
	RootCert string
	// PlainHTTP is set when some site serves plain HTTP (its Caddy
	// warnings are then explained).
	PlainHTTP bool
}

// printBanner writes the banner unless this process already did.
func printBanner(f bannerFacts) {
	banner.Lock()
	defer banner.Unlock()
	if banner.printed {
		return
	}
	banner.printed = true
	fmt.Fprint(banner.out, f.String())
}

// String renders the banner.
func (f bannerFacts) String() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("")
	line("  mcpgate is running.")
	line("")
	if len(f.URLs) > 0 {
		line("  MCP endpoint:   %s", f.URLs[0])
		for _, u := range f.URLs[1:] {
			line("                  %s", u)
		}
	}
	if f.FirstUser != "" {
		switch {
		case f.PasswordConfigured:
			line("  First user:     %s (password from the configuration)", terminalSafe(f.FirstUser))
		case f.Password != "":
			line("  First user:     %s, password %s", terminalSafe(f.FirstUser), f.Password)
			line("                  (shown until it is first used to log in; `%s mcp passwd %s` sets a new one)", commandName(), terminalSafe(f.FirstUser))
		default:
			line("  First user:     %s (forgot the password? `%s mcp passwd %s`)", terminalSafe(f.FirstUser), commandName(), terminalSafe(f.FirstUser))
		}
	}
	if f.Storage != "" {
		line("  Data:           %s (keys, clients, grants, local CA)", f.Storage)
	}
	if f.MemoryDB != "" {
		line("                  %s (memory)", f.MemoryDB)
	}
	if f.RootCert != "" {
		line("  Local CA:       trust it with `%s trust`, or for Node.js clients", commandName())
		line("                  export NODE_EXTRA_CA_CERTS=%s", f.RootCert)
	}
	if len(f.URLs) > 0 {
		line("")
		line("  Connect Claude Code:")
		line("      claude mcp add --transport http memory %s", f.URLs[0])
		line("      claude mcp login memory")
	}
	if f.PlainHTTP {
		line("")
		line("  The warnings above about automatic HTTPS on the HTTP port are expected: the")
		line("  plain-HTTP site serves loopback only, as OAuth allows for this machine (RFC 8252).")
	}
	line("")
	return b.String()
}

// gatewayURLs returns the MCP URLs of the gateways in gws, as the http
// app's servers reach them: each site's hosts (localhost when a site
// matches any host), on each server's port, http before https. IPv6
// literals are left out to keep the list short; they work the same.
func gatewayURLs(app *caddyhttp.App, gws []*Gateway) []string {
	var plain, secure []string
	for _, name := range slices.Sorted(maps.Keys(app.Servers)) {
		srv := app.Servers[name]
		sites := map[*Gateway][]string{}
		findGateways(srv.Routes, nil, sites)
		scheme := "http"
		if len(srv.TLSConnPolicies) > 0 {
			scheme = "https"
		}
		port := ""
		for _, l := range srv.Listen {
			if addr, err := caddy.ParseNetworkAddress(l); err == nil {
				port = fmt.Sprint(addr.StartPort)
				break
			}
		}
		for _, g := range gws {
			hosts, ok := sites[g]
			if !ok {
				continue
			}
			if len(hosts) == 0 {
				hosts = []string{"localhost"}
			}
			for _, h := range hosts {
				if strings.Contains(h, ":") || strings.Contains(h, "*") {
					continue
				}
				for _, res := range g.Resources {
					var u string
					if g.PublicOrigin != "" {
						u = g.PublicOrigin + res.Path
					} else {
						u = scheme + "://" + net.JoinHostPort(h, port) + res.Path
					}
					if scheme == "https" {
						secure = appendNew(secure, u)
					} else {
						plain = appendNew(plain, u)
					}
				}
			}
		}
	}
	return append(plain, secure...)
}

// findGateways records, for every gateway in routes (subroutes included),
// the hosts its route matches (nil: any host).
func findGateways(routes caddyhttp.RouteList, hosts []string, into map[*Gateway][]string) {
	for _, r := range routes {
		h := hosts
		for _, set := range r.MatcherSets {
			for _, m := range set {
				if mh, ok := m.(*caddyhttp.MatchHost); ok {
					h = append(slices.Clone(h), *mh...)
				}
			}
		}
		for _, handler := range r.Handlers {
			switch handler := handler.(type) {
			case *Gateway:
				into[handler] = h
			case *caddyhttp.Subroute:
				findGateways(handler.Routes, h, into)
			}
		}
	}
}

// servesPlainHTTP reports whether some server of app listens without TLS.
func servesPlainHTTP(app *caddyhttp.App) bool {
	for _, srv := range app.Servers {
		if len(srv.TLSConnPolicies) == 0 {
			return true
		}
	}
	return false
}

// storagePaths returns the absolute folder of a file storage and its
// local CA root certificate when that exists ("" otherwise).
func storagePaths(s certmagic.Storage) (folder, rootCert string) {
	fs, ok := s.(*certmagic.FileStorage)
	if !ok {
		return "", ""
	}
	folder, err := filepath.Abs(fs.Path)
	if err != nil {
		folder = fs.Path
	}
	root := filepath.Join(folder, "pki", "authorities", "local", "root.crt")
	if _, err := os.Stat(root); err == nil {
		rootCert = root
	}
	return folder, rootCert
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
