// Command gatewaybench measures what the mcp_gateway handler costs on the
// request path. In one process it runs Caddy with the memoryserver app and
// two sites in front of it: one with mcp_gateway (Bearer token verification,
// the Streamable HTTP adapter, then Caddy's reverse_proxy) and one with plain
// reverse_proxy. It obtains a real access token through the OAuth flow
// (registration, login and consent pages, code exchange with PKCE), seeds a
// small knowledge graph, and then sends the same tools/call request with a
// fixed number of workers for a fixed time to each target:
//
//	gateway  (a) mcp_gateway with the token, in front of the memory server
//	proxy    (b) plain reverse_proxy in front of the same memory server
//	backend  (c) the memory server directly
//
// It prints a Markdown table of requests per second and p50/p99 latency per
// target, and the throughput ratios a/b and b/c.
//
//	go run ./caddymodule/cmd/gatewaybench -duration 10s -concurrency 16
//	go run ./caddymodule/cmd/gatewaybench -protocol 2026-07-28   # a 2026-07-28 tools/call
//	go run ./caddymodule/cmd/gatewaybench -storage-dsn postgres://...  # state in PostgreSQL
//
// Everything listens on 127.0.0.1 ports chosen at start, the load generator
// shares the machine's cores with the servers, and all state lives in a
// temporary directory removed at exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"
)

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per target and round")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load per target before each measurement")
	flag.IntVar(&c.concurrency, "concurrency", 16, "workers sending requests, each one at a time")
	flag.IntVar(&c.rounds, "rounds", 1, "times to repeat the sequence of targets; results are pooled")
	flag.IntVar(&c.entities, "entities", 100, "entities in the seeded graph (at least 3)")
	targets := flag.String("targets", "gateway,proxy,backend", "comma-separated targets to measure, in order")
	flag.StringVar(&c.protocol, "protocol", legacyProtocol, "MCP protocol version of the measured request: "+legacyProtocol+" or "+modernProtocol+" (per-request _meta, Mcp-Method and Mcp-Name)")
	flag.StringVar(&c.storageDSN, "storage-dsn", "", "keep Caddy's storage (the authorization server's state) in this PostgreSQL database (caddy.storage.postgres) instead of the temporary directory")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the load phases, warm-ups included (whole process), to this file")
	flag.Parse()
	c.targets = strings.Split(*targets, ",")
	c.args = os.Args[1:]
	if err := run(context.Background(), c, os.Stdout); err != nil {
		progress.Fatal(err)
	}
}

// progress reports what the run is doing on stderr. It is its own logger
// because Caddy redirects the standard one into its logs.
var progress = log.New(os.Stderr, "gatewaybench: ", log.Ltime)

// config holds the flags.
type config struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	rounds      int
	entities    int
	targets     []string
	cpuProfile  string
	protocol    string
	storageDSN  string
	// args are the command-line arguments, quoted in the report.
	args []string
}

// check rejects flag values the run cannot honour.
func (c config) check() error {
	switch {
	case c.duration <= 0:
		return fmt.Errorf("-duration must be positive")
	case c.warmup < 0:
		return fmt.Errorf("-warmup must not be negative")
	case c.concurrency < 1:
		return fmt.Errorf("-concurrency must be at least 1")
	case c.rounds < 1:
		return fmt.Errorf("-rounds must be at least 1")
	case c.entities < 3:
		return fmt.Errorf("-entities must be at least 3")
	case c.protocol != legacyProtocol && c.protocol != modernProtocol:
		return fmt.Errorf("-protocol must be %s or %s", legacyProtocol, modernProtocol)
	}
	for _, name := range c.targets {
		if _, ok := targetLabels[name]; !ok {
			return fmt.Errorf("unknown target %q in -targets (want gateway, proxy, backend)", name)
		}
	}
	return nil
}
