package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"sync"
)

// Storage is where the server keeps clients, grants, codes, keys and
// revocations. certmagic.Storage (Caddy's ctx.Storage()) satisfies it, so
// instances that share Caddy's storage share the authorization server.
type Storage interface {
	// Lock acquires the named lock, blocking until it is held or ctx ends.
	Lock(ctx context.Context, name string) error
	// Unlock releases the named lock.
	Unlock(ctx context.Context, name string) error
	// Store writes value at key, replacing what was there.
	Store(ctx context.Context, key string, value []byte) error
	// Load reads key; a missing key yields an error matching fs.ErrNotExist.
	Load(ctx context.Context, key string) ([]byte, error)
	// Delete removes key.
	Delete(ctx context.Context, key string) error
	// List returns the keys under path.
	List(ctx context.Context, path string, recursive bool) ([]string, error)
}

// Transactor is optionally implemented by a Storage that offers
// transactions (the PostgreSQL storage does, the file storage does not).
// What must happen exactly once across instances (a code redeemed, a
// refresh token rotated) then runs as one transaction under one
// statement's lock, instead of lock round trips whose writes can be cut in
// half by a crash.
type Transactor interface {
	// Transact runs fn holding the named lock exclusively across every
	// instance sharing the storage. Storage calls made with the context fn
	// receives belong to one transaction: its writes apply together when fn
	// returns nil, and not at all when it returns an error.
	Transact(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// store wraps Storage with a key prefix, JSON encoding and locks that hold
// both within the process and across instances.
type store struct {
	Storage
	prefix string

	mu    sync.Mutex
	locks map[string]*keyedMutex
}

func newStore(s Storage, prefix string) *store {
	return &store{Storage: s, prefix: prefix, locks: map[string]*keyedMutex{}}
}

// keyedMutex is one process-local lock, held while held has its one slot
// filled: a channel, so a waiter can give up when its context ends. refs
// counts its holders and waiters so the map entry is dropped when nobody
// needs it.
type keyedMutex struct {
	held chan struct{}
	refs int
}

// Key namespaces under the prefix.
const (
	nsClients = "clients"
	nsCodes   = "codes"
	nsGrants  = "grants"
	nsRevoked = "revoked"
	nsConsent = "consent"
	nsKeys    = "keys"
	nsLocks   = "locks"
	nsSecrets = "secrets"
	// nsDocuments caches client metadata documents, by the hash of the URL.
	nsDocuments = "client-documents"
	// nsAssertions remembers the jti of used client assertions until they
	// expire (replay protection).
	nsAssertions = "client-assertions"
	// nsUpstream holds sign-ins in progress at upstream providers and
	// the sessions they started.
	nsUpstream = "upstream"
	// nsUpstreamTokens holds each user's refresh token at each provider
	// (upstreamcredential.go).
	nsUpstreamTokens = "upstream-tokens"
	// nsSignedOut records when the operator signed each user out
	// (signout.go).
	nsSignedOut = "signed-out"
	// nsRevokedClients records when the operator revoked each client whose
	// id is a URL (clientrevocation.go).
	nsRevokedClients = "revoked-clients"
)

// key returns the storage key of id in namespace ns. ids are generated
// here or are hashes, never raw request input (see validID).
func (s *store) key(ns, id string) string {
	return path.Join(s.prefix, ns, id)
}

// validID reports whether id has the form of the random ids this server
// hands out (base64url), so it is safe to use in a storage key.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// get loads key into v, reporting found=false when it does not exist.
func (s *store) get(ctx context.Context, key string, v any) (found bool, err error) {
	b, err := s.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func (s *store) put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Store(ctx, key, b)
}

// remove deletes key; a key that is already gone is not an error.
func (s *store) remove(ctx context.Context, key string) error {
	if err := s.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// list returns the keys in the namespace (every namespace is flat); a
// namespace that does not exist yet is empty.
func (s *store) list(ctx context.Context, ns string) ([]string, error) {
	keys, err := s.List(ctx, path.Join(s.prefix, ns), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return keys, err
}

// locked runs fn while holding the named lock: first a process-local mutex
// (storage locks may poll slowly under contention), then the storage lock,
// so instances sharing the storage serialize too.
func (s *store) locked(ctx context.Context, name string, fn func() error) error {
	unlock, err := s.localLock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	lock := path.Join(s.prefix, nsLocks, name)
	if err := s.Lock(ctx, lock); err != nil {
		return err
	}
	defer s.Unlock(context.WithoutCancel(ctx), lock)
	return fn()
}

// atomically runs fn exclusively under the named lock, like locked, and
// when the storage is a Transactor as one transaction: fn must then make
// its storage calls with the context it receives (tx), and calls made
// with another context run outside the transaction.
func (s *store) atomically(ctx context.Context, name string, fn func(tx context.Context) error) error {
	t, ok := s.Storage.(Transactor)
	if !ok {
		return s.locked(ctx, name, func() error { return fn(ctx) })
	}
	// The local mutex keeps waiters of one instance from each holding a
	// database connection while they wait.
	unlock, err := s.localLock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	return t.Transact(ctx, path.Join(s.prefix, nsLocks, name), fn)
}

// localLock takes the process-local mutex of name and returns its release,
// or ctx's error when ctx ends first: requests queued behind a long hold
// (a user's provider check, which the checks of all their grants wait
// for, and the grants of one sign-in fall due together) must go when
// their clients do, not pile up as goroutines until the holder is done.
func (s *store) localLock(ctx context.Context, name string) (unlock func(), err error) {
	s.mu.Lock()
	m := s.locks[name]
	if m == nil {
		m = &keyedMutex{held: make(chan struct{}, 1)}
		s.locks[name] = m
	}
	m.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(s.locks, name)
		}
		s.mu.Unlock()
	}
	select {
	case m.held <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	return func() {
		<-m.held
		release()
	}, nil
}
