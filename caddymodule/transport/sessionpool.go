package transport

import (
	"container/list"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
)

// subject is whom a caller's share of the pool is counted for: a user, or
// a client acting on its own (never counted with a user of its name).
type subject struct {
	name   string
	client bool
}

// caller is whom a gateway-held backend session belongs to: the identity
// the Gate verified and attached to the request's context. It is never
// read from a header, which a client could set: two users, or two
// applications of one user, never share a backend session and its state.
type caller struct {
	subject  string
	clientID string
	// client is a token without a user, whose subject is a client id: it
	// never shares a session with a user of the same name.
	client bool
}

func (c caller) owner() subject { return subject{c.subject, c.client} }

// callerOf returns the verified identity of the admitted request r (the
// guard admits only tokens with a subject and a client id).
func callerOf(r *http.Request) (caller, bool) {
	id, ok := guard.IdentityFrom(r.Context())
	return caller{subject: id.Subject, clientID: id.ClientID, client: id.Client}, ok
}

// heldSession is a backend session the gateway opened for one caller.
type heldSession struct {
	key   caller
	ready chan struct{} // closed once opened (id, version, base) or failed (err)

	id      string        // set under sessionPool.mu once initialize answered
	version string        // the revision initialize settled on
	base    *http.Request // the opening request without its body, for the ping and the DELETE
	err     error

	// Guarded by sessionPool.mu.
	elem     *list.Element
	lastUsed time.Time
	users    int  // requests in flight in the session
	gone     bool // out of the pool: ended once users reaches 0
	lost     bool // the backend forgot it, or open ended it: nothing to end
}

// errPoolClosed is a request arriving while the handler is being cleaned up.
var errPoolClosed = errors.New("the gateway is shutting down")

// errPoolBusy is a new caller arriving while every held session has a
// request in flight: ending one would fail another caller's request.
var errPoolBusy = errors.New("every backend session the gateway may hold is in use")

// sessionPool holds the backend sessions of modern callers, one per caller
// and at most perSubject per subject, each ended after idle unused. Room
// for a new caller is made first from its subject's own sessions, then
// from the least recently used session without a request in flight; one
// user's many client ids thus never push other users out, and a session in
// use is never ended for someone else. Sessions leaving the pool are ended
// (DELETE) once no request uses them any more, in the background.
type sessionPool struct {
	max        int
	perSubject int
	idle       time.Duration
	now        func() time.Time
	end        func(*heldSession) // DELETE, best effort and bounded

	mu     sync.Mutex
	byKey  map[caller]*heldSession
	held   map[subject]int // sessions in the pool per subject
	byID   map[string]bool // ids from initialize's answer until ended, for holds
	order  list.List       // most recently used at the front
	closed bool
	ending sync.WaitGroup // background ends; Add only under mu before closed

	sweep     sync.Once
	stopSweep chan struct{}
}

func newSessionPool(max, perSubject int, idle time.Duration, now func() time.Time, end func(*heldSession)) *sessionPool {
	return &sessionPool{max: max, perSubject: perSubject, idle: idle, now: now, end: end,
		byKey: map[caller]*heldSession{}, held: map[subject]int{}, byID: map[string]bool{}, stopSweep: make(chan struct{})}
}

// acquire returns key's session, opening it with open when the pool has
// none: concurrent first requests of one caller wait for the same open,
// which calls opened with the session's id as soon as the backend gave it
// and, when it fails, has ended the session. The caller must release the
// session it got.
func (p *sessionPool) acquire(key caller, open func(opened func(id string)) (version string, base *http.Request, err error)) (*heldSession, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	p.expireLocked()
	if s := p.byKey[key]; s != nil {
		s.users++
		s.lastUsed = p.now()
		p.order.MoveToFront(s.elem)
		p.mu.Unlock()
		<-s.ready
		if s.err != nil {
			p.release(s)
			return nil, s.err
		}
		return s, nil
	}
	if !p.makeRoomLocked(key.owner()) {
		p.mu.Unlock()
		return nil, errPoolBusy
	}
	s := &heldSession{key: key, ready: make(chan struct{}), users: 1, lastUsed: p.now()}
	s.elem = p.order.PushFront(s)
	p.byKey[key] = s
	p.held[key.owner()]++
	p.mu.Unlock()
	p.sweep.Do(func() { go p.sweeper() })

	// The id is held from initialize's answer on: a legacy request naming
	// it is refused while notifications/initialized is on its way too.
	s.version, s.base, s.err = open(func(id string) {
		p.mu.Lock()
		s.id, p.byID[id] = id, true
		p.mu.Unlock()
	})
	close(s.ready)
	if s.err != nil {
		p.mu.Lock()
		s.lost = true // never opened, or open ended it: nothing to end
		if p.byKey[key] == s {
			p.removeLocked(s)
		}
		p.mu.Unlock()
		p.release(s)
		return nil, s.err
	}
	return s, nil
}

// makeRoomLocked makes room for a new session of owner: its own least
// recently used when it is at perSubject, then, when the pool is full, the
// least recently used without a request in flight. It reports false when
// every session is in use.
func (p *sessionPool) makeRoomLocked(owner subject) bool {
	if p.held[owner] >= p.perSubject {
		for e := p.order.Back(); e != nil; e = e.Prev() {
			if s := e.Value.(*heldSession); s.key.owner() == owner {
				p.removeLocked(s)
				break
			}
		}
	}
	if p.order.Len() < p.max {
		return true
	}
	for e := p.order.Back(); e != nil; e = e.Prev() {
		if s := e.Value.(*heldSession); s.users == 0 {
			p.removeLocked(s)
			return true
		}
	}
	return false
}

// release ends s's use by one request; a session out of the pool is ended
// when its last request is done.
func (p *sessionPool) release(s *heldSession) {
	p.mu.Lock()
	s.users--
	s.lastUsed = p.now()
	if !s.gone || s.users > 0 {
		p.mu.Unlock()
		return
	}
	if p.closed && !s.lost {
		p.mu.Unlock()
		p.endNow(s) // Close no longer waits for background ends
		return
	}
	p.retireLocked(s)
	p.mu.Unlock()
}

// drop takes s out of the pool, which the backend refused: the caller's
// next request opens a new one. s is ended (DELETE, best effort) unless
// gone: only a 404 says the backend no longer has it; after a 400 it may,
// and a session never ended would stay open at the backend.
func (p *sessionPool) drop(s *heldSession, gone bool) {
	p.mu.Lock()
	s.lost = s.lost || gone
	if p.byKey[s.key] == s {
		p.removeLocked(s)
	}
	p.mu.Unlock()
}

// retireLocked ends s, out of the pool and unused, in the background. Its
// id stays held until the end ran: a legacy request naming it is refused
// while the DELETE is on its way.
func (p *sessionPool) retireLocked(s *heldSession) {
	if s.lost {
		delete(p.byID, s.id)
		return
	}
	p.ending.Add(1)
	go func() {
		defer p.ending.Done()
		p.endNow(s)
	}()
}

// endNow ends s and then lets its id go.
func (p *sessionPool) endNow(s *heldSession) {
	p.end(s)
	p.mu.Lock()
	delete(p.byID, s.id)
	p.mu.Unlock()
}

// holds reports whether id is a session the gateway holds for a caller.
func (p *sessionPool) holds(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[id]
}

// removeLocked takes s out of the pool and ends it now when unused.
func (p *sessionPool) removeLocked(s *heldSession) {
	p.order.Remove(s.elem)
	delete(p.byKey, s.key)
	if p.held[s.key.owner()]--; p.held[s.key.owner()] == 0 {
		delete(p.held, s.key.owner())
	}
	s.gone = true
	if s.users == 0 {
		p.retireLocked(s)
	}
}

// expireLocked removes the sessions unused for idle, from the least
// recently used on.
func (p *sessionPool) expireLocked() {
	now := p.now()
	for e := p.order.Back(); e != nil; {
		s, prev := e.Value.(*heldSession), e.Prev()
		switch {
		case s.users > 0: // in use: not idle
		case now.Sub(s.lastUsed) < p.idle:
			return
		default:
			p.removeLocked(s)
		}
		e = prev
	}
}

// expire removes idle sessions; the sweeper calls it, so sessions do not
// outlive Idle when no request comes.
func (p *sessionPool) expire() {
	p.mu.Lock()
	if !p.closed {
		p.expireLocked()
	}
	p.mu.Unlock()
}

// sweeper expires idle sessions until Close.
func (p *sessionPool) sweeper() {
	t := time.NewTicker(max(p.idle/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stopSweep:
			return
		case <-t.C:
			p.expire()
		}
	}
}

// close ends every session not in use now (those in use when their request
// is done) and waits for the ends already under way.
func (p *sessionPool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stopSweep)
	var idle []*heldSession
	for e := p.order.Front(); e != nil; e = e.Next() {
		s := e.Value.(*heldSession)
		s.gone = true
		switch {
		case s.users > 0: // ended by release
		case s.lost:
			delete(p.byID, s.id)
		default:
			idle = append(idle, s)
		}
	}
	p.order.Init()
	clear(p.byKey)
	clear(p.held)
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.endNow(s)
		}()
	}
	wg.Wait()
	p.ending.Wait()
}
