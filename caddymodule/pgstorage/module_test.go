package pgstorage_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"

	"github.com/mcpgate/mcpgate/caddymodule/pgstorage"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

func provision(t *testing.T, p *pgstorage.Postgres) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	err := p.Provision(ctx)
	if err == nil {
		t.Cleanup(func() { p.Cleanup() })
	}
	return err
}

func TestProvisionNeedsADSN(t *testing.T) {
	err := provision(t, &pgstorage.Postgres{DSN: "{env.MCPGATE_TEST_UNSET_DSN}"})
	if err == nil || !strings.Contains(err.Error(), "dsn {env.DATABASE_URL}") {
		t.Fatalf("Provision = %v; want an error showing how to set the dsn", err)
	}
}

// TestProvisionWithoutDatabaseKeepsCaddyRunning: an unreachable database
// at start is logged, not fatal (Caddy serves what does not need storage),
// and the storage answers each call with the reason.
func TestProvisionWithoutDatabaseKeepsCaddyRunning(t *testing.T) {
	addr, err := testenv.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCPGATE_TEST_DSN", "postgres://gw@"+addr+"/auth")
	p := &pgstorage.Postgres{DSN: "{env.MCPGATE_TEST_DSN}"}
	if err := provision(t, p); err != nil {
		t.Fatalf("Provision failed with the database down: %v", err)
	}
	s, err := p.CertMagicStorage()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), "k"); err == nil || !strings.Contains(err.Error(), addr+"/auth") {
		t.Fatalf("Load = %v; want the unreachable database named", err)
	}
}

// TestProvisionCreatesTheSchema: the first start against an empty
// database leaves it ready.
func TestProvisionCreatesTheSchema(t *testing.T) {
	p := &pgstorage.Postgres{DSN: testenv.PostgresDatabase(t)}
	if err := provision(t, p); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var ready bool
	if err := conn.QueryRow(t.Context(), `SELECT to_regclass('mcpgate_storage') IS NOT NULL`).Scan(&ready); err != nil || !ready {
		t.Fatalf("the schema was not prepared at provisioning (%v)", err)
	}
	s, err := p.CertMagicStorage()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store(t.Context(), "certificates/x.crt", []byte("pem")); err != nil {
		t.Fatal(err)
	}
}

func TestValidateTellsWhatToFix(t *testing.T) {
	p := pgstorage.Postgres{MaxConnections: -1, LockLease: 1}
	err := p.Validate()
	for _, want := range []string{"max_connections 10", "lock_lease 15s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to say %q", err, want)
		}
	}
}
