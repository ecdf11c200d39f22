package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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

// Postgres is a PostgreSQL server of the test's own, for a test that must
// stop and start the server itself (the shared one of PostgresDSN serves
// other packages' tests at the same time).
type Postgres struct {
	// DSN connects to its database "postgres" as the user postgres.
	DSN string

	t    testing.TB
	bin  string // the folder of initdb and pg_ctl
	dir  string
	port string
}

// StartPostgres initializes and starts a throwaway PostgreSQL cluster with
// Debian's binaries (the package postgresql, which bash .ci/run installs),
// stopped and removed when the test ends. Without the binaries the test is
// skipped, or failed when MCPGATE_CI=1. As root, the cluster runs as the
// postgres system user, since PostgreSQL refuses to run as root.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		msg := "testenv: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); apt-get install postgresql, or run bash .ci/run"
		if os.Getenv("MCPGATE_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sort.Strings(bins)
	dir, err := os.MkdirTemp("", "mcpgate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: dir}
	t.Cleanup(func() {
		p.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			t.Fatalf("testenv: giving %s to the postgres user: %v", dir, err)
		}
	}
	if out, err := p.command(filepath.Join(p.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, p.port, _ = net.SplitHostPort(addr)
	p.DSN = "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
	p.Start()
	return p
}

// Stop stops the server the way an operator's restart does (fast shutdown:
// every connection is closed).
func (p *Postgres) Stop() {
	p.t.Helper()
	if out, err := p.pgctl("stop", "-m", "fast"); err != nil {
		p.t.Fatalf("testenv: pg_ctl stop: %v\n%s", err, out)
	}
}

// Start starts the (stopped) server again and waits until it accepts
// connections.
func (p *Postgres) Start() {
	p.t.Helper()
	opts := "-p " + p.port + " -k " + p.dir + " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
	if out, err := p.pgctl("start", "-w", "-l", filepath.Join(p.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("testenv: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func (p *Postgres) pgctl(args ...string) ([]byte, error) {
	return p.command(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", filepath.Join(p.dir, "data")}, args...)...).CombinedOutput()
}

// command runs a PostgreSQL program, as the postgres user when root.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}
