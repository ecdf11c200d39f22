package authserver

import (
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// signInQuota bounds the sign-ins at upstream providers in progress. A
// sign-in stores a pendingLogin until its callback or for
// upstreamAttemptLifetime, and starting one takes no account, only a valid
// authorization request (any self-registered client will do): unbounded,
// a stranger fills the storage the server's certificates live on. It
// counts per client address (Config.SignInStarts) and, for strangers with
// many addresses, in all (Config.MaxPendingSignIns); a sign-in that
// completes is given back, so people who sign in often are never refused.
// Kept in memory like the other limits, per instance.
type signInQuota struct {
	perAddr *rateLimiter
	all     *rateLimiter
}

func newSignInQuota(cfg Config) *signInQuota {
	return &signInQuota{
		perAddr: newRateLimiter(cfg.SignInStarts, cfg.SignInStartWindow),
		all:     newRateLimiter(cfg.MaxPendingSignIns, upstreamAttemptLifetime),
	}
}

// allSignIns is the key of the quota in all.
const allSignIns = ""

// reserveSignIn counts a sign-in started by r, or refuses it with a page:
// 429 for an address past its limit, 503 when the server is at its cap,
// both with Retry-After.
func (s *Server) reserveSignIn(w http.ResponseWriter, r *http.Request, u UpstreamLogin) bool {
	q, now, addr := s.signIns, s.cfg.Now(), s.clientAddr(r)
	refuse := func(status int, wait time.Duration, msg string) bool {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
		s.renderError(w, status, msg)
		return false
	}
	if !q.perAddr.reserve(now, addr) {
		s.log.Warn("upstream sign-ins throttled", zap.String("provider", u.Name()))
		return refuse(http.StatusTooManyRequests, q.perAddr.retryAfter(addr, now),
			"Too many sign-ins were started from your address and not completed. Wait a few minutes, then start signing in again from the application.")
	}
	if !q.all.reserve(now, allSignIns) {
		q.perAddr.refund(now, addr)
		s.log.Error("upstream sign-ins refused: this instance has MaxPendingSignIns in progress", zap.String("provider", u.Name()))
		return refuse(http.StatusServiceUnavailable, q.all.retryAfter(allSignIns, now),
			"This server has too many sign-ins in progress. Try again in a few minutes.")
	}
	return true
}

// releaseSignIn gives back the sign-in r reserved: it completed, or was
// never stored.
func (s *Server) releaseSignIn(r *http.Request) {
	now := s.cfg.Now()
	s.signIns.perAddr.refund(now, s.clientAddr(r))
	s.signIns.all.refund(now, allSignIns)
}
