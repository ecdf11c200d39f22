// Package caddyapp runs memoryserver inside a Caddy process as the Caddy app
// "memoryserver", so one Caddyfile (and one command) serves both the gateway
// and its default backend. The memory server still listens on its own
// loopback address and the gateway reaches it over HTTP like any backend.
package caddyapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/memoryserver"
)

func init() {
	caddy.RegisterModule(App{})
}

// shutdownTimeout bounds how long Stop waits for in-flight requests (each
// one a single tool call) before closing their connections.
const shutdownTimeout = 10 * time.Second

// App is the "memoryserver" Caddy app: a knowledge-graph memory server
// speaking plain JSON-RPC over HTTP POST at /mcp and /tools on a loopback
// address of its own.
type App struct {
	// Listen is the address to serve on, in Caddy's network address form
	// (host:port, or unix//path/to/socket). Only loopback addresses and unix
	// sockets are accepted: the server has no authentication of its own.
	// Default: 127.0.0.1:17800.
	Listen string `json:"listen,omitempty"`

	// DB is the path of the SQLite database, created with its parent
	// directories when missing. Default: memoryserver/memory.db in Caddy's
	// data directory.
	DB string `json:"db,omitempty"`

	// SubjectHeader turns on per-user memory: the request header of this name
	// (the verified user the gateway forwards, e.g. X-MCP-Subject) selects
	// whose graph a request reads and writes. Default: off, every request
	// uses one shared graph. Only safe when nothing but the gateway can
	// reach Listen.
	SubjectHeader string `json:"subject_header,omitempty"`

	// MaxBody is the largest request body accepted, in bytes. Default:
	// 4 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	addr   caddy.NetworkAddress
	server *memoryserver.Server
	http   *http.Server
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "memoryserver",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision resolves placeholders and defaults.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	for _, field := range []*string{&a.Listen, &a.DB, &a.SubjectHeader} {
		v, err := repl.ReplaceOrErr(*field, false, true)
		if err != nil {
			return err
		}
		*field = v
	}
	if a.Listen == "" {
		a.Listen = memoryserver.DefaultListen
	}
	if a.DB == "" {
		a.DB = filepath.Join(caddy.AppDataDir(), "memoryserver", "memory.db")
	}
	if a.MaxBody == 0 {
		a.MaxBody = memoryserver.DefaultMaxBodyBytes
	}
	addr, err := caddy.ParseNetworkAddress(a.Listen)
	if err != nil {
		return fmt.Errorf("listen: %v", err)
	}
	a.addr = addr
	return nil
}

// Validate refuses addresses other than a single loopback TCP port or a
// unix socket, and a negative body limit.
func (a *App) Validate() error {
	if a.MaxBody < 0 {
		return fmt.Errorf("max_body must not be negative: %d", a.MaxBody)
	}
	switch a.addr.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("listen %q: network %s is not a stream socket (tcp or unix)", a.Listen, a.addr.Network)
	}
	if a.addr.PortRangeSize() != 1 {
		return fmt.Errorf("listen %q: need exactly one port", a.Listen)
	}
	if !isLoopback(a.addr) {
		return fmt.Errorf("listen %q: not a loopback address; memoryserver has no authentication and must only be reachable through the gateway", a.Listen)
	}
	return nil
}

// DatabasePath is the absolute path of the database, for the gateway's
// startup banner.
func (a *App) DatabasePath() string {
	if abs, err := filepath.Abs(a.DB); err == nil {
		return abs
	}
	return a.DB
}

// Start opens the database and begins serving. The listener comes from
// Caddy's listener pool, so a config reload that keeps the address does not
// fail with "address already in use" while the old config still runs.
func (a *App) Start() error {
	server, err := memoryserver.Open(context.Background(), a.DB, memoryserver.Options{
		SubjectHeader: a.SubjectHeader,
		MaxBodyBytes:  a.MaxBody,
		Logger:        a.logger,
	})
	if err != nil {
		return fmt.Errorf("opening %s: %v", a.DB, err)
	}
	if err := a.checkAddressFree(); err != nil {
		server.Close()
		return err
	}
	ln, err := a.addr.Listen(context.Background(), 0, net.ListenConfig{})
	if err != nil {
		server.Close()
		return fmt.Errorf("listen %s: %v", a.Listen, err)
	}
	a.server = server
	a.http = &http.Server{
		Handler: a.server,
		// Slow-loris guard; bodies are bounded by MaxBody.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(a.logger),
	}
	go func() {
		if err := a.http.Serve(ln.(net.Listener)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("serving stopped", zap.Error(err))
		}
	}()
	a.logger.Info("serving",
		zap.String("listen", a.addr.String()),
		zap.String("db", a.DB),
		zap.Bool("per_user", a.SubjectHeader != ""))
	return nil
}

// Stop stops accepting requests, waits (within shutdownTimeout) for those
// in flight and closes the database.
func (a *App) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return errors.Join(a.http.Shutdown(ctx), a.server.Close())
}

// isLoopback reports whether addr can only be reached from this host.
func isLoopback(addr caddy.NetworkAddress) bool {
	if addr.IsUnixNetwork() {
		return true
	}
	if addr.Host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(addr.Host)
	return err == nil && ip.IsLoopback()
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
