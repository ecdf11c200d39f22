package stdiobackend

import "syscall"

// dieWithParent asks Linux to kill the child when the gateway dies without
// cleaning up (SIGKILL, a crash), so no child outlives it.
func dieWithParent(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
