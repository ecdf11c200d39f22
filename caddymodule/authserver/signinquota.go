package authserver

import (
	"net/http"
	"strconv"

	"go.uber.org/zap"
)

// Sign-ins at upstream providers are bounded by a strangerQuota: each
// stores a pendingLogin until its callback or for upstreamAttemptLifetime,
// and starting one takes no account, only a valid authorization request
// (any self-registered client will do); unbounded, a stranger fills the
// storage the server's certificates live on. A sign-in that completes for
// someone the policy admits is given back, so people who sign in often are
// never refused; one the policy refuses at the callback stores nothing
// more but stays counted: completing it takes only an account at the
// provider, which anyone has when the policy, not the provider, says who
// may in.
func newSignInQuota(cfg Config) *strangerQuota {
	return newStrangerQuota(quotaLimits{
		perAddr: cfg.SignInStarts, window: cfg.SignInStartWindow,
		all: cfg.MaxPendingSignIns, allWindow: upstreamAttemptLifetime,
	})
}

// reserveSignIn counts a sign-in started by r, or refuses it with a page:
// 429 for an address or network past Config.SignInStarts, 503 when the
// instance has its share of Config.MaxPendingSignIns in progress, all with
// Retry-After.
func (s *Server) reserveSignIn(w http.ResponseWriter, r *http.Request, u UpstreamLogin) bool {
	refused, wait := s.signIns.reserve(s.cfg.Now(), s.clientAddr(r), "")
	if refused == quotaGranted {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
	switch refused {
	case quotaAddress:
		s.log.Warn("upstream sign-ins throttled", zap.String("provider", u.Name()))
		s.renderError(w, http.StatusTooManyRequests, "Too many sign-ins were started from your address and not completed. Wait a few minutes, then start signing in again from the application.")
	case quotaNetwork:
		s.log.Warn("upstream sign-ins throttled for a network", zap.String("provider", u.Name()), zap.String("network", networkOf(s.clientAddr(r))))
		s.renderError(w, http.StatusTooManyRequests, "Too many sign-ins were started from your network and not completed. Wait a few minutes, then start signing in again from the application.")
	default:
		s.log.Error("upstream sign-ins refused: this instance has max_pending_sign_ins in progress, or half of it and this network its share",
			zap.String("provider", u.Name()), zap.String("network", networkOf(s.clientAddr(r))))
		s.renderError(w, http.StatusServiceUnavailable, "This server has too many sign-ins in progress. Try again in a few minutes.")
	}
	return false
}

// releaseSignIn gives back the sign-in r reserved: it was never stored.
func (s *Server) releaseSignIn(r *http.Request) {
	now := s.cfg.Now()
	s.signIns.refund(now, now, s.clientAddr(r), "")
}

// releaseCompletedSignIn gives back the sign-in of rec, completed for
// someone the policy admits, to the address that started it (a browser
// may come back from another: IPv6 out, IPv4 back, a VPN switched on),
// in the window that counted it. A record from before it named its
// address (StartedFrom) stays counted until its window ends.
func (s *Server) releaseCompletedSignIn(rec pendingLogin) {
	if rec.StartedFrom != "" {
		s.signIns.refund(s.cfg.Now(), rec.StartedAt, rec.StartedFrom, "")
	}
}
