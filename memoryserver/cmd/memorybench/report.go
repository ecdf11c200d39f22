package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// sizeResult is one graph size's results; ref is nil without --reference.
type sizeResult struct {
	size     int
	ours     runResult
	imported importResult
	ref      *runResult
}

// printReport writes the results as Markdown.
func printReport(w io.Writer, args []string, results []sizeResult) {
	fmt.Fprintf(w, "memorybench %s — %s, %s/%s, %d CPUs, %s\n", strings.Join(args, " "),
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	for _, r := range results {
		fmt.Fprintf(w, "\n### %d entities (%d observations, %d relations)\n\n", r.size, 3*r.size, r.size)
		fmt.Fprintf(w, "| operation | memoryserver p50 | p99 | reference p50 | p99 | p50 speed-up |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|\n")
		for i, op := range r.ours.ops {
			row := []string{op.name, ms(op.percentile(50)), ms(op.percentile(99)), "", "", ""}
			if r.ref != nil {
				ref := r.ref.ops[i]
				row[3], row[4] = ms(ref.percentile(50)), ms(ref.percentile(99))
				row[5] = ratio(float64(ref.percentile(50)) / float64(op.percentile(50)))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
		row := []string{"build the graph (bulk, 1000 a call)", seconds(r.ours.build), "", "", "", ""}
		if r.ref != nil {
			row[3] = seconds(r.ref.build)
			row[5] = ratio(r.ref.build.Seconds() / r.ours.build.Seconds())
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		row = []string{"peak RSS (VmHWM)", mib(r.ours.peakRSS), "", "", "", ""}
		if r.ref != nil {
			row[3] = mib(r.ref.peakRSS)
			row[5] = ratio(float64(r.ref.peakRSS)/float64(r.ours.peakRSS)) + " less"
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		fmt.Fprintf(w, "| import of the graph (JSONL file, one process) | %s |  | (no import) |  |  |\n", seconds(r.imported.took))
		fmt.Fprintf(w, "| peak RSS of the import (VmHWM) | %s |  |  |  |  |\n", mib(r.imported.peakRSS))
		fmt.Fprintf(w, "\nTimed calls per operation: memoryserver %d", len(r.ours.ops[0].latencies))
		if r.ref != nil {
			fmt.Fprintf(w, ", reference %d (its p99 is close to its maximum)", len(r.ref.ops[0].latencies))
		}
		fmt.Fprintf(w, "; batch writes at most %d each.\n", batchCalls)
	}
}

// ratio formats how many times better memoryserver did (below 1: worse).
func ratio(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1fx", x)
	}
	return fmt.Sprintf("%.0fx", x)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
