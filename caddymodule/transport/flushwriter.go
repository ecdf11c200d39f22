package transport

import "net/http"

// flushWriter writes to the client. When eager (streams) it flushes after
// every write, so SSE events are not held back; otherwise the upstream
// handler's own flushes pass through. onFirst runs before the first
// non-empty write; wrote records that one happened (or that the status
// line is out).
type flushWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	eager   bool
	onFirst func()
	wrote   bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !f.wrote {
		f.wrote = true
		f.onFirst()
	}
	n, err := f.w.Write(p)
	if f.eager {
		f.flush()
	}
	return n, err
}

func (f *flushWriter) flush() { _ = f.rc.Flush() }
