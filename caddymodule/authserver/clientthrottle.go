package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// secretChecks bounds the bcrypt work that secrets of pre-registered
// confidential clients cost. bcrypt is slow on purpose (up to about a
// second of CPU at the costs operators pick), so an attacker who sends
// wrong secrets in parallel could otherwise keep every core busy; and a
// bound counted per client id alone would let guessers hold the client's
// slots and lock the real client out. So:
//   - one comparison at a time per source address;
//   - an address with a wrong secret in the current window is suspect: the
//     suspect addresses of one client share perClient slots, and all
//     suspects together at most half of the server's slots;
//   - an address without failures competes only for the other half, so the
//     real client is not refused because others guessed wrong (short of an
//     attacker with a fresh address for every guess, who still gets one
//     guess per address per window);
//   - beyond a bound the answer comes at once, never queued;
//   - the secret last verified passes without bcrypt (verifiedSecret).
type secretChecks struct {
	perClient int
	global    chan struct{} // every comparison holds one
	suspect   chan struct{} // comparisons for suspect addresses hold one too
	// failures counts wrong secrets per source address and per (client,
	// source address): the flooding address is throttled, the real client
	// elsewhere is not.
	failures *rateLimiter

	mu        sync.Mutex
	perAddr   map[string]bool // addresses with a comparison running
	suspectOf map[string]int  // running suspect comparisons per client
	verified  map[string]verifiedSecret
}

// verifiedSecret is the SHA-256 of the last secret that bcrypt accepted for
// a client, and the hash it was checked against (a reload with a new hash
// forgets it). It lets the right secret through without bcrypt and without
// consulting the failure limit, which others' guesses may have used up; a
// SHA-256 preimage is no easier to find than the secret itself.
type verifiedSecret struct {
	bcryptHash string
	sum        [sha256.Size]byte
}

// secretChecksPerClient is how many bcrypt comparisons may run at once for
// one client from suspect addresses.
const secretChecksPerClient = 2

func newSecretChecks(cfg Config) *secretChecks {
	slots := max(4, 2*runtime.GOMAXPROCS(0))
	return &secretChecks{
		perClient: secretChecksPerClient,
		global:    make(chan struct{}, slots),
		suspect:   make(chan struct{}, slots/2),
		failures:  newRateLimiter(cfg.ClientAuthFailures, cfg.ClientAuthFailureWindow),
		perAddr:   map[string]bool{},
		suspectOf: map[string]int{},
		verified:  map[string]verifiedSecret{},
	}
}

// checkStaticSecret compares the secret of a pre-registered confidential
// client with its bcrypt hash. refused is an answer for the client when no
// comparison ran: 429 temporarily_unavailable with Retry-After for an
// address past Config.ClientAuthFailures (not invalid_client: clients answer
// that by registering again, which does not help a pre-registered client,
// while HTTP clients know to back off from a 429), and 429 or 503 with
// Retry-After when the client's or the server's comparisons are all busy.
// Secrets of dynamically registered clients are random 256-bit values
// checked by SHA-256, cheap and unguessable, so they do not come here.
func (s *Server) checkStaticSecret(r *http.Request, c *client, secret string) (matched bool, refused *oauthError) {
	sc := s.secretChecks
	sum := sha256.Sum256([]byte(secret))
	if sc.knownGood(c, sum) {
		return true, nil
	}
	now := s.cfg.Now()
	addr := s.clientAddr(r)
	keys := []string{"addr:" + addr, "client:" + c.ID + "\x00" + addr}
	suspect := sc.failures.count(keys[0], now) > 0
	if !sc.failures.reserve(now, keys...) {
		s.log.Warn("client authentication throttled", zapClient(c.ID))
		return false, &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "too many wrong client secrets from this address; retry later",
			retryAfter:  s.cfg.ClientAuthFailureWindow}
	}
	release, busy := sc.acquire(c.ID, addr, suspect)
	if busy != nil {
		sc.failures.refund(now, keys...)
		return false, busy
	}
	defer release()
	if s.compareHash([]byte(c.bcryptHash), []byte(secret)) != nil {
		return false, nil
	}
	sc.failures.refund(now, keys...)
	sc.remember(c, sum)
	return true, nil
}

// knownGood reports whether sum is the SHA-256 of the secret last verified
// for c, compared in constant time.
func (sc *secretChecks) knownGood(c *client, sum [sha256.Size]byte) bool {
	sc.mu.Lock()
	v, ok := sc.verified[c.ID]
	sc.mu.Unlock()
	return ok && v.bcryptHash == c.bcryptHash && subtle.ConstantTimeCompare(v.sum[:], sum[:]) == 1
}

// remember records sum as c's verified secret. There is one entry per
// pre-registered client, so the map is bounded by the configuration.
func (sc *secretChecks) remember(c *client, sum [sha256.Size]byte) {
	sc.mu.Lock()
	sc.verified[c.ID] = verifiedSecret{bcryptHash: c.bcryptHash, sum: sum}
	sc.mu.Unlock()
}

// acquire takes the slots for one comparison for clientID from addr, or
// answers why there are none without waiting (see secretChecks).
func (sc *secretChecks) acquire(clientID, addr string, suspect bool) (release func(), busy *oauthError) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	switch {
	case sc.perAddr[addr]:
		return nil, &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "one client secret check at a time from this address; retry in a second", retryAfter: time.Second}
	case suspect && sc.suspectOf[clientID] >= sc.perClient:
		return nil, &oauthError{status: http.StatusTooManyRequests, Code: "temporarily_unavailable",
			Description: "too many secret checks for this client at once; retry in a second", retryAfter: time.Second}
	}
	busyServer := &oauthError{status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "the server is busy checking client secrets; retry in a second", retryAfter: time.Second}
	if suspect {
		select {
		case sc.suspect <- struct{}{}:
		default:
			return nil, busyServer
		}
	}
	select {
	case sc.global <- struct{}{}:
	default:
		if suspect {
			<-sc.suspect
		}
		return nil, busyServer
	}
	sc.perAddr[addr] = true
	if suspect {
		sc.suspectOf[clientID]++
	}
	return func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		<-sc.global
		delete(sc.perAddr, addr)
		if suspect {
			<-sc.suspect
			if sc.suspectOf[clientID]--; sc.suspectOf[clientID] == 0 {
				delete(sc.suspectOf, clientID)
			}
		}
	}, nil
}
