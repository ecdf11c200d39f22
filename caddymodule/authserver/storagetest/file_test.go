package storagetest_test

import (
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver/storagetest"
)

// TestFileStorage runs the suite on Caddy's default storage.
func TestFileStorage(t *testing.T) {
	dir := t.TempDir()
	storagetest.RunTests(t, func(t *testing.T) certmagic.Storage {
		return &certmagic.FileStorage{Path: dir}
	})
}
