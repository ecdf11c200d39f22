package stdiobackend

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// SubjectPlaceholder in Config.Env values, Args and Dir is replaced by the
// caller's subject, escaped (see EscapeSubject); for a client acting on
// its own (a token without a user) "~client" follows (see clientSuffix).
const SubjectPlaceholder = "{http.auth.user.id}"

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultIdleTimeout          = 10 * time.Minute
	DefaultMaxProcesses         = 100
	DefaultStartTimeout         = 30 * time.Second
	DefaultMaxMessageBytes      = 16 << 20
	DefaultStderrLinesPerSecond = 20
)

// Config describes the command and how its processes are run.
type Config struct {
	// Command is the program to run, found in PATH when it has no slash.
	// Required unless SSE is set.
	Command string

	// SSE, instead of Command, reaches a legacy (2024-11-05) HTTP+SSE MCP
	// server: each subject gets a session on its event stream (a GET, of
	// the path of the request that opens it), through this handler (Caddy's
	// reverse_proxy), with the headers of that request (the guard's
	// identity headers for the subject; the client id header names the
	// client that opened the session; a client acting on its own gets a
	// session apart from a user of its name). Args, Env, Dir and Shared do not
	// apply. Default nil.
	SSE http.Handler

	// Args are the command's arguments. Default none.
	Args []string

	// Env is the child's environment on top of PATH, HOME, LANG, LC_ALL, TZ
	// and TMPDIR taken from the gateway's. Default none.
	Env map[string]string

	// Dir is the child's working directory, created (0700) when missing.
	// Default the gateway's.
	Dir string

	// Shared runs one process for every caller instead of one per user
	// (shared by the user's applications) and one per client acting on its
	// own. Default false.
	Shared bool

	// IdleTimeout stops a process that served nothing for that long.
	// Default 10m.
	IdleTimeout time.Duration

	// MaxProcesses caps the processes running at once; a user or client
	// without one beyond it gets 503 with Retry-After. Default 100.
	MaxProcesses int

	// StartTimeout bounds the child's answer to initialize. Default 30s.
	StartTimeout time.Duration

	// MaxMessageBytes bounds one line the child writes to stdout; a longer
	// one kills the child. Default 16 MiB.
	MaxMessageBytes int

	// StderrLinesPerSecond bounds the child's stderr lines logged (a burst
	// of five seconds' worth is allowed); the rest are counted and the count
	// logged. Default 20.
	StderrLinesPerSecond int

	// Logger receives the children's stderr and lifecycle. Default none.
	Logger *zap.Logger

	// Now is the clock of idle stops and restart delays. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxProcesses <= 0 {
		c.MaxProcesses = DefaultMaxProcesses
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.StderrLinesPerSecond <= 0 {
		c.StderrLinesPerSecond = DefaultStderrLinesPerSecond
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every mistake an operator can fix.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.Command == "" && c.SSE == nil:
		errs = append(errs, errors.New("stdio needs a command, for example: stdio npx -y @modelcontextprotocol/server-memory"))
	case c.Command != "" && c.SSE != nil:
		errs = append(errs, errors.New("a backend is either a stdio command or an SSE server, not both"))
	}
	if c.Shared {
		// One process for everybody has no single user to name.
		uses := strings.Contains(c.Command, SubjectPlaceholder) || strings.Contains(c.Dir, SubjectPlaceholder)
		for _, a := range c.Args {
			uses = uses || strings.Contains(a, SubjectPlaceholder)
		}
		for _, v := range c.Env {
			uses = uses || strings.Contains(v, SubjectPlaceholder)
		}
		if uses {
			errs = append(errs, fmt.Errorf("stdio shared runs one process for every user, so %s cannot be used in its command, env or dir: use per_user", SubjectPlaceholder))
		}
	}
	if strings.Contains(c.Command, SubjectPlaceholder) {
		errs = append(errs, fmt.Errorf("stdio command must not contain %s (a user must not pick the program); use it in args, env or dir", SubjectPlaceholder))
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("stdio env name %q must be non-empty and contain no '=' or NUL", k))
		}
	}
	return errors.Join(errs...)
}
