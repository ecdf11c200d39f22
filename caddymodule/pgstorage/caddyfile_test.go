package pgstorage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/mcpgate/mcpgate/caddymodule/pgstorage"
)

// TestCaddyfileStorageBlock: the global storage option adapts to the
// caddy.storage.postgres module, the DSN placeholder kept for run time.
func TestCaddyfileStorageBlock(t *testing.T) {
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

func TestCaddyfileInlineDSN(t *testing.T) {
	var p pgstorage.Postgres
	if err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`postgres postgres://gw@db/auth`)); err != nil {
		t.Fatal(err)
	}
	if p.DSN != "postgres://gw@db/auth" {
		t.Fatalf("DSN = %q", p.DSN)
	}
}

// TestCaddyfileErrorsTellTheOperatorWhatToFix pins each mistake's message.
func TestCaddyfileErrorsTellTheOperatorWhatToFix(t *testing.T) {
	for src, want := range map[string]string{
		"postgres {\n dsn\n}":                "dsn {env.DATABASE_URL}",
		"postgres {\n max_connections -3\n}": "max_connections 10",
		"postgres {\n lock_lease soon\n}":    "lock_lease 15s",
		"postgres {\n database x\n}":         "known: dsn, max_connections, lock_lease",
		"postgres {\n dsn a b\n}":            "wrong argument count",
		"postgres a b":                       "wrong argument count",
	} {
		var p pgstorage.Postgres
		err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v; want it to say %q", src, err, want)
		}
	}
}
