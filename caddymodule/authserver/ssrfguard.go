package authserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// The SSRF guard of client metadata documents. A client_id URL is chosen by
// whoever opens /authorize, so without it anyone could make the gateway
// request its own admin endpoints, the backends beside it, or the cloud
// metadata service (169.254.169.254, which hands out credentials) and read
// the answer back from the error page or time it.

// blockedPrefixes are the address ranges a document is never fetched from,
// beyond what netip's predicates cover (loopback, private, link-local,
// multicast, unspecified).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network": 0.1.2.3 reaches the local host on Linux
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, also Alibaba's metadata 100.100.100.200
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (Oracle's metadata 192.0.0.192)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, used for internal networks
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds an IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an (obfuscated) IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local, still routed internally
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (::127.0.0.1), routed by sit tunnels
	netip.MustParsePrefix("::ffff:0:0:0/96"), // SIIT IPv4-translated: embeds an IPv4 address
}

// forbiddenAddress says why ip must not be dialed, or "" when it is a
// public unicast address. An IPv4 address written as IPv6 (::ffff:127.0.0.1)
// is judged as the IPv4 address it is.
func forbiddenAddress(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate(): // also fc00::/7, where AWS puts its IPv6 metadata (fd00:ec2::254)
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata services live there)"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return "a special-purpose address (" + p.String() + ")"
		}
	}
	return ""
}

// guardedDialer dials only addresses the guard allows, resolving a name
// once and connecting to the very address it checked: a second lookup by
// the standard dialer could answer differently (DNS rebinding, a TTL of 0
// alternating between a public and a loopback address).
type guardedDialer struct {
	resolve      func(ctx context.Context, host string) ([]netip.Addr, error)
	allowPrivate bool
	// admit counts a connection to an address and reports whether it is
	// within the rate limit: any number of names can point at one victim.
	// ctx is the fetch's, which says whose budget it is (fetchClass).
	admit  func(ctx context.Context, ip netip.Addr) bool
	dialer net.Dialer
}

// errForbiddenAddress marks a refusal of the guard, as opposed to a host
// that could not be reached; errTooManyConnections one of the rate limit.
var (
	errForbiddenAddress   = errors.New("forbidden address")
	errTooManyConnections = errors.New("too many connections to this address")
)

func newGuardedDialer(resolve func(ctx context.Context, host string) ([]netip.Addr, error), allowPrivate bool, admit func(context.Context, netip.Addr) bool) *guardedDialer {
	g := &guardedDialer{resolve: resolve, allowPrivate: allowPrivate, admit: admit}
	// The last line of defence: whatever address the connection is made
	// to, it is checked again right before connect(2).
	g.dialer.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an address and port", errForbiddenAddress, address)
		}
		return g.check(ap.Addr())
	}
	return g
}

func (g *guardedDialer) check(ip netip.Addr) error {
	if g.allowPrivate {
		return nil
	}
	if why := forbiddenAddress(ip); why != "" {
		return fmt.Errorf("%w: %s is %s", errForbiddenAddress, ip.Unmap(), why)
	}
	return nil
}

// DialContext resolves host and connects to the first allowed address. If
// any address of the name is forbidden, none is dialed: a name that mixes
// public and internal addresses is an attack, not a misconfiguration.
func (g *guardedDialer) DialContext(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = g.resolve(ctx, host); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for _, ip := range addrs {
		if err := g.check(ip); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
	}
	var errs []error
	for _, ip := range addrs {
		if !g.admit(ctx, ip) {
			errs = append(errs, fmt.Errorf("%w (%s)", errTooManyConnections, ip.Unmap()))
			continue
		}
		conn, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// systemResolve is the default resolver: the system's, once per fetch.
func systemResolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
