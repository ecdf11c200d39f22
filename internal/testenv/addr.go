package testenv

import "net"

// FreeAddr returns a loopback address (127.0.0.1:port) that nothing listens
// on right now, for a server a test or benchmark is about to start.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
