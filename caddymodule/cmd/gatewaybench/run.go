package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// run starts the stack, prepares the targets, measures them and prints the
// report to out. It stops Caddy and removes its state before returning.
func run(ctx context.Context, c config, out io.Writer) (err error) {
	if err := c.check(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := startCaddy(dir, c.storageDSN)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, caddy.Stop()) }()
	client := newClient(c.concurrency)
	defer client.CloseIdleConnections()

	body, err := measuredCall(c.protocol)
	if err != nil {
		return err
	}
	targets, err := prepare(ctx, client, st, c, body)
	if err != nil {
		return err
	}
	if c.cpuProfile != "" {
		stop, err := startProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	pooled := make([]measured, len(targets))
	for round := range c.rounds {
		for k := range targets {
			// Every other round runs the targets in reverse, so a drift in
			// the machine's load does not always favour the same target.
			i := k
			if round%2 == 1 {
				i = len(targets) - 1 - k
			}
			t := targets[i]
			progress.Printf("round %d/%d: %s: %v warm-up, %v measured", round+1, c.rounds, t.name, c.warmup, c.duration)
			if c.warmup > 0 {
				load(ctx, client, t, body, c.concurrency, c.warmup)
			}
			r := load(ctx, client, t, body, c.concurrency, c.duration)
			pooled[i].name = t.name
			pooled[i].perRound = append(pooled[i].perRound, r.throughput())
			pooled[i].add(r)
		}
	}
	printReport(out, c, body, pooled)
	return nil
}

// prepare seeds the graph through the backend, obtains a token when the
// gateway is measured, and checks that every target answers body with a
// tool result.
func prepare(ctx context.Context, client *http.Client, st *stack, c config, body []byte) ([]target, error) {
	seeder := newTarget("backend", st.backend, "", legacyProtocol)
	seed, err := seedCalls(c.entities)
	if err != nil {
		return nil, err
	}
	for _, call := range seed {
		if err := seeder.callTool(ctx, client, call); err != nil {
			return nil, fmt.Errorf("seeding the graph: %v", err)
		}
	}
	var targets []target
	for _, name := range c.targets {
		t := newTarget(name, st.backend, "", c.protocol)
		switch name {
		case "gateway":
			progress.Printf("obtaining an access token from %s", st.gateway)
			token, err := obtainToken(ctx, client, st.gateway, benchUser, st.password)
			if err != nil {
				return nil, err
			}
			t = newTarget(name, st.gateway, token, c.protocol)
		case "proxy":
			t = newTarget(name, st.proxy, "", c.protocol)
		}
		if err := t.callTool(ctx, client, body); err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// newClient returns the one client every target shares, keeping enough
// idle connections that each worker reuses its own.
func newClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        4 * workers,
		MaxIdleConnsPerHost: 2 * workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// startProfile writes a CPU profile to path until the returned func runs.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			progress.Printf("writing %s: %v", path, err)
		}
	}, nil
}
