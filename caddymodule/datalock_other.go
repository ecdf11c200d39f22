//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package caddymodule

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// tryLockFile takes no lock where flock is missing (Windows, ...): there a
// second copy on the same data folder is not detected.
func tryLockFile(*os.File) error { return nil }
