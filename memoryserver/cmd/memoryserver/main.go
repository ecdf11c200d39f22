// Command memoryserver runs the mcpgate knowledge-graph memory server on its
// own: plain JSON-RPC over HTTP (POST /mcp or /tools) or over stdio.
//
//	memoryserver [flags]                 serve HTTP on --listen
//	memoryserver --stdio [flags]         serve newline-delimited JSON-RPC on stdin/stdout
//	memoryserver [flags] import FILE     load a reference server-memory JSONL file
//	                                     (--skip-dangling: leave out relations to missing entities)
//	memoryserver [flags] export          write the graph as reference JSONL to stdout
//
// The database is --db, else $MEMORYSERVER_DB, else memory.db in the user's
// config directory under mcpgate (e.g. ~/.config/mcpgate/memory.db on Linux),
// else ./data/memory.db. Logs go to stderr; with --stdio, stdout carries
// protocol messages only.
//
// With --subject-header set, the header's value selects a per-user graph.
// The server cannot tell who set the header, so it must then listen only on a
// private address that nothing but the gateway can reach.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mcpgate/mcpgate/memoryserver"
	"go.uber.org/zap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "memoryserver:", err)
		os.Exit(1)
	}
}

// config holds the parsed command line.
type config struct {
	listen, db, subjectHeader, owner string
	stdio, skipDangling              bool
	maxBody                          int64
	command                          string
	args                             []string
}

func parseArgs(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("memoryserver", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", memoryserver.DefaultListen, "HTTP listen address")
	fs.StringVar(&c.db, "db", defaultDB(), "SQLite database path (default from $MEMORYSERVER_DB, else the user config dir)")
	fs.BoolVar(&c.stdio, "stdio", false, "serve JSON-RPC on stdin/stdout instead of HTTP")
	fs.StringVar(&c.subjectHeader, "subject-header", "", "trust this request header (e.g. "+memoryserver.DefaultSubjectHeader+
		") to select a per-user graph; only behind the gateway on a private address")
	fs.Int64Var(&c.maxBody, "max-body", memoryserver.DefaultMaxBodyBytes, "maximum request body (or stdio line) in bytes")
	fs.StringVar(&c.owner, "owner", "", "import/export: the per-user graph to use (a subject value; default: the default graph)")
	fs.BoolVar(&c.skipDangling, "skip-dangling", false, "import: leave out the relations to entities neither in the file nor in the graph "+
		"(listed on stderr) instead of refusing the file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		// Flags may also follow the subcommand: memoryserver import --db x FILE.
		c.command = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return c, err
		}
		c.args = fs.Args()
	}
	return c, nil
}

// defaultDB is $MEMORYSERVER_DB, else <user config dir>/mcpgate/memory.db,
// else ./data/memory.db.
func defaultDB() string {
	if p := os.Getenv("MEMORYSERVER_DB"); p != "" {
		return p
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "mcpgate", "memory.db")
	}
	return filepath.Join("data", "memory.db")
}

func run(ctx context.Context, args []string) error {
	c, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := zap.NewProduction() // JSON to stderr
	if err != nil {
		return err
	}
	defer logger.Sync()
	srv, err := memoryserver.Open(ctx, c.db, memoryserver.Options{
		SubjectHeader: c.subjectHeader,
		MaxBodyBytes:  c.maxBody,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	switch {
	case c.skipDangling && c.command != "import":
		return errors.New("--skip-dangling applies to the import subcommand only")
	case c.command == "import" && len(c.args) == 1:
		return importFile(ctx, srv, c.args[0], c.owner, c.skipDangling, os.Stderr)
	case c.command == "export" && len(c.args) == 0:
		return srv.Export(ctx, os.Stdout, c.owner)
	case c.command != "":
		return fmt.Errorf("usage: memoryserver [flags] [import FILE | export]")
	case c.stdio:
		logger.Info("serving stdio", zap.String("db", c.db))
		return ignoreCancel(srv.ServeStdio(ctx, os.Stdin, os.Stdout))
	default:
		return serveHTTP(ctx, srv, c.listen, logger.With(zap.String("db", c.db)))
	}
}

// maxListedDangling is how many left-out relations importFile lists.
const maxListedDangling = 10

// importFile imports the JSONL file at path. With skipDangling it leaves out
// the relations to missing entities and reports them to report: how many,
// and the first maxListedDangling of them.
func importFile(ctx context.Context, srv *memoryserver.Server, path, owner string, skipDangling bool, report io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var opts memoryserver.ImportOptions
	var skipped []string
	if skipDangling {
		opts.SkipDangling = func(from, relationType, to string) {
			skipped = append(skipped, fmt.Sprintf("%q -[%s]-> %q", from, relationType, to))
		}
	}
	if err := srv.Import(ctx, f, owner, opts); err != nil {
		return err
	}
	if len(skipped) == 0 {
		return nil
	}
	fmt.Fprintf(report, "memoryserver: import: left out %d relation(s) to entities neither in %s nor in the graph:\n", len(skipped), path)
	for _, s := range skipped[:min(len(skipped), maxListedDangling)] {
		fmt.Fprintln(report, "  "+s)
	}
	if len(skipped) > maxListedDangling {
		fmt.Fprintf(report, "  ... and %d more\n", len(skipped)-maxListedDangling)
	}
	return nil
}

// ignoreCancel treats the shutdown signal as a normal end.
func ignoreCancel(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
