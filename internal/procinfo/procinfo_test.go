package procinfo

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestTCPListenerFindsThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if pid := TCPListener(port); pid != os.Getpid() {
		t.Errorf("TCPListener(%d) = %d, want this process %d", port, pid, os.Getpid())
	}
	ln.Close()
	if pid := TCPListener(port); pid != 0 {
		t.Errorf("TCPListener(%d) after close = %d, want 0", port, pid)
	}
}

func TestDescribeNamesTheCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	d := Describe(os.Getpid())
	if !strings.Contains(d, "procinfo.test") || strings.ContainsAny(d, "\x00\n") {
		t.Errorf("Describe(self) = %q", d)
	}
}
