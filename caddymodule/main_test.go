package caddymodule_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// runAsCaddyEnv, set in a child's environment, makes this test binary the
// mcpgate command (Caddy's main with these modules), so tests can run
// real, separate instances: see startCopy.
const runAsCaddyEnv = "MCPGATE_TEST_RUN_AS_CADDY"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCaddyEnv) == "1" {
		caddy.CustomBinaryName = filepath.Base(os.Args[0]) // as main.go does
		caddycmd.Main()
		return
	}
	os.Exit(m.Run())
}
