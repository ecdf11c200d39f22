package testenv

import (
	"net"
	"sync"
)

// handedOut remembers the ports FreeAddr returned in this process: the
// kernel may offer a just-closed port again at once, and a test that asks
// for two addresses (a site and its backend) must not get the same one.
var handedOut struct {
	sync.Mutex
	ports map[string]bool
}

// FreeAddr returns a loopback address (127.0.0.1:port) that nothing listens
// on right now and that it has not returned before in this process, for a
// server a test or benchmark is about to start. Another process can still
// take it meanwhile: callers that start servers retry on a collision.
func FreeAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[string]bool{}
	}
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut.ports[addr] {
			handedOut.ports[addr] = true
			return addr, nil
		}
	}
}
