package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunReportsEveryTarget runs the whole benchmark briefly: Caddy starts,
// the OAuth flow yields a token, and every target answers without errors. It
// checks no numbers, which depend on the machine.
func TestRunReportsEveryTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy and runs load for a few seconds")
	}
	for _, protocol := range []string{legacyProtocol, modernProtocol} {
		t.Run(protocol, func(t *testing.T) { runBriefly(t, protocol) })
	}
}

func runBriefly(t *testing.T, protocol string) {
	c := config{duration: 300 * time.Millisecond, concurrency: 2, rounds: 2, entities: 3, targets: []string{"gateway", "proxy", "backend"}, protocol: protocol}
	var out strings.Builder
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, name := range c.targets {
		row := rowOf(report, targetLabels[name])
		if row == "" {
			t.Errorf("no row for %s in\n%s", name, report)
		} else if !strings.HasSuffix(row, "| 0 |") {
			t.Errorf("%s had errors: %s", name, row)
		}
	}
	for _, want := range []string{"throughput a/b", "throughput b/c", "first error"} {
		if got := strings.Contains(report, want); got != (want != "first error") {
			t.Errorf("report contains %q: %v\n%s", want, got, report)
		}
	}
}

// rowOf returns the table row of report that starts with label.
func rowOf(report, label string) string {
	for line := range strings.Lines(report) {
		if strings.HasPrefix(line, "| "+label+" |") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func TestPercentileIsNearestRank(t *testing.T) {
	var r result
	for i := 100; i >= 1; i-- {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{1: time.Millisecond, 50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := r.percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := (result{}).percentile(50); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
}

func TestCheckRejectsUnknownTarget(t *testing.T) {
	c := config{duration: time.Second, concurrency: 1, rounds: 1, entities: 3, targets: []string{"gateway", "nginx"}, protocol: legacyProtocol}
	if err := c.check(); err == nil || !strings.Contains(err.Error(), "nginx") {
		t.Errorf("check() = %v, want an error naming nginx", err)
	}
}
