// Package pgstorage is the caddy.storage.postgres module: Caddy's storage
// (certificates, and the mcp_gateway authorization server's clients,
// grants, codes and keys) in a PostgreSQL database (see pgstore), so that
// several instances behind a load balancer share one transactional store.
package pgstorage

import (
	"context"
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/pgstorage/pgstore"
)

func init() {
	caddy.RegisterModule(Postgres{})
}

// Postgres is the caddy.storage.postgres module.
//
// The schema is created, or migrated, on first start; when the database
// cannot be reached then, Caddy starts anyway, logs the error, and every
// storage call retries, so the instance recovers once the database is
// back, as it does after a database restart.
type Postgres struct {
	// DSN is the connection string, a postgres:// URL or key=value pairs
	// (placeholders such as {env.DATABASE_URL} are expanded). Put several
	// deployments in one database by giving each its own schema with
	// search_path in the DSN. Required.
	DSN string `json:"dsn,omitempty"`
	// MaxConnections bounds the connection pool of this instance. Default 10.
	MaxConnections int `json:"max_connections,omitempty"`
	// LockLease is how long a lock taken by an instance that stopped
	// renewing it (it crashed, or lost the database) blocks the others.
	// Default 15s.
	LockLease caddy.Duration `json:"lock_lease,omitempty"`

	storage *pgstore.Storage
}

// CaddyModule returns the Caddy module information.
func (Postgres) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.storage.postgres",
		New: func() caddy.Module { return new(Postgres) },
	}
}

// migrateTimeout bounds the first attempt at the schema during Provision.
const migrateTimeout = 5 * time.Second

// Provision opens the pool and prepares the schema.
func (p *Postgres) Provision(ctx caddy.Context) error {
	dsn := caddy.NewReplacer().ReplaceKnown(p.DSN, "")
	if dsn == "" {
		return errors.New("storage postgres: dsn is required, e.g. dsn {env.DATABASE_URL} with DATABASE_URL=postgres://user:password@host:5432/dbname")
	}
	var err error
	p.storage, err = pgstore.New(pgstore.Config{DSN: dsn, MaxConnections: p.MaxConnections, LockLease: time.Duration(p.LockLease)})
	if err != nil {
		return err
	}
	log := ctx.Logger()
	mctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	if err := p.storage.Migrate(mctx); err != nil {
		log.Error("PostgreSQL storage unavailable; serving what does not need it and retrying on every use",
			zap.String("database", p.storage.Database()), zap.Error(err))
	} else {
		log.Info("PostgreSQL storage ready", zap.String("database", p.storage.Database()))
	}
	return nil
}

// Validate checks the settings.
func (p *Postgres) Validate() error {
	var errs []error
	if p.MaxConnections < 0 {
		errs = append(errs, errors.New("storage postgres: max_connections must be positive, e.g. max_connections 10"))
	}
	if p.LockLease < 0 || p.LockLease > 0 && time.Duration(p.LockLease) < time.Second {
		errs = append(errs, errors.New("storage postgres: lock_lease must be at least 1s, e.g. lock_lease 15s"))
	}
	return errors.Join(errs...)
}

// CertMagicStorage returns the storage.
func (p *Postgres) CertMagicStorage() (certmagic.Storage, error) {
	return p.storage, nil
}

// Cleanup closes the pool when the configuration is unloaded.
func (p *Postgres) Cleanup() error {
	if p.storage != nil {
		p.storage.Close()
	}
	return nil
}

var (
	_ caddy.Provisioner      = (*Postgres)(nil)
	_ caddy.Validator        = (*Postgres)(nil)
	_ caddy.StorageConverter = (*Postgres)(nil)
	_ caddy.CleanerUpper     = (*Postgres)(nil)
)
