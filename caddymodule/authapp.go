package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

func init() {
	caddy.RegisterModule(AuthApp{})
}

// DefaultSweepInterval is how often expired authorization state is removed
// from storage when AuthApp.SweepInterval is zero.
const DefaultSweepInterval = 10 * time.Minute

// AuthApp is the "mcp_auth" Caddy app: the process-wide home of the
// authorization servers that mcp_gateway handlers use, the way the `pki` app
// holds the certificate authorities that `acme_server` handlers serve.
//
// Handlers whose authorization settings are the same (the default
// Caddyfile's http and https sites import one snippet) share one server,
// and with it one key ring cache, one set of login, registration and
// client-secret limiters, one revocation cache and one sweeper; issuers
// stay per origin, since the server derives them from each request. The
// app needs no configuration: handlers load it on demand. Configure it with
// the `mcp_auth` global option.
type AuthApp struct {
	// SweepInterval is how often expired codes, grants, clients, revocations
	// and keys are removed from storage. Default 10m.
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`

	servers *sharedServers
	logger  *zap.Logger
	stop    context.CancelFunc
	ctx     caddy.Context
	// lockPath is the data folder's lock file this app holds, if any.
	lockPath string

	// gateways are the handlers that use this app, for the banner.
	gateways *gatewayList
}

// gatewayList is a list of handlers, added to while they provision.
type gatewayList struct {
	mu   sync.Mutex
	list []*Gateway
}

// sharedServers are the app's authorization servers, by sharedServerKey.
type sharedServers struct {
	mu sync.Mutex
	by map[string]*authserver.Server
}

// CaddyModule returns the Caddy module information.
func (AuthApp) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "mcp_auth",
		New: func() caddy.Module { return new(AuthApp) },
	}
}

// Provision applies the defaults and asks to hear when the configuration
// has started, to print the startup banner.
func (a *AuthApp) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.ctx = ctx
	events, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("loading the events app: %v", err)
	}
	if err := events.(*caddyevents.App).On("started", startedHook{a}); err != nil {
		return fmt.Errorf("subscribing to the started event: %v", err)
	}
	a.servers = &sharedServers{by: map[string]*authserver.Server{}}
	a.gateways = &gatewayList{}
	if a.SweepInterval == 0 {
		a.SweepInterval = caddy.Duration(DefaultSweepInterval)
	}
	return nil
}

// Validate checks the configuration.
func (a *AuthApp) Validate() error {
	if a.SweepInterval < 0 {
		return errors.New("mcp_auth: sweep_interval must be positive, e.g. sweep_interval 10m")
	}
	return nil
}

// Start locks the data folder (see dataLockPath) and runs the sweeper.
// (Provisioning alone, as in `caddy validate`, starts nothing and writes
// nothing.)
func (a *AuthApp) Start() error {
	if path := dataLockPath(a.ctx.Storage()); path != "" {
		if err := lockDataFolder(path); err != nil {
			return err
		}
		a.lockPath = path
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go a.sweep(ctx)
	return nil
}

// Stop ends the sweeper and releases the data folder.
func (a *AuthApp) Stop() error {
	if a.stop != nil {
		a.stop()
	}
	if a.lockPath != "" {
		unlockDataFolder(a.lockPath)
	}
	return nil
}

// addGateway records a handler that uses this app.
func (a *AuthApp) addGateway(g *Gateway) {
	a.gateways.mu.Lock()
	defer a.gateways.mu.Unlock()
	a.gateways.list = append(a.gateways.list, g)
}

// server returns the authorization server for key, building it with build
// the first time the key is asked for.
func (a *AuthApp) server(key string, build func() (*authserver.Server, error)) (*authserver.Server, error) {
	a.servers.mu.Lock()
	defer a.servers.mu.Unlock()
	if s := a.servers.by[key]; s != nil {
		return s, nil
	}
	s, err := build()
	if err != nil {
		return nil, err
	}
	a.servers.by[key] = s
	return s, nil
}

// sweep removes expired authorization state of every server until ctx ends.
func (a *AuthApp) sweep(ctx context.Context) {
	t := time.NewTicker(time.Duration(a.SweepInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.servers.mu.Lock()
			servers := slices.Collect(maps.Values(a.servers.by))
			a.servers.mu.Unlock()
			for _, s := range servers {
				if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					a.logger.Warn("sweeping expired authorization state", zap.Error(err))
				}
			}
		}
	}
}

// sharedServerKey identifies the authorization settings of g: handlers
// with equal keys get one server. It covers everything authserverConfig
// reads from g (the placeholders unexpanded, which expand alike).
func (g *Gateway) sharedServerKey() (string, error) {
	type resourceKey struct {
		Path       string              `json:"path"`
		Scopes     []string            `json:"scopes"`
		ToolScopes map[string][]string `json:"tool_scopes"` // the consent page's words
		Allow      *AccessRule         `json:"allow"`
	}
	key := struct {
		Auth         AuthConfig    `json:"auth"`
		PublicOrigin string        `json:"public_origin"`
		Resources    []resourceKey `json:"resources"`
	}{Auth: g.Auth, PublicOrigin: g.PublicOrigin}
	for _, res := range g.Resources {
		key.Resources = append(key.Resources, resourceKey{res.Path, res.Scopes, res.ToolScopes, res.Allow})
	}
	b, err := json.Marshal(key)
	return string(b), err
}

// Interface guards
var (
	_ caddy.App         = (*AuthApp)(nil)
	_ caddy.Provisioner = (*AuthApp)(nil)
	_ caddy.Validator   = (*AuthApp)(nil)
)
