package caddyapp

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/caddyserver/caddy/v2"

	"github.com/mcpgate/mcpgate/internal/procinfo"
)

// checkAddressFree refuses an address another process listens on. Caddy's
// listeners set SO_REUSEPORT, so without this check a second copy would
// bind the same port silently and the kernel would split the gateway's
// requests between two memory servers with different databases. A plain
// listen (no SO_REUSEPORT) fails when anyone holds the port; it is only
// tried when this process does not hold the address itself (a reload
// starts the new app while the old one still listens).
func (a *App) checkAddressFree() error {
	if caddy.IsUnixNetwork(a.addr.Network) {
		return nil
	}
	hostport := a.addr.JoinHostPort(0)
	if caddy.ListenerUsage(a.addr.Network, hostport) > 0 {
		return nil
	}
	ln, err := net.Listen(a.addr.Network, hostport)
	if err == nil {
		return ln.Close()
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen %s: %v", a.Listen, err)
	}
	holder := "another process"
	if pid := procinfo.TCPListener(int(a.addr.StartPort)); pid != 0 {
		holder = procinfo.Describe(pid)
	}
	return fmt.Errorf("listen %s: the address is taken by %s; stop it, or give this memory server another address (listen, MCPGATE_MEMORY_ADDR in the default Caddyfile)", a.Listen, holder)
}
