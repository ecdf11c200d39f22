package stdiobackend

import (
	"bufio"
	"io"
	"time"

	"go.uber.org/zap"
)

// maxStderrLine is how much of one stderr line is logged.
const maxStderrLine = 1024

// stderrLog writes a child's stderr to the log, one entry per line, each
// truncated to maxStderrLine, at most perSecond entries a second with a
// burst of five seconds' worth: a child printing in a loop must not flood
// the gateway's log or disk. Dropped lines are counted in the next entry.
type stderrLog struct {
	logger    *zap.Logger
	now       func() time.Time
	perSecond float64
	burst     float64

	tokens  float64
	last    time.Time
	dropped int
}

func newStderrLog(logger *zap.Logger, now func() time.Time, perSecond int) *stderrLog {
	return &stderrLog{logger: logger, now: now, perSecond: float64(perSecond), burst: float64(5 * perSecond), tokens: float64(5 * perSecond)}
}

// copy logs r's lines until it ends.
func (s *stderrLog) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, maxStderrLine)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			s.line(line)
		}
		for isPrefix && err == nil { // skip the rest of a long line
			_, isPrefix, err = br.ReadLine()
		}
		if err != nil {
			return
		}
	}
}

// line logs one line if the rate allows it.
func (s *stderrLog) line(text []byte) {
	now := s.now()
	if !s.last.IsZero() {
		s.tokens = min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.perSecond)
	}
	s.last = now
	if s.tokens < 1 {
		s.dropped++
		return
	}
	s.tokens--
	fields := []zap.Field{zap.String("line", string(text))}
	if s.dropped > 0 {
		fields = append(fields, zap.Int("dropped_lines", s.dropped))
		s.dropped = 0
	}
	s.logger.Info("stderr", fields...)
}
