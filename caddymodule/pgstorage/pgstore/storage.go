// Package pgstore keeps Caddy's storage (certificates, and the
// authorization server's clients, grants, codes and keys) in a PostgreSQL
// database, so that several instances behind a load balancer share one
// transactional store. The caddy.storage.postgres module (the package
// above) configures it; this package does not import Caddy, so the
// authorization server's tests run on it without Caddy.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Storage is a certmagic.Storage in a PostgreSQL database: a key-value
// table, leases for Lock, and transactions (see Transact) for what must
// happen once across every instance sharing the database.
type Storage struct {
	pool     *pgxpool.Pool
	lease    time.Duration
	database string // host:port/dbname, for error messages (never the password)

	// txSlots bounds concurrent transactions to half the pool, so that a
	// transaction's holder can always get a connection for work it does
	// outside the transaction (and a crowd of transactions cannot starve
	// plain reads).
	txSlots chan struct{}

	schemaMu sync.Mutex
	ready    atomic.Bool

	locksMu sync.Mutex
	locks   map[string]*heldLock
}

// Config configures New.
type Config struct {
	// DSN is the connection string (a postgres:// URL or key=value pairs).
	DSN string
	// MaxConnections bounds the pool. Default 10.
	MaxConnections int
	// LockLease is how long a lock outlives a holder that stopped renewing
	// it (a crashed instance). Default 15s.
	LockLease time.Duration
}

// Defaults of Config.
const (
	DefaultMaxConnections = 10
	DefaultLockLease      = 15 * time.Second
)

var (
	_ certmagic.Storage   = (*Storage)(nil)
	_ certmagic.TryLocker = (*Storage)(nil)
)

// New returns a Storage over a pool that connects on first use: an
// unreachable database is an error of each call, not of New (see Migrate).
func New(cfg Config) (*Storage, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres storage: the dsn does not parse (use postgres://user:password@host:5432/dbname or host=... dbname=... pairs): %w", redact(err))
	}
	pc.MaxConns = int32(cmpOr(cfg.MaxConnections, DefaultMaxConnections))
	s := &Storage{
		lease:    cmpOr(cfg.LockLease, DefaultLockLease),
		database: fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database),
		txSlots:  make(chan struct{}, max(1, pc.MaxConns/2)),
		locks:    map[string]*heldLock{},
	}
	if s.pool, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
		return nil, fmt.Errorf("postgres storage: %w", err)
	}
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Close stops renewing the locks still held, which then expire after their
// lease, and closes the pool.
func (s *Storage) Close() {
	s.locksMu.Lock()
	for _, l := range s.locks {
		l.stop()
	}
	s.locksMu.Unlock()
	s.pool.Close()
}

// Database names the database as host:port/dbname, for logs.
func (s *Storage) Database() string { return s.database }

// Migrate creates or upgrades the schema. Every call does it first when it
// has not succeeded yet, so a database that comes up after Caddy does is
// put to use without a restart.
func (s *Storage) Migrate(ctx context.Context) error {
	if s.ready.Load() {
		return nil
	}
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	if s.ready.Load() {
		return nil
	}
	if err := migrate(ctx, s.pool); err != nil {
		return s.wrap("preparing the schema", err)
	}
	s.ready.Store(true)
	return nil
}

// wrap says which database failed and, when it could not be reached, what
// to check.
func (s *Storage) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("postgres storage: %s: cannot reach the database %s (is PostgreSQL running, and are the dsn's host, port, user and password right?): %w", op, s.database, err)
	}
	return fmt.Errorf("postgres storage: %s on %s: %w", op, s.database, err)
}

// redact drops the connection string from a parse error: it may hold the
// password, which pgx masks only as far as it can parse the string.
func redact(err error) error {
	msg := err.Error()
	if i, j := strings.Index(msg, "`"), strings.LastIndex(msg, "`"); i < j {
		msg = msg[:i] + "<dsn>" + msg[j+1:]
	}
	return errors.New(msg)
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// db returns the transaction ctx carries (see Transact), else the pool,
// once the schema is there.
func (s *Storage) db(ctx context.Context) (querier, error) {
	if tx := s.txOf(ctx); tx != nil {
		return tx, nil
	}
	return s.pool, s.Migrate(ctx)
}

// normalize gives every spelling of a key (a/b, /a/b/, a//b) the one form
// the file storage would also map it to.
func normalize(key string) string {
	return strings.TrimPrefix(path.Clean("/"+key), "/")
}

// likePrefix is a LIKE pattern matching every key under dir.
func likePrefix(dir string) string {
	if dir == "" {
		return "%"
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(dir) + "/%"
}

// Store writes value at key.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = normalize(key)
	if key == "" {
		return errors.New("postgres storage: empty key")
	}
	db, err := s.db(ctx)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	_, err = db.Exec(ctx, `INSERT INTO mcpgate_storage (key, value, modified) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`, key, value)
	return s.wrap("storing "+key, err)
}

// Load reads key; a missing key is an error matching fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = normalize(key)
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	var value []byte
	err = db.QueryRow(ctx, `SELECT value FROM mcpgate_storage WHERE key = $1`, key).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return value, s.wrap("loading "+key, err)
}

// Delete removes key and, when it is a directory, every key under it. A
// key that does not exist is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = normalize(key)
	db, err := s.db(ctx)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `DELETE FROM mcpgate_storage WHERE key = $1 OR key LIKE $2`, key, likePrefix(key))
	return s.wrap("deleting "+key, err)
}

// Exists reports whether key is a stored key or a directory of some.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key: a stored value, or a directory when only keys under
// it exist.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = normalize(key)
	db, err := s.db(ctx)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	info := certmagic.KeyInfo{Key: key, IsTerminal: true}
	err = db.QueryRow(ctx, `SELECT length(value), modified FROM mcpgate_storage WHERE key = $1`, key).Scan(&info.Size, &info.Modified)
	if !errors.Is(err, pgx.ErrNoRows) {
		return info, s.wrap("reading "+key, err)
	}
	info.IsTerminal = false
	err = db.QueryRow(ctx, `SELECT max(modified) FROM mcpgate_storage WHERE key LIKE $1 HAVING count(*) > 0`, likePrefix(key)).Scan(&info.Modified)
	if errors.Is(err, pgx.ErrNoRows) {
		return certmagic.KeyInfo{}, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return info, s.wrap("reading "+key, err)
}

// List returns the keys under dir: all of them when recursive, else the
// direct children (values and directories), like the file storage. A
// directory with nothing under it does not exist (fs.ErrNotExist).
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = normalize(dir)
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	query := `SELECT key FROM mcpgate_storage WHERE key LIKE $1 ORDER BY key`
	if !recursive {
		// The first path segment after the prefix, once each.
		query = `SELECT DISTINCT $2::text || split_part(substr(key, length($2::text) + 1), '/', 1) AS child
			FROM mcpgate_storage WHERE key LIKE $1 ORDER BY child`
	}
	args := []any{likePrefix(dir)}
	if !recursive {
		args = append(args, prefix)
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, s.wrap("listing "+dir, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap("listing "+dir, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, fs.ErrNotExist)
	}
	return keys, nil
}
