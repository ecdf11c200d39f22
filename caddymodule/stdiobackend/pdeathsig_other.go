//go:build unix && !linux

package stdiobackend

import "syscall"

// dieWithParent has no equivalent outside Linux; Close stops the children.
func dieWithParent(*syscall.SysProcAttr) {}
