package pgstore

import (
	"context"
	"errors"
	"io/fs"
	"strings"
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

// TestStorageSuite runs the storage suite the file storage passes too.
func TestStorageSuite(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	storagetest.RunTests(t, func(t *testing.T) certmagic.Storage { return open(t, dsn, Config{}) })
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestLockOfCrashedHolderExpires: an instance that dies holding a lock
// must not block the others forever; its lease runs out.
func TestLockOfCrashedHolderExpires(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	crashed := open(t, dsn, Config{LockLease: time.Second})
	if err := crashed.Lock(ctxOf(t), "job"); err != nil {
		t.Fatal(err)
	}
	crashed.Close() // no Unlock: the process is gone
	other := open(t, dsn, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := other.Lock(ctx, "job"); err != nil {
		t.Fatalf("the lock of a crashed holder was never freed: %v", err)
	}
	if err := other.Unlock(ctxOf(t), "job"); err != nil {
		t.Fatal(err)
	}
}

// TestLiveHolderKeepsItsLock: a holder that works longer than its lease
// renews it, so nobody else enters the critical section meanwhile.
func TestLiveHolderKeepsItsLock(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	holder := open(t, dsn, Config{LockLease: time.Second})
	if err := holder.Lock(ctxOf(t), "job"); err != nil {
		t.Fatal(err)
	}
	other := open(t, dsn, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // three leases
	defer cancel()
	if err := other.Lock(ctx, "job"); err == nil {
		t.Fatal("a second instance took the lock of a live holder once its first lease ran out")
	}
	if err := holder.Unlock(ctxOf(t), "job"); err != nil {
		t.Fatalf("the live holder lost its lock: %v", err)
	}
}

// TestUnlockOfLostLockFails: when a holder paused past its lease and
// someone else took the lock, Unlock says the section was not exclusive
// and leaves the new holder's lock alone.
func TestUnlockOfLostLockFails(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	a := open(t, dsn, Config{})
	if err := a.Lock(ctxOf(t), "job"); err != nil {
		t.Fatal(err)
	}
	// Another holder takes over, as after a lease ran out.
	if _, err := a.pool.Exec(ctxOf(t), `UPDATE mcpgate_locks SET holder = 'someone-else' WHERE name = 'job'`); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctxOf(t), "job"); err == nil || !strings.Contains(err.Error(), "lock_lease") {
		t.Fatalf("Unlock = %v; want an error that names lock_lease", err)
	}
	var holder string
	if err := a.pool.QueryRow(ctxOf(t), `SELECT holder FROM mcpgate_locks WHERE name = 'job'`).Scan(&holder); err != nil || holder != "someone-else" {
		t.Fatalf("the new holder's lock is gone (%q, %v)", holder, err)
	}
}

// TestUnreachableDatabase: every call says which database it could not
// reach and what to check, and never shows the password.
func TestUnreachableDatabase(t *testing.T) {
	addr, err := testenv.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, "postgres://gateway:s3cret-pw@"+addr+"/auth?connect_timeout=5", Config{})
	_, err = s.Load(ctxOf(t), "clients/x.json")
	if err == nil {
		t.Fatal("Load succeeded with no database")
	}
	msg := err.Error()
	for _, want := range []string{"cannot reach the database", addr + "/auth", "dsn"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("error %q shows the password", msg)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("an unreachable database reads as a missing key: callers would take it for an empty store")
	}
}

// TestBadDSNHidesPassword: a DSN that does not parse is reported without
// echoing it: it may carry the password, and pgx's own redaction is best
// effort (an unescaped @ in the password shows its tail).
func TestBadDSNHidesPassword(t *testing.T) {
	_, err := New(Config{DSN: "postgres://gateway:s3cret@pw-tail@host:notaport/auth"})
	if err == nil {
		t.Fatal("a malformed dsn was accepted")
	}
	if strings.Contains(err.Error(), "pw-tail") || !strings.Contains(err.Error(), "postgres://user:password@host:5432/dbname") {
		t.Fatalf("error %q shows the password or no example", err)
	}
}

// TestRecoversAfterDatabaseRestart: connections the server closed (a
// restart, a failover) are replaced, without restarting the instance.
func TestRecoversAfterDatabaseRestart(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	s := open(t, dsn, Config{})
	if err := s.Store(ctxOf(t), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	admin := open(t, dsn, Config{})
	if _, err := admin.pool.Exec(ctxOf(t), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := s.Load(ctxOf(t), "k")
		return err
	})
}

// eventually retries op until it succeeds or a generous deadline passes.
func eventually(t *testing.T, op func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMigrations: a fresh database gets the current schema; instances
// starting together migrate once; a database migrated by a newer build is
// refused with what to do.
func TestMigrations(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- open(t, dsn, Config{}).Migrate(ctxOf(t)) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent first starts: %v", err)
		}
	}
	s := open(t, dsn, Config{})
	var version int
	if err := s.pool.QueryRow(ctxOf(t), `SELECT version FROM mcpgate_schema`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	if _, err := s.pool.Exec(ctxOf(t), `UPDATE mcpgate_schema SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	err := open(t, dsn, Config{}).Migrate(ctxOf(t))
	if err == nil || !strings.Contains(err.Error(), "upgrade mcpgate") {
		t.Fatalf("Migrate on a newer schema = %v; want a refusal that says to upgrade", err)
	}
}

// TestTransactionDiesWithItsConnection: an instance that dies inside a
// transaction (its connection gone) leaves none of its writes behind and
// its lock free.
func TestTransactionDiesWithItsConnection(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	s := open(t, dsn, Config{})
	err := s.Transact(ctxOf(t), "grant-1", func(ctx context.Context) error {
		if err := s.Store(ctx, "grants/1.json", []byte("half")); err != nil {
			return err
		}
		var pid int
		if err := s.txOf(ctx).QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		_, err := s.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		if err != nil {
			return err
		}
		return s.Store(ctx, "codes/1.json", []byte("other half"))
	})
	if err == nil {
		t.Fatal("a transaction whose connection died reported success")
	}
	other := open(t, dsn, Config{})
	for _, k := range []string{"grants/1.json", "codes/1.json"} {
		if _, err := other.Load(ctxOf(t), k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the dead transaction: %v; want missing", k, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := other.Transact(ctx, "grant-1", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("the dead transaction's lock is still held: %v", err)
	}
}
