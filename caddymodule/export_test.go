package caddymodule

import (
	"strings"
	"testing"
)

// CaptureBanner makes this process's next startup banner (as if none had
// been printed yet) go to the returned function's result instead of
// standard error, until the test ends.
func CaptureBanner(t testing.TB) func() string {
	var b strings.Builder
	banner.Lock()
	out, printed := banner.out, banner.printed
	banner.out, banner.printed = &b, false
	banner.Unlock()
	t.Cleanup(func() {
		banner.Lock()
		banner.out, banner.printed = out, printed
		banner.Unlock()
	})
	return func() string {
		banner.Lock()
		defer banner.Unlock()
		return b.String()
	}
}
