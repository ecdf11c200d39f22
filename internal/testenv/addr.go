package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// handedOut remembers the ports FreeAddr returned in this process: a test
// that asks for two addresses (a site and its backend) must not get the
// same one.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// lowestPort is where FreeAddr's ports start: above the well-known and
// commonly configured ones.
const lowestPort = 20000

// FreeAddr returns a loopback address (127.0.0.1:port) that nothing listens
// on right now and that it has not returned before in this process, for a
// server a test or benchmark is about to start. The port is below the
// kernel's ephemeral range: a port from that range can be taken meanwhile
// by any process's outgoing connection (a browser's, a Node tool's), which
// then keeps the server from listening on it, and the caller cannot always
// choose another (a provider was already told a redirect URI with it).
// Another process can still take the port on purpose: callers that start
// servers retry on a collision.
func FreeAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	highest := ephemeralLow() - 1
	for range 1000 {
		port := lowestPort + rand.IntN(highest-lowestPort+1)
		if handedOut.ports[port] {
			continue
		}
		// Caddy listens on all interfaces: check those, not only loopback.
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		handedOut.ports[port] = true
		return "127.0.0.1:" + strconv.Itoa(port), nil
	}
	return "", fmt.Errorf("no free port between %d and %d after 1000 tries", lowestPort, highest)
}

// ephemeralLow is the lowest port the kernel gives outgoing connections
// (Linux's ip_local_port_range, 32768 by default).
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low > lowestPort+1000 {
				return low
			}
		}
	}
	return 32768
}
