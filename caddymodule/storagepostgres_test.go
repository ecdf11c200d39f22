package caddymodule_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/jackc/pgx/v5"

	"github.com/mcpgate/mcpgate/caddymodule"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

func provisionPostgres(t *testing.T, p *caddymodule.PostgresStorage) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	err := p.Provision(ctx)
	if err == nil {
		t.Cleanup(func() { p.Cleanup() })
	}
	return err
}

func TestPostgresStorageNeedsADSN(t *testing.T) {
	err := provisionPostgres(t, &caddymodule.PostgresStorage{DSN: "{env.MCPGATE_TEST_UNSET_DSN}"})
	if err == nil || !strings.Contains(err.Error(), "dsn {env.DATABASE_URL}") {
		t.Fatalf("Provision = %v; want an error showing how to set the dsn", err)
	}
}

// TestPostgresStorageWithoutDatabaseKeepsCaddyRunning: an unreachable database
// at start is logged, not fatal (Caddy serves what does not need storage),
// and the storage answers each call with the reason.
func TestPostgresStorageWithoutDatabaseKeepsCaddyRunning(t *testing.T) {
	addr, err := testenv.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCPGATE_TEST_DSN", "postgres://gw@"+addr+"/auth")
	p := &caddymodule.PostgresStorage{DSN: "{env.MCPGATE_TEST_DSN}"}
	if err := provisionPostgres(t, p); err != nil {
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

// TestPostgresStorageCreatesTheSchema: the first start against an empty
// database leaves it ready.
func TestPostgresStorageCreatesTheSchema(t *testing.T) {
	p := &caddymodule.PostgresStorage{DSN: testenv.PostgresDatabase(t)}
	if err := provisionPostgres(t, p); err != nil {
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

// TestPostgresStorageCaddyfileBlock: the global storage option adapts to the
// caddy.storage.postgres module, the DSN placeholder kept for run time.
func TestPostgresStorageCaddyfileBlock(t *testing.T) {
	src := "{\n\tstorage postgres {\n\t\tdsn {env.DATABASE_URL}\n\t\tmax_connections 20\n\t\tlock_lease 30s\n\t}\n}\n:8080 {\n\trespond ok\n}\n"
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("adapt: %v %v", err, warnings)
	}
	var cfg struct {
		Storage map[string]any `json:"storage"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"module": "postgres", "dsn": "{env.DATABASE_URL}", "max_connections": float64(20), "lock_lease": float64(30e9)}
	got, _ := json.Marshal(cfg.Storage)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Fatalf("storage = %s; want %s", got, wantJSON)
	}
}

func TestPostgresStorageInlineDSN(t *testing.T) {
	var p caddymodule.PostgresStorage
	if err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`postgres postgres://gw@db/auth`)); err != nil {
		t.Fatal(err)
	}
	if p.DSN != "postgres://gw@db/auth" {
		t.Fatalf("DSN = %q", p.DSN)
	}
}

// TestPostgresStorageCaddyfileErrorsTellWhatToFix pins each mistake's message.
func TestPostgresStorageCaddyfileErrorsTellWhatToFix(t *testing.T) {
	for src, want := range map[string]string{
		"postgres {\n dsn\n}":                "dsn {env.DATABASE_URL}",
		"postgres {\n max_connections -3\n}": "max_connections 10",
		"postgres {\n lock_lease soon\n}":    "lock_lease 15s",
		"postgres {\n database x\n}":         "known: dsn, max_connections, lock_lease",
		"postgres {\n dsn a b\n}":            "wrong argument count",
		"postgres a b":                       "wrong argument count",
	} {
		var p caddymodule.PostgresStorage
		err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v; want it to say %q", src, err, want)
		}
	}
}

func TestPostgresStorageValidateTellsWhatToFix(t *testing.T) {
	p := caddymodule.PostgresStorage{MaxConnections: -1, LockLease: 1}
	err := p.Validate()
	for _, want := range []string{"max_connections 10", "lock_lease 15s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to say %q", err, want)
		}
	}
}
