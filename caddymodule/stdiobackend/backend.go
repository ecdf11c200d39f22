package stdiobackend

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// maxRestartDelay caps the delay between restarts of a crashing child.
const maxRestartDelay = 30 * time.Second

// Backend runs the processes of one stdio command and serves them over
// HTTP (see ServeHTTP). Close stops them all.
type Backend struct {
	cfg Config

	mu       sync.Mutex
	procs    map[procKey]*slot
	failures map[procKey]failure
	closed   bool

	stopSweep chan struct{}
	sweeping  sync.WaitGroup
}

// slot is a user's or client's process, or its start in progress.
type slot struct {
	ready chan struct{} // closed when p or err is set
	p     *process
	err   error
}

// failure is a process key's recent crashes, for the restart delay.
type failure struct {
	count int
	at    time.Time
}

// errBusy is an answer to try again later: 503 with Retry-After.
type errBusy struct {
	reason     string
	retryAfter time.Duration
}

func (e *errBusy) Error() string { return e.reason }

// New validates cfg, applies its defaults and starts the idle sweeper.
func New(cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	b := &Backend{cfg: cfg, procs: map[procKey]*slot{}, failures: map[procKey]failure{}, stopSweep: make(chan struct{})}
	b.sweeping.Add(1)
	go b.sweep(min(cfg.IdleTimeout/4, 30*time.Second))
	return b, nil
}

// sweep stops idle processes every interval until Close.
func (b *Backend) sweep(interval time.Duration) {
	defer b.sweeping.Done()
	t := time.NewTicker(max(interval, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-b.stopSweep:
			return
		case <-t.C:
			b.StopIdle()
		}
	}
}

// StopIdle stops the processes that served nothing for IdleTimeout (by
// Config.Now); the sweeper calls it.
func (b *Backend) StopIdle() {
	now := b.cfg.Now()
	var idle []*process
	b.mu.Lock()
	for key, s := range b.procs {
		p := s.p
		if p == nil {
			continue
		}
		p.mu.Lock()
		expired := p.busy == 0 && now.Sub(p.lastUsed) >= b.cfg.IdleTimeout
		if expired {
			// Marked now, under the lock acquire takes: a request that found
			// this process a moment ago starts a new one instead of using it.
			p.stopping = true
		}
		p.mu.Unlock()
		if expired {
			delete(b.procs, key)
			idle = append(idle, p)
		}
	}
	b.mu.Unlock()
	for _, p := range idle {
		p.log.Info("stopping idle stdio server", zap.Duration("idle_timeout", b.cfg.IdleTimeout))
		go p.stop()
	}
}

// Processes reports how many processes run or are starting.
func (b *Backend) Processes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.procs)
}

// acquire returns the running process for key, starting it for r if
// needed, and marks it busy; release undoes that.
func (b *Backend) acquire(r *http.Request, key procKey) (*process, error) {
	ctx := r.Context()
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, &errBusy{reason: "the gateway is shutting down", retryAfter: time.Second}
		}
		s := b.procs[key]
		if s == nil {
			return b.launch(r, key) // unlocks b.mu
		}
		b.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if s.err != nil {
			return nil, s.err
		}
		s.p.mu.Lock()
		usable := s.p.exitErr == nil && !s.p.stopping
		if usable {
			s.p.busy++
		}
		s.p.mu.Unlock()
		if usable {
			return s.p, nil
		}
		b.forget(key, s) // exited: start another
	}
}

// launch starts the process for key; b.mu is held and released here.
func (b *Backend) launch(r *http.Request, key procKey) (*process, error) {
	now := b.cfg.Now()
	if f := b.failures[key]; f.count > 1 {
		delay := min(time.Second<<(f.count-2), maxRestartDelay)
		if wait := f.at.Add(delay).Sub(now); wait > 0 {
			b.mu.Unlock()
			return nil, &errBusy{reason: fmt.Sprintf("the stdio server crashed %d times in a row; it restarts in %v", f.count, wait.Round(time.Second)), retryAfter: wait}
		}
	}
	if len(b.procs) >= b.cfg.MaxProcesses {
		retry := b.cfg.IdleTimeout
		b.mu.Unlock()
		// A new subject past the cap waits for an idle process to stop;
		// running ones are never evicted for it (another user's work).
		return nil, &errBusy{reason: fmt.Sprintf("all %d stdio server processes are in use", b.cfg.MaxProcesses), retryAfter: min(retry, maxRestartDelay)}
	}
	s := &slot{ready: make(chan struct{})}
	b.procs[key] = s
	b.mu.Unlock()

	escaped := ""
	log := b.cfg.Logger
	if !b.cfg.Shared {
		escaped = key.escaped()
		log = log.With(key.logFields()...)
	}
	// The start outlives the request that asked for it: others may wait
	// on it, and a client giving up must not leave a half-started child.
	var p *process
	var err error
	if b.cfg.SSE != nil {
		p, err = startSSE(r.WithContext(context.WithoutCancel(r.Context())), &b.cfg, key, log)
	} else {
		p, err = startProcess(context.WithoutCancel(r.Context()), &b.cfg, key, escaped, log)
	}
	if err != nil {
		s.err = err
		close(s.ready)
		b.forget(key, s)
		b.crashed(key)
		return nil, err
	}
	p.busy = 1
	s.p = p
	close(s.ready)
	go func() {
		<-p.done
		b.mu.Lock()
		if b.procs[key] == s {
			delete(b.procs, key)
		}
		b.mu.Unlock()
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if !stopping {
			b.crashed(key)
		}
	}()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed { // Close ran during the start and could not see p
		go p.stop()
		return nil, &errBusy{reason: "the gateway is shutting down", retryAfter: time.Second}
	}
	return p, nil
}

// forget removes s from key unless another slot replaced it.
func (b *Backend) forget(key procKey, s *slot) {
	b.mu.Lock()
	if b.procs[key] == s {
		delete(b.procs, key)
	}
	b.mu.Unlock()
}

// crashed counts a failed start or an exit nobody asked for.
func (b *Backend) crashed(key procKey) {
	b.mu.Lock()
	f := b.failures[key]
	b.failures[key] = failure{count: f.count + 1, at: b.cfg.Now()}
	b.mu.Unlock()
}

// release marks one use of p done; a success clears the crash count.
func (b *Backend) release(p *process, ok bool) {
	p.mu.Lock()
	p.busy--
	p.lastUsed = b.cfg.Now()
	p.mu.Unlock()
	if ok {
		b.mu.Lock()
		delete(b.failures, p.key)
		b.mu.Unlock()
	}
}

// Close stops every process and waits until they are gone. Caddy calls it
// (through the module's Cleanup) on the old configuration at a reload.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	slots := b.procs
	b.procs = map[procKey]*slot{}
	b.mu.Unlock()
	close(b.stopSweep)
	b.sweeping.Wait()
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-s.ready
			if s.p != nil {
				s.p.stop()
			}
		}()
	}
	wg.Wait()
	return nil
}
