package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// signingKey is an ES256 key as kept in storage. It signs from ActiveFrom for
// one KeyRotation period and stays published until every token it signed has
// expired.
type signingKey struct {
	JWK        json.RawMessage `json:"jwk"` // private JWK
	ActiveFrom time.Time       `json:"active_from"`

	private jose.JSONWebKey
	signer  jose.Signer
}

// keyring caches the signing keys. Storage is the truth: a new key is
// written there well before it starts signing (lead), and every instance
// rereads storage more often than that (cacheTTL), so every instance
// publishes a key before any token signed with it can reach a guard.
type keyring struct {
	store *store
	cfg   Config
	log   *zap.Logger

	mu       sync.Mutex
	keys     []*signingKey // by ActiveFrom
	loadedAt time.Time
	jwks     jose.JSONWebKeySet
}

func newKeyring(s *store, cfg Config, log *zap.Logger) *keyring {
	return &keyring{store: s, cfg: cfg, log: log}
}

// cacheTTL is how long the key list is trusted without rereading storage.
func (k *keyring) cacheTTL() time.Duration { return min(time.Minute, k.cfg.KeyRotation/8) }

// lead is how long before it signs a new key is created and published.
func (k *keyring) lead() time.Duration { return 2 * k.cacheTTL() }

func (k *keyring) activeUntil(key *signingKey) time.Time {
	return key.ActiveFrom.Add(k.cfg.KeyRotation)
}

// publishedUntil allows a minute of clock skew between instances and guards.
func (k *keyring) publishedUntil(key *signingKey) time.Time {
	return k.activeUntil(key).Add(k.cfg.AccessTokenLifetime + time.Minute)
}

// signer returns the key that signs at now, creating keys as the schedule
// requires.
func (k *keyring) signer(ctx context.Context, now time.Time) (*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(ctx, now, true); err != nil {
		return nil, err
	}
	for _, key := range slices.Backward(k.keys) {
		if !key.ActiveFrom.After(now) && k.activeUntil(key).After(now) {
			return key, nil
		}
	}
	return nil, fmt.Errorf("no signing key is active at %s", now)
}

// publicKeys returns the JWKS: every key that is published at now. It never
// creates the first key (that is the first signing's job, so a server that
// never signs never writes), but once keys exist it creates the next one a
// lead ahead of its turn, so that every instance publishes it in time.
func (k *keyring) publicKeys(ctx context.Context, now time.Time) (jose.JSONWebKeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(ctx, now, false); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return k.jwks, nil
}

// refresh rereads storage when the cache is stale and makes sure a key signs
// until at least now+lead, creating one under the storage lock; without
// first, only when some key exists already (see publicKeys). While the cached keys still suffice, a storage failure only
// delays the reread: verification must not fail with the storage.
func (k *keyring) refresh(ctx context.Context, now time.Time, first bool) error {
	if k.covered(now) && now.Sub(k.loadedAt) < k.cacheTTL() {
		return nil
	}
	if err := k.load(ctx, now); err != nil {
		if !k.covered(now) {
			return err
		}
		k.log.Warn("rereading signing keys failed; using the cached ones", zapErr(err))
		k.loadedAt = now
		return nil
	}
	if k.covered(now) || !first && len(k.keys) == 0 {
		return nil
	}
	return k.store.locked(ctx, "keys", func() error {
		if err := k.load(ctx, now); err != nil || k.covered(now) || !first && len(k.keys) == 0 {
			return err
		}
		from := now
		if n := len(k.keys); n > 0 && k.activeUntil(k.keys[n-1]).After(now) {
			from = k.activeUntil(k.keys[n-1])
		}
		if err := k.create(ctx, from); err != nil {
			return err
		}
		return k.load(ctx, now)
	})
}

// covered reports whether some cached key signs at now+lead, so no new key
// is needed yet.
func (k *keyring) covered(now time.Time) bool {
	n := len(k.keys)
	return n > 0 && !k.keys[0].ActiveFrom.After(now) && k.activeUntil(k.keys[n-1]).After(now.Add(k.lead()))
}

func (k *keyring) create(ctx context.Context, activeFrom time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kid := randomID()
	jwk, err := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"})
	if err != nil {
		return err
	}
	return k.store.put(ctx, k.store.key(nsKeys, kid+".json"), signingKey{JWK: jwk, ActiveFrom: activeFrom})
}

// load rereads every key from storage, keeping the parsed signers of keys
// already known.
func (k *keyring) load(ctx context.Context, now time.Time) error {
	names, err := k.store.list(ctx, nsKeys)
	if err != nil {
		return err
	}
	known := map[string]*signingKey{}
	for _, key := range k.keys {
		known[key.private.KeyID] = key
	}
	var keys []*signingKey
	var jwks jose.JSONWebKeySet
	for _, name := range names {
		key := new(signingKey)
		found, err := k.store.get(ctx, name, key)
		if err != nil {
			return fmt.Errorf("reading signing key %s: %w", name, err)
		}
		if !found {
			continue // swept meanwhile
		}
		if err := key.private.UnmarshalJSON(key.JWK); err != nil {
			return fmt.Errorf("parsing signing key %s: %w", name, err)
		}
		if old := known[key.private.KeyID]; old != nil {
			key = old
		} else if key.signer, err = jose.NewSigner(
			jose.SigningKey{Algorithm: jose.ES256, Key: key.private},
			(&jose.SignerOptions{}).WithType("at+jwt"),
		); err != nil {
			return err
		}
		if k.publishedUntil(key).After(now) {
			keys = append(keys, key)
			jwks.Keys = append(jwks.Keys, key.private.Public())
		}
	}
	slices.SortFunc(keys, func(a, b *signingKey) int { return a.ActiveFrom.Compare(b.ActiveFrom) })
	k.keys, k.jwks, k.loadedAt = keys, jwks, now
	return nil
}

// sweep deletes keys whose tokens have all expired.
func (k *keyring) sweep(ctx context.Context, now time.Time) error {
	return sweepNamespace(ctx, k.store, nsKeys, func(key *signingKey) bool {
		return !k.publishedUntil(key).After(now)
	})
}

// VerificationKeys returns the public keys a guard verifies access tokens
// with: the signing key, keys created ahead of their turn, and retired keys
// whose tokens may still be valid. It is served from memory almost always.
func (s *Server) VerificationKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	return s.keys.publicKeys(ctx, s.cfg.Now())
}

// serveJWKS serves the jwks_uri.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeMethodNotAllowed(w, "GET")
		return
	}
	jwks, err := s.VerificationKeys(r.Context())
	if err != nil {
		s.log.Error("loading signing keys", zapErr(err))
		writeError(w, errServer())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeBody(w, jwks)
}
