package authserver

import (
	"context"
	"net/http"
	"time"
)

// strangerQuota bounds what anyone can make this server keep or do without
// signing in (sign-ins started at a provider, client metadata documents
// fetched for new URLs): per client address, and in all, for strangers
// with many addresses. A limit of 0 or less allows everything. It is kept
// in memory like the rate limits it is made of, per instance.
type strangerQuota struct {
	perAddr *rateLimiter
	all     *rateLimiter
}

func newStrangerQuota(perAddr int, addrWindow time.Duration, all int, allWindow time.Duration) *strangerQuota {
	return &strangerQuota{perAddr: newRateLimiter(perAddr, addrWindow), all: newRateLimiter(all, allWindow)}
}

// quotaRefusal says which limit of a strangerQuota refused.
type quotaRefusal int

const (
	quotaGranted quotaRefusal = iota
	quotaAddress              // addr is past its own limit
	quotaAll                  // everyone together is past the limit in all
)

// allAddresses is the key of the limit in all.
const allAddresses = ""

// reserve counts one for addr, or refuses, counting nothing, and says how
// long until the limit that refused frees up.
func (q *strangerQuota) reserve(now time.Time, addr string) (quotaRefusal, time.Duration) {
	if !q.perAddr.reserve(now, addr) {
		return quotaAddress, q.perAddr.retryAfter(addr, now)
	}
	if !q.all.reserve(now, allAddresses) {
		q.perAddr.refund(now, addr)
		return quotaAll, q.all.retryAfter(allAddresses, now)
	}
	return quotaGranted, 0
}

// refund gives back one that reserve counted for addr.
func (q *strangerQuota) refund(now time.Time, addr string) {
	q.perAddr.refund(now, addr)
	q.all.refund(now, allAddresses)
}

// requesterKey carries the client address of the request a load runs for
// (see withRequester).
type requesterKey struct{}

// withRequester makes the client address of each request (clientAddr)
// known to what runs for it, such as a document fetch for a URL client id
// named in /authorize or /token, so work a stranger causes is counted
// against their address.
func (s *Server) withRequester(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requesterKey{}, s.clientAddr(r))))
	})
}

// requesterOf returns the client address withRequester recorded in ctx;
// false outside a request (the operator's commands).
func requesterOf(ctx context.Context) (string, bool) {
	addr, ok := ctx.Value(requesterKey{}).(string)
	return addr, ok
}
