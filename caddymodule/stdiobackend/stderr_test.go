package stdiobackend

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A child printing in a loop gets a burst of five seconds' worth of lines
// into the log, then perSecond a second, with the dropped count.
func TestStderrIsRateLimited(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	clk := newClock()
	s := newStderrLog(zap.New(core), clk.now, 2)
	s.copy(strings.NewReader(strings.Repeat("spam\n", 100)))
	if n := logs.Len(); n != 10 {
		t.Fatalf("logged %d of 100 lines at once, want the burst of 10", n)
	}
	clk.advance(time.Second)
	s.copy(strings.NewReader("a\nb\nc\n"))
	entries := logs.TakeAll()
	if len(entries) != 12 {
		t.Fatalf("logged %d lines after a second, want 2 more", len(entries))
	}
	if got := entries[10].ContextMap()["dropped_lines"]; got != int64(90) {
		t.Errorf("dropped_lines = %v, want 90", got)
	}
}

func TestStderrLinesAreTruncated(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	s := newStderrLog(zap.New(core), newClock().now, 10)
	s.copy(strings.NewReader(strings.Repeat("x", 10*maxStderrLine) + "\nnext\n"))
	entries := logs.TakeAll()
	if len(entries) != 2 || len(entries[0].ContextMap()["line"].(string)) != maxStderrLine || entries[1].ContextMap()["line"] != "next" {
		t.Fatalf("entries %d, want the long line truncated to %d bytes then next", len(entries), maxStderrLine)
	}
}
