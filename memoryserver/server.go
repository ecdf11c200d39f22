package memoryserver

import (
	"context"

	"go.uber.org/zap"
)

// DefaultMaxBodyBytes is the default bound on one HTTP body or stdio line.
const DefaultMaxBodyBytes int64 = 4 << 20

// DefaultSubjectHeader is the header the gateway puts the verified user in;
// pass it as Options.SubjectHeader to turn per-user graphs on.
const DefaultSubjectHeader = "X-MCP-Subject"

// SubjectTypeHeader is where the gateway says whether the subject is a
// "user" or a "client" (a token without a user, whose subject is the
// client id). Per-user graphs keep the two apart, so a client named like a
// user never reads that user's graph.
const SubjectTypeHeader = "X-MCP-Subject-Type"

// clientOwnerPrefix starts the graph owner of a client caller; a user
// subject that starts with it is refused, so the two never meet.
const clientOwnerPrefix = "client:"

// DefaultListen is the standalone server's default listen address.
const DefaultListen = "127.0.0.1:17800"

// maxOwnerBytes bounds the subject header value used as a graph owner.
const maxOwnerBytes = 1024

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// SubjectHeader, when set, names the request header whose value selects
	// the caller's own graph (per-user memory); requests without it are
	// refused. The server cannot check who set the header, so with this on it
	// must only be reachable through the gateway, on a loopback or otherwise
	// private address. Empty (the default) turns it off: every request uses
	// the default graph. Stdio always uses the default graph.
	SubjectHeader string
	// MaxBodyBytes bounds one HTTP request body and one stdio line. Default:
	// DefaultMaxBodyBytes (4 MiB).
	MaxBodyBytes int64
	// Logger receives operational logs; message contents are never logged.
	// Default: no logging.
	Logger *zap.Logger
}

// Server is a knowledge-graph memory server over one SQLite database. It is
// safe for concurrent use, and several processes may share one database.
type Server struct {
	store *store
	opts  Options
	log   *zap.Logger
}

// Open opens the database at path, creating it and its directory if needed
// and migrating its schema, and returns a server for it.
func Open(ctx context.Context, path string, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	st, err := openStore(ctx, path, log)
	if err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Server{store: st, opts: opts, log: log}, nil
}

// Close closes the database. Calls in progress may fail.
func (s *Server) Close() error {
	return s.store.close()
}
