//go:build !unix

package stdiobackend

import (
	"os"
	"os/exec"
)

type signal = os.Signal

// ownGroup has no process groups to set up outside Unix.
func ownGroup(*exec.Cmd) {}

// signalGroup kills the child itself: without process groups its own
// children are not reached.
func signalGroup(pid int, _ signal) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

var (
	sigTerm signal = os.Kill
	sigKill signal = os.Kill
)
