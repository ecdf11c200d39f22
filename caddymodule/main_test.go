package caddymodule_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/mcpgate/mcpgate/internal/testenv"
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
	ca, err := testenv.TrustThrowawayCA()
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the test CA:", err)
		os.Exit(1)
	}
	testCA = ca
	code := m.Run()
	ca.Close()
	os.Exit(code)
}
