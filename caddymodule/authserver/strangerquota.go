package authserver

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"
)

// strangerQuota bounds what anyone can make this server keep without
// signing in (sign-ins started at a provider, client metadata documents
// fetched for new URLs), in tiers, each a rate limit in memory per
// instance (a limit of 0 or less allows everything):
//
//   - per address (addressKey: an IPv4 address, an IPv6 /64);
//   - per network (networkOf: an IPv4 /24, an IPv6 /48), addressesPerNetwork
//     times the limit of an address, so that the 256 /64s of one /56 do
//     not each bring a limit of their own;
//   - per source, for what comes from someone's site (the registrable
//     domain of a document's host), so that a domain with wildcard DNS
//     counts once however many host names it has;
//   - in all, the last-resort bound on storage against strangers with many
//     networks (a botnet).
//
// The limit in all must not let one allocation lock everyone else out:
// 67 /64s of one /56 once filled it, and every sign-in at a provider got
// 503 for as long as they kept refilling it; later 59 /48s of one /40 did.
// So it is shared fairly: once half of it is used in its window, a
// network or source that already has its fair share (fairShareOf) counted
// in its own window is refused, and so is a network that started
// something in a region (regionOf: an IPv6 /32, an IPv4 /16) that has its
// fair share; the others still get through, up to the limit itself.
// Filling the second half then takes many regions, or a network each for
// most of what is left (a /32 of one's own, a botnet), on top of those
// that filled the first half: against those the limit still bounds
// storage.
type strangerQuota struct {
	// mu makes reserve all or nothing across the tiers, and the fair
	// share check one with the counting.
	mu        sync.Mutex
	perAddr   *rateLimiter
	perNet    *rateLimiter
	perRegion *rateLimiter // counts for the fair share only; never refuses
	perSource *rateLimiter
	all       *rateLimiter
	fairShare int
}

// addressesPerNetwork is how many addresses' limits one network gets: a
// NAT pool or an office of several addresses is not held to one address's
// limit, and an allocation of thousands of /64s gets four.
const addressesPerNetwork = 4

// quotaLimits configures a strangerQuota.
type quotaLimits struct {
	perAddr   int           // per address per window
	perSource int           // per source per window; 0: nothing is counted per source
	window    time.Duration // of the limits per address, network and source
	all       int           // in all per allWindow: the bound on storage
	allWindow time.Duration
}

func newStrangerQuota(l quotaLimits) *strangerQuota {
	perNet := addressesPerNetwork * l.perAddr
	if l.perAddr <= 0 {
		// Without a limit per address, networks are still counted for
		// their fair share of the limit in all, which they never reach.
		perNet = l.all
	}
	return &strangerQuota{
		perAddr:   newRateLimiter(l.perAddr, l.window),
		perNet:    newRateLimiter(perNet, l.window),
		perRegion: newRateLimiter(math.MaxInt, l.window),
		perSource: newRateLimiter(l.perSource, l.window),
		all:       newRateLimiter(l.all, l.allWindow),
		fairShare: fairShareOf(l.all),
	}
}

// fairShareOf is what a network or source may have counted in its window
// and still be let in past half of the limit in all: a hundredth of it,
// so that 50 of them fill the other half.
func fairShareOf(all int) int {
	return max(1, all/100)
}

// quotaRefusal says which limit of a strangerQuota refused.
type quotaRefusal int

const (
	quotaGranted quotaRefusal = iota
	quotaAddress              // addr is past its own limit
	quotaNetwork              // addr's network is past its limit
	quotaSource               // the source is past its limit
	quotaAll                  // everyone together is past the limit in all, or past half and this network or source past its fair share
)

// allAddresses is the key of the limit in all.
const allAddresses = ""

// reserve counts one for addr and source (a document's domain; "" when
// what is stored has none), or refuses, counting nothing, and says how
// long until the limit that refused frees up.
func (q *strangerQuota) reserve(now time.Time, addr, source string) (quotaRefusal, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	net, region := networkOf(addr), regionOf(addr)
	// Asked before this one is counted anywhere: "already has".
	crowded := q.crowded(now, net, region, source)
	switch {
	case !q.perAddr.reserve(now, addr):
		return quotaAddress, q.perAddr.retryAfter(addr, now)
	case !q.perNet.reserve(now, net):
		q.perAddr.refund(now, addr)
		return quotaNetwork, q.perNet.retryAfter(net, now)
	case !q.perSource.reserve(now, source):
		q.perAddr.refund(now, addr)
		q.perNet.refund(now, net)
		return quotaSource, q.perSource.retryAfter(source, now)
	case crowded || !q.all.reserve(now, allAddresses):
		q.perAddr.refund(now, addr)
		q.perNet.refund(now, net)
		q.perSource.refund(now, source)
		return quotaAll, q.all.retryAfter(allAddresses, now)
	}
	q.perRegion.reserve(now, region)
	return quotaGranted, 0
}

// crowded reports whether the limit in all refuses net, region and source
// before it is reached: past half of it, when the network or source
// already has its fair share, or the region has and the network started
// something in its window. A network that has started nothing is let in
// however crowded its region: one foothold in a carrier's /32 or an ISP's
// /16 (a prepaid SIM, a free tunnel) must not lock out its millions of
// subscribers; the attacker's own networks each get one more past half,
// which a /40's 256 do not turn into a lockout.
func (q *strangerQuota) crowded(now time.Time, net, region, source string) bool {
	if q.all.limit <= 0 || q.all.count(allAddresses, now) < q.all.limit/2 {
		return false
	}
	started := q.perNet.count(net, now)
	return started >= q.fairShare || started > 0 && q.perRegion.count(region, now) >= q.fairShare ||
		q.perSource.count(source, now) >= q.fairShare
}

// refund gives back one that reserve counted for addr and source at
// reservedAt, in the windows that counted it (refundReserved).
func (q *strangerQuota) refund(now, reservedAt time.Time, addr, source string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.perAddr.refundReserved(now, reservedAt, addr)
	q.perNet.refundReserved(now, reservedAt, networkOf(addr))
	q.perRegion.refundReserved(now, reservedAt, regionOf(addr))
	q.perSource.refundReserved(now, reservedAt, source)
	q.all.refundReserved(now, reservedAt, allAddresses)
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
