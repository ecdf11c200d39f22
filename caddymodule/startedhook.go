package caddymodule

import (
	"context"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// startedHook prints the banner when Caddy's configuration has started:
// every app is running, so the URLs it names answer.
type startedHook struct{ app *AuthApp }

// Handle gathers the banner's facts from the running configuration.
func (h startedHook) Handle(context.Context, caddy.Event) error {
	a := h.app
	a.gateways.mu.Lock()
	gws := append([]*Gateway(nil), a.gateways.list...)
	a.gateways.mu.Unlock()

	var f bannerFacts
	if httpApp, err := a.ctx.AppIfConfigured("http"); err == nil {
		f.URLs = gatewayURLs(httpApp.(*caddyhttp.App), gws)
		f.PlainHTTP = servesPlainHTTP(httpApp.(*caddyhttp.App))
	}
	for _, g := range gws {
		if g.firstUser != "" {
			f.FirstUser, f.Password = g.firstUser, g.oneTimePassword
			f.PasswordConfigured = g.firstUserPasswordSet
			break
		}
	}
	f.Storage, f.RootCert = storagePaths(a.ctx.Storage())
	// The memory server is another module (the gateway does not import
	// it); it tells where its database is.
	if mem, err := a.ctx.AppIfConfigured("memoryserver"); err == nil {
		if db, ok := mem.(interface{ DatabasePath() string }); ok {
			f.MemoryDB = db.DatabasePath()
		}
	}
	printBanner(f)
	return nil
}
