package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/memoryserver"
	"go.uber.org/zap"
)

// shutdownGrace is how long requests in flight may take to finish after
// SIGINT or SIGTERM.
const shutdownGrace = 10 * time.Second

// serveHTTP serves srv on addr until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, srv *memoryserver.Server, addr string, logger *zap.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	// The log line carries the real address, which matters with port 0.
	logger.Info("listening", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
