// Command memorybench measures memoryserver over HTTP on generated knowledge
// graphs and, with --reference, the npm reference server
// (@modelcontextprotocol/server-memory) over stdio on the same workload.
//
// For each size it starts a fresh server as a child process, builds the graph
// through the server's own API in bulk batches (N entities with 3
// observations each, N relations), then times each operation for a bounded
// number of iterations and reads the child's peak RSS (VmHWM) at the end.
// It also times `memoryserver import` of the same graph as a JSONL file. It
// prints a Markdown report.
//
//	go run ./memoryserver/cmd/memorybench --sizes 1000,10000,100000 --reference
//
// Everything runs on loopback and in a temporary directory removed at exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("memorybench: ")
	sizes := flag.String("sizes", "1000,10000,100000", "comma-separated graph sizes (entities, at least 2)")
	iterations := flag.Int("iterations", 200, "timed calls per operation against memoryserver")
	reference := flag.Bool("reference", false, "also run the workload against the npm reference server and print ratios")
	refIterations := flag.Int("ref-iterations", 20, "timed calls per operation against the reference (slow at large sizes)")
	refMaxSize := flag.Int("ref-max-size", 100000, "largest size to run the reference at")
	serverBin := flag.String("server", "", "memoryserver binary (default: go build it from this module)")
	seed := flag.Int64("seed", 1, "seed of the generated graph and the calls")
	flag.Parse()
	c := config{*iterations, *reference, *refIterations, *refMaxSize, *serverBin, *seed}
	if err := bench(context.Background(), c, *sizes); err != nil {
		log.Fatal(err)
	}
}

// config holds the flags.
type config struct {
	iterations    int
	reference     bool
	refIterations int
	refMaxSize    int
	serverBin     string
	seed          int64
}

// bench runs every size and prints the report.
func bench(ctx context.Context, c config, sizesFlag string) error {
	sizes, err := parseSizes(sizesFlag)
	if err != nil {
		return err
	}
	if c.iterations < 1 || c.refIterations < 1 {
		return errors.New("iterations must be at least 1")
	}
	tmp, err := os.MkdirTemp("", "memorybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.serverBin == "" {
		c.serverBin = filepath.Join(tmp, "memoryserver")
		log.Printf("building %s", c.serverBin)
		build := exec.Command("go", "build", "-o", c.serverBin, "github.com/mcpgate/mcpgate/memoryserver/cmd/memoryserver")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building memoryserver (or pass --server): %v", err)
		}
	}

	var results []sizeResult
	for _, n := range sizes {
		w := newWorkload(n, c.seed)
		dir := filepath.Join(tmp, strconv.Itoa(n))
		ours, err := run(ctx, w, server{"memoryserver", c.iterations, true, func() (target, error) {
			return startMemoryserver(ctx, c.serverBin, filepath.Join(dir, "memoryserver"))
		}})
		if err != nil {
			return fmt.Errorf("memoryserver at %d: %v", n, err)
		}
		imp, err := timeImport(c.serverBin, filepath.Join(dir, "import"), w)
		if err != nil {
			return fmt.Errorf("import at %d: %v", n, err)
		}
		log.Printf("memoryserver, %d entities: imported in %v", n, imp.took.Round(time.Millisecond))
		r := sizeResult{size: n, ours: ours, imported: imp}
		if c.reference && n <= c.refMaxSize {
			ref, err := run(ctx, w, server{"reference", c.refIterations, false, func() (target, error) {
				return startReference(ctx, filepath.Join(dir, "reference"))
			}})
			if err != nil {
				return fmt.Errorf("reference at %d: %v", n, err)
			}
			r.ref = &ref
		}
		results = append(results, r)
	}
	printReport(os.Stdout, os.Args[1:], results)
	return nil
}

// parseSizes parses the --sizes list.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("bad size %q in --sizes", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
