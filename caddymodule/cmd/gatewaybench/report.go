package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// measured is one target's pooled result.
type measured struct {
	name string
	result
	// perRound is the throughput of each round, in order.
	perRound []float64
}

// printReport writes the Markdown report: settings, machine, the table and
// the throughput ratios.
func printReport(w io.Writer, c config, body []byte, results []measured) {
	fmt.Fprintf(w, "gatewaybench %s\n\n", strings.Join(c.args, " "))
	fmt.Fprintf(w, "- machine: %s, %d logical CPUs, GOMAXPROCS %d, %s %s/%s; load generator, Caddy and memoryserver share them in one process\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	order := strings.Join(c.targets, ", ")
	if c.rounds > 1 {
		order += " (reversed every other round)"
	}
	fmt.Fprintf(w, "- load: %d workers, %v warm-up then %v measured per target, %d round(s), targets in the order %s\n",
		c.concurrency, c.warmup, c.duration, c.rounds, order)
	fmt.Fprintf(w, "- request (all targets; the gateway's also carries the Bearer token): `%s`\n\n", body)
	fmt.Fprintln(w, "| target | requests/s | p50 | p99 | CPU/request | requests | errors |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	byName := map[string]measured{}
	for _, m := range results {
		byName[m.name] = m
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %d | %d |\n", targetLabels[m.name], m.throughput(),
			millis(m.percentile(50)), millis(m.percentile(99)), cpuCell(m.result), m.ok, m.failed)
	}
	fmt.Fprintln(w)
	ratio(w, byName, "gateway", "proxy", "a/b (gateway vs plain reverse_proxy; goal >= 0.90)")
	ratio(w, byName, "proxy", "backend", "b/c (plain reverse_proxy vs backend directly)")
	cpuRatio(w, byName, "gateway", "proxy", "a/b")
	cpuRatio(w, byName, "proxy", "backend", "b/c")
	for _, m := range results {
		if m.firstErr != nil {
			fmt.Fprintf(w, "\nfirst error from %s: %v\n", m.name, m.firstErr)
		}
	}
}

// ratio prints the throughput ratio of targets x and y when both ran, and
// with several rounds each round's ratio too, which shows how much other
// load on the machine moved the numbers.
func ratio(w io.Writer, results map[string]measured, x, y, label string) {
	rx, okx := results[x]
	ry, oky := results[y]
	if !okx || !oky || ry.throughput() == 0 {
		return
	}
	fmt.Fprintf(w, "- throughput %s: %.2f", label, rx.throughput()/ry.throughput())
	if len(rx.perRound) > 1 {
		ratios := make([]float64, len(rx.perRound))
		texts := make([]string, len(rx.perRound))
		for i := range rx.perRound {
			ratios[i] = rx.perRound[i] / ry.perRound[i]
			texts[i] = fmt.Sprintf("%.2f", ratios[i])
		}
		slices.Sort(ratios)
		median := (ratios[(len(ratios)-1)/2] + ratios[len(ratios)/2]) / 2
		fmt.Fprintf(w, " (rounds: %s; median %.2f)", strings.Join(texts, ", "), median)
	}
	fmt.Fprintln(w)
}

// cpuRatio prints, when both CPU times are known, the throughput ratio x/y
// that CPU per request predicts (y's over x's): what a host with no other
// load shows when CPU bounds the whole process.
func cpuRatio(w io.Writer, results map[string]measured, x, y, label string) {
	cx, okx := results[x].cpuPerRequest()
	cy, oky := results[y].cpuPerRequest()
	if !okx || !oky || cx == 0 {
		return
	}
	fmt.Fprintf(w, "- throughput %s predicted from CPU per request: %.2f (%s: %+d µs per request)\n",
		label, float64(cy)/float64(cx), x, (cx - cy).Microseconds())
}

// cpuCell formats a result's CPU time per request for the table.
func cpuCell(r result) string {
	d, ok := r.cpuPerRequest()
	if !ok {
		return "n/a"
	}
	return micros(d)
}

// micros formats d in microseconds.
func micros(d time.Duration) string {
	return fmt.Sprintf("%d µs", d.Microseconds())
}

// millis formats d in milliseconds with two decimals.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// cpuModel names the processor from /proc/cpuinfo, where there is one.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if name, value, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}
