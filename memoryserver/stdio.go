package memoryserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// ServeStdio serves newline-delimited JSON-RPC: one message (or batch) per
// line of in, one reply per line of out, and nothing else on out. Messages
// are handled one at a time, in order, on the default graph. It returns nil
// when in ends, or ctx's error when ctx is cancelled first; a read from in
// then still in progress is abandoned (its goroutine ends when in does).
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := make(chan stdioLine)
	stop := make(chan struct{})
	defer close(stop)
	go readLines(bufio.NewReader(in), s.opts.MaxBodyBytes, lines, stop)
	for {
		var l stdioLine
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		if err := s.serveLine(ctx, l, out); err != nil {
			return err
		}
		if l.err != nil {
			if errors.Is(l.err, io.EOF) {
				return nil
			}
			return l.err
		}
	}
}

// stdioLine is one line of input; err ends the input after this line.
type stdioLine struct {
	data    []byte
	tooLong bool
	err     error
}

func (s *Server) serveLine(ctx context.Context, l stdioLine, out io.Writer) error {
	var reply any
	switch {
	case l.tooLong:
		reply = jsonrpc.NewError(nil, jsonrpc.InvalidRequest, fmt.Sprintf("Message too large: the limit is %d bytes", s.opts.MaxBodyBytes))
	case len(bytes.TrimSpace(l.data)) == 0:
		return nil
	default:
		payload, perr := jsonrpc.Parse(l.data, jsonrpc.DefaultMaxDepth)
		if perr != nil {
			reply = jsonrpc.Response{JSONRPC: jsonrpc.Version, Error: perr}
			break
		}
		replies := s.respond(ctx, "", payload)
		switch {
		case len(replies) == 0:
			return nil
		case payload.Batch:
			reply = replies
		default:
			reply = replies[0]
		}
	}
	b, err := json.Marshal(reply)
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}

// readLines sends each line of br (at most max bytes of it) until an error
// or stop. A longer line is consumed and reported as too long.
func readLines(br *bufio.Reader, max int64, lines chan<- stdioLine, stop <-chan struct{}) {
	for {
		var l stdioLine
		for {
			chunk, err := br.ReadSlice('\n')
			if !l.tooLong {
				l.data = append(l.data, chunk...)
				l.tooLong = int64(len(l.data)) > max+1 // +1: the newline
				if l.tooLong {
					l.data = nil
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			l.err = err
			break
		}
		select {
		case lines <- l:
		case <-stop:
			return
		}
		if l.err != nil {
			return
		}
	}
}
