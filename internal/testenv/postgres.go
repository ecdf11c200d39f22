package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns the connection string of the throwaway PostgreSQL
// server bash .ci/run starts ($MCPGATE_POSTGRES_DSN). Without it the test is
// skipped, or failed when MCPGATE_CI=1.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("MCPGATE_POSTGRES_DSN")
	if dsn == "" {
		msg := "testenv: MCPGATE_POSTGRES_DSN is not set; run bash .ci/run, which starts a throwaway PostgreSQL, or point it at a database you can write to"
		if os.Getenv("MCPGATE_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// PostgresDatabase creates an empty database for the test on the server of
// PostgresDSN and returns its connection string; the database is dropped
// when the test ends.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("testenv: MCPGATE_POSTGRES_DSN: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: connecting to MCPGATE_POSTGRES_DSN: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "mcpgate_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: creating a test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return WithDatabase(dsn, name)
}

// WithDatabase returns dsn (a URL or key=value pairs) naming database name.
func WithDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}
