package pgstorage

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver/storagetest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// open returns a handle (another instance) on the database at dsn.
func open(t *testing.T, dsn string, cfg Config) *Storage {
	t.Helper()
	cfg.DSN = dsn
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestConformance runs the storage suite the file storage passes too.
func TestConformance(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	storagetest.RunTests(t, func(t *testing.T) certmagic.Storage { return open(t, dsn, Config{}) })
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
