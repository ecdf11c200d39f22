package transport

import (
	"bytes"
	"io"
)

// sseFilter rewrites a text/event-stream event by event, applying a
// rewrite (tools/list filtering, modern result fields; none when nil) to
// each event's data, and writes each event through whole. Events the rewrite leaves alone pass
// unchanged. An event longer than maxBuffered is passed through unfiltered
// (tools/call stays gated by the Gate; the filter only trims what a client
// is shown).
type sseFilter struct {
	out     io.Writer
	rewrite func([]byte) []byte
	pending []byte // bytes of the event being read
}

func newSSEFilter(out io.Writer, rewrite func([]byte) []byte) *sseFilter {
	return &sseFilter{out: out, rewrite: rewrite}
}

// Write consumes stream bytes and emits every event they complete.
func (f *sseFilter) Write(p []byte) (int, error) {
	f.pending = append(f.pending, p...)
	for {
		end := eventEnd(f.pending)
		if end < 0 {
			break
		}
		if _, err := f.out.Write(f.rewriteEvent(f.pending[:end])); err != nil {
			return len(p), err
		}
		f.pending = f.pending[end:]
	}
	if len(f.pending) > maxBuffered {
		f.close()
	}
	return len(p), nil
}

// close emits what is left of an unterminated event.
func (f *sseFilter) close() {
	if len(f.pending) > 0 {
		_, _ = f.out.Write(f.pending)
		f.pending = nil
	}
}

// eventEnd returns the length of the first complete event in b (up to and
// including the blank line that ends it), or -1.
func eventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		rest := b[i+1:]
		switch {
		case bytes.HasPrefix(rest, []byte("\n")):
			return i + 2
		case bytes.HasPrefix(rest, []byte("\r\n")):
			return i + 3
		}
	}
	return -1
}

// rewriteEvent returns event with its data rewritten, as a single data line
// after the event's other fields.
func (f *sseFilter) rewriteEvent(event []byte) []byte {
	fields, joined := eventFields(event)
	if joined == nil || f.rewrite == nil {
		return event
	}
	filtered := f.rewrite(joined)
	if bytes.Equal(filtered, joined) {
		return event
	}
	var out bytes.Buffer
	for _, l := range fields {
		out.Write(l)
		out.WriteByte('\n')
	}
	out.WriteString("data: ")
	out.Write(filtered)
	out.WriteString("\n\n")
	return out.Bytes()
}

// eventData returns the data of an event (its data lines joined), or nil
// when it has none.
func eventData(event []byte) []byte {
	_, data := eventFields(event)
	return data
}

// eventFields splits an event into its other fields and its data.
func eventFields(event []byte) (fields [][]byte, data []byte) {
	var lines [][]byte
	for line := range bytes.Lines(event) {
		line = bytes.TrimRight(line, "\r\n")
		if value, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			lines = append(lines, bytes.TrimPrefix(value, []byte(" ")))
		} else if len(line) > 0 {
			fields = append(fields, line)
		}
	}
	if len(lines) == 0 {
		return fields, nil
	}
	return fields, bytes.Join(lines, []byte("\n"))
}
