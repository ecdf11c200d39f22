package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// RFC 7523 client assertions (private_key_jwt) of clients whose metadata
// documents publish their keys.

// jwtBearerAssertion is the client_assertion_type of RFC 7523 §2.2.
const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Bounds of client assertions.
const (
	// maxAssertionLifetime bounds exp from now: a long-lived assertion
	// that leaks works as a client secret until it expires, and its jti
	// must be remembered that long.
	maxAssertionLifetime = 5 * time.Minute
	// assertionLeeway tolerates clocks slightly ahead (iat, nbf).
	assertionLeeway = 30 * time.Second
)

// assertionAlgorithms are the asymmetric signatures accepted: never "none",
// never HMAC (a public key would then be the secret).
var assertionAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// usedAssertion is the record of a used jti, kept until the assertion
// expires.
type usedAssertion struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// authenticateAssertion authenticates a token or revocation request by its
// client_assertion: signed by a key of the client's document, iss and sub
// the client_id, aud this server's token endpoint or issuer, exp at most
// maxAssertionLifetime ahead, and a jti not seen before.
func (s *Server) authenticateAssertion(r *http.Request) (*client, *oauthError) {
	form := r.PostForm
	if form.Get("client_assertion_type") != jwtBearerAssertion {
		return nil, errInvalidClient("client_assertion_type must be " + jwtBearerAssertion)
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), assertionAlgorithms)
	if err != nil {
		return nil, errInvalidClient("client_assertion is not a JWT signed with an asymmetric algorithm (" + err.Error() + ")")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, errInvalidClient("client_assertion has unreadable claims")
	}
	id := unverified.Issuer
	switch {
	case id == "" || unverified.Subject != id:
		return nil, errInvalidClient("client_assertion: iss and sub must both be the client_id")
	case form.Get("client_id") != "" && form.Get("client_id") != id:
		return nil, errInvalidClient("client_id differs from the client_assertion's issuer")
	}
	c, err := s.loadClient(r.Context(), id)
	if oerr := s.clientLoadError(id, err); oerr != nil {
		return nil, oerr
	}
	if c == nil || c.TokenEndpointAuthMethod != authPrivateKeyJWT {
		return nil, errInvalidClient("this client does not authenticate with private_key_jwt")
	}
	keys, err := s.clientKeys(r.Context(), c)
	var derr *documentError
	switch {
	case errors.As(err, &derr):
		return nil, errInvalidClient("the client's keys cannot be used: " + derr.reason)
	case err != nil: // the request went away while the keys were fetched
		return nil, errServer()
	}
	var claims jwt.Claims
	if !verifyWithAny(tok, keys, &claims) {
		return nil, errInvalidClient("client_assertion is not signed by a key of the client's jwks")
	}
	now := s.cfg.Now()
	origin := s.cfg.Origin(r)
	switch {
	case claims.Expiry == nil:
		return nil, errInvalidClient("client_assertion has no exp")
	case !now.Before(claims.Expiry.Time()):
		return nil, errInvalidClient("client_assertion has expired")
	case claims.Expiry.Time().After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return nil, errInvalidClient("client_assertion's exp is more than " + maxAssertionLifetime.String() + " ahead")
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(assertionLeeway)):
		return nil, errInvalidClient("client_assertion is not valid yet (nbf)")
	case claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return nil, errInvalidClient("client_assertion is issued in the future (iat)")
	case !slices.ContainsFunc(claims.Audience, func(a string) bool { return a == origin+pathToken || a == origin }):
		// An assertion made for another server must not log in here.
		return nil, errInvalidClient("client_assertion's aud must be " + origin + pathToken + " or " + origin)
	case claims.ID == "":
		return nil, errInvalidClient("client_assertion has no jti")
	}
	fresh, err := s.useAssertion(r.Context(), c.ID, claims.ID, claims.Expiry.Time())
	if err != nil {
		s.log.Error("recording a client assertion", zapClient(c.ID), zapErr(err))
		return nil, errServer()
	}
	if !fresh {
		// A captured assertion replayed within its lifetime.
		return nil, errInvalidClient("client_assertion was already used (jti replayed)")
	}
	return c, nil
}

// verifyWithAny checks tok against the signing keys of set that match its
// kid (all of them when it names none).
func verifyWithAny(tok *jwt.JSONWebToken, set *jose.JSONWebKeySet, out *jwt.Claims) bool {
	kid := ""
	if len(tok.Headers) == 1 {
		kid = tok.Headers[0].KeyID
	}
	for _, k := range set.Keys {
		pub := k.Public() // a symmetric key has none, and is skipped
		if k.Use == "enc" || kid != "" && k.KeyID != kid || pub.Key == nil {
			continue
		}
		if tok.Claims(pub, out) == nil {
			return true
		}
	}
	return false
}

// useAssertion records the jti of a client's assertion and reports whether
// it was new, under the storage lock so two instances cannot both accept
// one assertion.
func (s *Server) useAssertion(ctx context.Context, clientID, jti string, exp time.Time) (bool, error) {
	h := hashToken(clientID + "\x00" + jti)
	key := s.store.key(nsAssertions, h+".json")
	fresh := false
	err := s.store.locked(ctx, "assertion-"+h, func() error {
		var rec usedAssertion
		found, err := s.store.get(ctx, key, &rec)
		if err != nil || found && s.cfg.Now().Before(rec.ExpiresAt) {
			return err
		}
		fresh = true
		return s.store.put(ctx, key, usedAssertion{ExpiresAt: exp})
	})
	return fresh, err
}

// clientKeys returns the keys of a private_key_jwt client: its inline jwks,
// or the set at its jwks_uri, fetched behind the same guard as documents
// (once for all the requests of one fetchClass that need it at once) and
// cached like one. When fetching it again learns nothing about it
// because of its host (transient, not ours), the last good set stands in
// for StaleGrace past its expiry, as a stored document does. A set that
// cannot be used is a *documentError.
func (s *Server) clientKeys(ctx context.Context, c *client) (*jose.JSONWebKeySet, error) {
	if c.jwks != nil {
		return c.jwks, nil
	}
	raw := c.jwksURI.String()
	if set := s.jwksCache.get(raw, s.cfg.Now()); set != nil {
		return set, nil
	}
	if s.documents == nil {
		return nil, &documentError{url: raw, reason: "documents are not fetched here"}
	}
	class := keySetFetchClass(c)
	return s.jwksFlights.do(ctx, keySetFlight(class, raw), func(ctx context.Context) (*jose.JSONWebKeySet, error) {
		now := s.cfg.Now()
		// The previous call may have cached the set since this request
		// looked.
		if set := s.jwksCache.get(raw, now); set != nil {
			return set, nil
		}
		set, until, derr := s.fetchKeySet(ctx, c.jwksURI, class)
		if derr != nil {
			if !derr.transient {
				// Withdrawn or replaced by something unusable: the old
				// keys must not come back when the host is next down.
				s.jwksCache.drop(raw)
				s.documents.forgetStale(raw)
			} else if last, expired := s.jwksCache.stale(raw, now); last != nil && !derr.ours {
				// Never when our own limit held the fetch back: anyone
				// can spend that budget (naming URLs on the host), and
				// whoever holds a key the owner rotated away because it
				// leaked would spend it to keep the key working for the
				// grace. The set stays cached for an outage of the host.
				s.documents.standIn("JWK set", raw, derr, expired)
				return last, nil
			}
			return nil, derr
		}
		s.documents.forgetStale(raw)
		s.jwksCache.put(raw, set, until, now, class == fetchInUse)
		return set, nil
	})
}

// keySetFetchClass is the budget a client's key set is fetched in: its
// client's, whose document is stored by now (fetchKnown), or fetchInUse
// once the client has obtained a token. Junk client_ids on the key set's
// host (fetchNew) then cannot keep a client from authenticating; a
// stranger's documents naming junk jwks_uris there spend fetchKnown, which
// a client users have signed in with does not share.
func keySetFetchClass(c *client) fetchClass {
	if c.LastUsed.IsZero() {
		return fetchKnown
	}
	return fetchInUse
}

// keySetFlight is the jwksFlights key of the set at raw fetched in class.
// The class is part of it: a signed-in client's request must not wait for,
// and be handed the result of, a fetch that a stranger's client naming the
// same jwks_uri started in a budget that has run out.
func keySetFlight(class fetchClass, raw string) string {
	return string(class) + " " + raw
}

// fetchKeySet fetches and parses the JWK set at u.
func (s *Server) fetchKeySet(ctx context.Context, u *url.URL, class fetchClass) (*jose.JSONWebKeySet, time.Time, *documentError) {
	body, until, derr := s.documents.fetch(ctx, u, class)
	if derr != nil {
		return nil, time.Time{}, derr
	}
	set := new(jose.JSONWebKeySet)
	if err := json.Unmarshal(body, set); err != nil || len(set.Keys) == 0 {
		derr := &documentError{url: u.String(), host: displayHost(u.Hostname()), reason: "it is not a JSON Web Key Set with keys"}
		s.documents.remember(u.String(), derr, s.cfg.Now())
		return nil, time.Time{}, derr
	}
	return set, until, nil
}

// jwksCache keeps fetched JWK sets in memory until their cache lifetime
// ends, and past it for grace as the last good copy; bounded, since any
// document may name a jwks_uri.
type jwksCache struct {
	grace time.Duration // StaleGrace; negative: no last good copy

	mu   sync.Mutex
	sets map[string]cachedJWKS
}

type cachedJWKS struct {
	set     *jose.JSONWebKeySet
	until   time.Time
	fetched time.Time
	// inUse marks a set fetched for a client someone has signed in with
	// (fetchInUse): a full cache evicts the others first.
	inUse bool
}

const maxCachedJWKS = 1000

func newJWKSCache(grace time.Duration) *jwksCache {
	return &jwksCache{grace: grace, sets: map[string]cachedJWKS{}}
}

// get returns the set at uri while its cache lifetime lasts.
func (j *jwksCache) get(uri string, now time.Time) *jose.JSONWebKeySet {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.sets[uri]; ok && now.Before(e.until) {
		return e.set
	}
	return nil
}

// stale returns the last good set at uri while its grace lasts, and when
// its cache lifetime ended.
func (j *jwksCache) stale(uri string, now time.Time) (*jose.JSONWebKeySet, time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.sets[uri]; ok && now.Before(e.until.Add(j.grace)) {
		return e.set, e.until
	}
	return nil, time.Time{}
}

// put keeps set for uri, fetched at now for a client in use or not, until
// its cache lifetime ends, and its grace past that. When the cache is
// full, the sets whose grace is over at now make room first; then one set
// is evicted, the oldest of those not fetched for a client in use, or the
// oldest of all when every set was. Any document may name a jwks_uri, so
// strangers can fill the cache with sets in their grace: emptying it
// whole, or evicting the sets of clients in use while others are there,
// would let them wipe the last good set that stands in for a signed-in
// client while its host is down.
func (j *jwksCache) put(uri string, set *jose.JSONWebKeySet, until, now time.Time, inUse bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if old, ok := j.sets[uri]; ok {
		// A stranger's client naming the same jwks_uri does not take the
		// mark away.
		inUse = inUse || old.inUse
	} else if len(j.sets) >= maxCachedJWKS {
		for k, e := range j.sets {
			if !now.Before(e.until.Add(j.grace)) {
				delete(j.sets, k)
			}
		}
		if len(j.sets) >= maxCachedJWKS {
			delete(j.sets, j.evictable())
		}
	}
	j.sets[uri] = cachedJWKS{set: set, until: until, fetched: now, inUse: inUse}
}

// evictable is the set a full cache evicts (see put); j.mu is held.
func (j *jwksCache) evictable() string {
	var victim string
	var v cachedJWKS
	for k, e := range j.sets {
		if victim == "" || v.inUse && !e.inUse || v.inUse == e.inUse && e.fetched.Before(v.fetched) {
			victim, v = k, e
		}
	}
	return victim
}

// drop forgets the set at uri.
func (j *jwksCache) drop(uri string) {
	j.mu.Lock()
	delete(j.sets, uri)
	j.mu.Unlock()
}

// clientLoadError turns a failure to load a client into the token
// endpoint's answer; nil when there was none.
func (s *Server) clientLoadError(id string, err error) *oauthError {
	if err == nil {
		return nil
	}
	var derr *documentError
	if errors.As(err, &derr) {
		return errInvalidClient(derr.Error())
	}
	s.log.Error("loading client", zapClient(id), zapErr(err))
	return errServer()
}
