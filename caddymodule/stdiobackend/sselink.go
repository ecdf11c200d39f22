package stdiobackend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// startSSE opens a session with a legacy (2024-11-05) HTTP+SSE server
// through cfg.SSE: a GET of r's path holds the server's event stream, whose
// endpoint event names where the messages are POSTed, and initializes it.
// The session's requests carry r's headers (the guard's identity headers of
// the subject it serves) and context values, not its cancellation.
func startSSE(r *http.Request, cfg *Config, key procKey, log *zap.Logger) (*process, error) {
	base := r.Clone(context.WithoutCancel(r.Context()))
	for _, h := range []string{"Content-Type", "Content-Length", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name", "Last-Event-Id"} {
		base.Header.Del(h)
	}
	base.Body, base.ContentLength, base.GetBody = http.NoBody, 0, nil
	streamCtx, cancel := context.WithCancel(base.Context())
	get := base.Clone(streamCtx)
	get.Method = http.MethodGet
	get.Header.Set("Accept", "text/event-stream")
	pr, pw := io.Pipe()
	sw := &streamWriter{header: make(http.Header), pw: pw, started: make(chan int, 1)}
	go func() {
		defer func() {
			// A proxy aborts a stream that broke mid-way by panicking with
			// ErrAbortHandler, as net/http's does; here it just ends it.
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
			sw.WriteHeader(http.StatusBadGateway) // no status at all: not reached
			pw.CloseWithError(errors.New("the event stream ended"))
		}()
		cfg.SSE.ServeHTTP(sw, get)
	}()

	ctx, stopWaiting := context.WithTimeout(r.Context(), cfg.StartTimeout)
	defer stopWaiting()
	fail := func(err error) (*process, error) {
		cancel()
		pr.Close()
		return nil, err
	}
	select {
	case code := <-sw.started:
		if ct := sw.header.Get("Content-Type"); code != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
			return fail(fmt.Errorf("the SSE server answered GET %s with %d %q, not an event stream (is upstream_path its SSE endpoint, such as /sse?)", get.URL.Path, code, ct))
		}
	case <-ctx.Done():
		return fail(fmt.Errorf("the SSE server did not answer GET %s within %v", get.URL.Path, cfg.StartTimeout))
	}

	p := newProcess(cfg, key, log)
	l := &sseLink{p: p, base: base, upstream: cfg.SSE, cancel: cancel, endpoint: make(chan string, 1), maxBytes: cfg.MaxMessageBytes}
	p.link = l
	go l.read(pr)
	select {
	case e := <-l.endpoint:
		u, err := url.Parse(e)
		if err != nil || u.Path == "" {
			p.stop()
			return nil, fmt.Errorf("the SSE server's endpoint event %q is not a URL", e)
		}
		// Only the path and query are taken: the server cannot send the
		// gateway's POSTs (with the user's identity headers) to another
		// host; they go where the upstream goes.
		l.post = get.URL.ResolveReference(&url.URL{Path: u.Path, RawQuery: u.RawQuery})
	case <-p.done:
		return nil, fmt.Errorf("the SSE server's stream ended before its endpoint event: %v", p.exitErr)
	case <-ctx.Done():
		p.stop()
		return nil, fmt.Errorf("the SSE server sent no endpoint event within %v", cfg.StartTimeout)
	}
	p.log.Info("SSE session opened", zap.String("endpoint", l.post.Path))
	if err := p.initialize(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// sseLink is a session on a legacy server's event stream.
type sseLink struct {
	p        *process
	base     *http.Request
	upstream http.Handler
	cancel   context.CancelFunc
	endpoint chan string
	post     *url.URL
	maxBytes int
}

// read parses the event stream: the endpoint event, then one JSON-RPC
// message per message event.
func (l *sseLink) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var event string
	var data bytes.Buffer
	var err error
	for {
		var line []byte
		line, err = readLine(br, l.maxBytes)
		if err != nil && len(line) == 0 {
			break
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0: // the event is complete
			switch event {
			case "endpoint":
				select {
				case l.endpoint <- data.String():
				default:
				}
			case "", "message":
				if data.Len() > 0 {
					l.p.dispatch(bytes.Clone(data.Bytes()))
				}
			}
			event = ""
			data.Reset()
		case bytes.HasPrefix(line, []byte("event:")):
			event = strings.TrimSpace(string(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(line[len("data:"):], []byte(" ")))
			if data.Len() > l.maxBytes {
				err = errLineTooLong
			}
		}
		if err != nil {
			break
		}
	}
	l.cancel()
	l.p.closed(fmt.Errorf("the SSE stream ended: %v", err))
}

// send POSTs one message to the session's endpoint.
func (l *sseLink) send(line []byte) error {
	ctx, cancel := context.WithTimeout(l.base.Context(), writeTimeout)
	defer cancel()
	req := l.base.Clone(ctx)
	req.Method = http.MethodPost
	req.URL = l.post
	req.RequestURI = l.post.RequestURI()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Body = io.NopCloser(bytes.NewReader(line))
	req.ContentLength = int64(len(line))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(line)), nil }
	rec := &streamWriter{header: make(http.Header), started: make(chan int, 1)}
	l.upstream.ServeHTTP(rec, req)
	if rec.status/100 != 2 {
		return fmt.Errorf("%w: the SSE server answered the POST with %d", errExited, rec.status)
	}
	return nil
}

// stop closes the event stream, which ends the session.
func (l *sseLink) stop(done <-chan struct{}) {
	l.cancel()
	<-done
}

// streamWriter is the ResponseWriter of the upstream handler: the status
// and headers are reported once, the body goes into pw (nil: discarded).
type streamWriter struct {
	header  http.Header
	status  int
	started chan int
	pw      *io.PipeWriter
}

func (s *streamWriter) Header() http.Header { return s.header }

func (s *streamWriter) WriteHeader(code int) {
	if s.status != 0 || code < 200 {
		return
	}
	s.status = code
	s.started <- code
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	if s.pw == nil {
		return len(b), nil
	}
	return s.pw.Write(b)
}

// Flush lets the proxy stream; every Write reaches the reader at once.
func (s *streamWriter) Flush() {}
