package caddymodule

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/stdiobackend"
)

// StdioBackend runs a resource's backend as a local MCP server that speaks
// newline-delimited JSON-RPC on stdin and stdout.
type StdioBackend struct {
	// Command is the program, found in PATH when it has no slash. Required.
	Command string `json:"command,omitempty"`

	// Args are the program's arguments; {http.auth.user.id} is the
	// caller's subject, escaped into one safe path segment; for a client
	// acting on its own (a client_credentials token) "~client" follows, so
	// the client "deploy" never gets the folder of a user "deploy".
	// Default none.
	Args []string `json:"args,omitempty"`

	// Env is the program's environment: these variables plus PATH, HOME,
	// LANG, LC_ALL, TZ and TMPDIR of the gateway's, nothing else of it.
	// {env.*} and {file.*} placeholders are replaced at load,
	// {http.auth.user.id} per user as in Args. Default none.
	Env map[string]string `json:"env,omitempty"`

	// Dir is the program's working directory, created (0700) if missing;
	// {http.auth.user.id} as in Args. Default the gateway's.
	Dir string `json:"dir,omitempty"`

	// Shared runs one process for every user instead of one per verified
	// user, shared by the user's applications, and one per client acting
	// on its own (per_user), which keeps each user's data in a process of
	// its own. Default false (per_user).
	Shared bool `json:"shared,omitempty"`

	// IdleTimeout stops a process that served nothing for that long; the
	// next request starts it again. Default 10m.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// MaxProcesses caps the processes running at once; a user without one
	// beyond it gets 503 with Retry-After. Default 100.
	MaxProcesses int `json:"max_processes,omitempty"`

	// StartTimeout bounds the program's answer to the gateway's
	// initialize. Default 30s.
	StartTimeout caddy.Duration `json:"start_timeout,omitempty"`
}

// config is the stdiobackend configuration with the load-time placeholders
// replaced; {http.auth.user.id} is left for each user.
func (s *StdioBackend) config(repl *caddy.Replacer, logger *zap.Logger) stdiobackend.Config {
	cfg := stdiobackend.Config{
		Command:      repl.ReplaceKnown(s.Command, ""),
		Dir:          repl.ReplaceKnown(s.Dir, ""),
		Shared:       s.Shared,
		IdleTimeout:  time.Duration(s.IdleTimeout),
		MaxProcesses: s.MaxProcesses,
		StartTimeout: time.Duration(s.StartTimeout),
		Logger:       logger,
	}
	for _, a := range s.Args {
		cfg.Args = append(cfg.Args, repl.ReplaceKnown(a, ""))
	}
	if len(s.Env) > 0 {
		cfg.Env = maps.Clone(s.Env)
		for k, v := range cfg.Env {
			cfg.Env[k] = repl.ReplaceKnown(v, "")
		}
	}
	return cfg
}

// provisionStdio starts the stdio backend of res; Cleanup closes it.
func (g *Gateway) provisionStdio(repl *caddy.Replacer, res *Resource) (*stdiobackend.Backend, error) {
	b, err := stdiobackend.New(res.Stdio.config(repl, g.logger.Named("stdio").With(zap.String("resource", res.Path))))
	if err != nil {
		return nil, err
	}
	g.stdio = append(g.stdio, b)
	return b, nil
}

// provisionSSE puts sessions on a legacy HTTP+SSE server, one per user, in
// front of the resource's reverse proxy; Cleanup closes them.
func (g *Gateway) provisionSSE(res *Resource, proxy http.Handler) (*stdiobackend.Backend, error) {
	b, err := stdiobackend.New(stdiobackend.Config{SSE: proxy, Logger: g.logger.Named("sse").With(zap.String("resource", res.Path))})
	if err != nil {
		return nil, err
	}
	g.stdio = append(g.stdio, b)
	return b, nil
}

// Cleanup ends the backend sessions held for 2026-07-28 clients, stops
// every stdio process and closes every SSE session of this configuration:
// Caddy calls it on the old configuration after a reload, and at shutdown.
func (g *Gateway) Cleanup() error {
	for _, tr := range g.transports {
		_ = tr.Close()
	}
	for _, b := range g.stdio {
		_ = b.Close()
	}
	return nil
}

// validateBackend reports a resource with no backend or two.
func (res *Resource) validateBackend() error {
	switch {
	case res.UpstreamTransport != "" && res.UpstreamTransport != "http" && res.UpstreamTransport != "sse":
		return fmt.Errorf("upstream_transport %q must be http (the default) or sse (the legacy 2024-11-05 HTTP+SSE transport)", res.UpstreamTransport)
	case res.UpstreamTransport == "sse" && res.Stdio != nil:
		return errors.New("upstream_transport sse applies to an upstream, not to a stdio command")
	case res.Stdio != nil && res.ProxyRaw != nil:
		return fmt.Errorf("resource %s has both an upstream and a stdio command: keep one", res.Path)
	case res.Stdio != nil:
		cfg := res.Stdio.config(caddy.NewReplacer(), nil)
		return cfg.Validate()
	}
	return nil
}
