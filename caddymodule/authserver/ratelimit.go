package authserver

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// rateLimiter allows limit events per key per fixed window, in memory: a
// limit per instance is what an operator can reason about, and it resets
// on restart, which an attacker gains nothing from.
type rateLimiter struct {
	limit   int
	window  time.Duration
	maxKeys int

	mu        sync.Mutex
	windows   map[string]*rateWindow
	lastPrune time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// maxRateKeys is the hard bound on the keys one limiter remembers.
const maxRateKeys = 100_000

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, maxKeys: maxRateKeys, windows: map[string]*rateWindow{}}
}

// allow counts an event for key and reports whether it is within the limit.
// A limit of 0 or less allows everything.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now)
	if w == nil {
		w = l.start(key, now)
	}
	w.count++
	return w.count <= l.limit
}

// reserve counts an event for each key if every key is within its limit,
// and otherwise counts nothing and reports false. All or nothing, under one
// lock, so concurrent requests cannot all pass a check made before any of
// them is counted: the limit holds against a burst, not only a sequence.
func (l *rateLimiter) reserve(now time.Time, keys ...string) bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if w := l.current(k, now); w != nil && w.count >= l.limit {
			return false
		}
	}
	for _, k := range keys {
		w := l.current(k, now)
		if w == nil {
			w = l.start(k, now)
		}
		w.count++
	}
	return true
}

// refund takes back an event reserve counted now, for an attempt that
// turned out not to count against the limit (a right password or secret).
func (l *rateLimiter) refund(now time.Time, keys ...string) {
	l.refundReserved(now, now, keys...)
}

// refundReserved takes back an event reserve counted at reservedAt, from
// the window it was counted in: when that window has ended, there is
// nothing to give back, and the window running now (which did not count
// it) keeps its count.
func (l *rateLimiter) refundReserved(now, reservedAt time.Time, keys ...string) {
	if l.limit <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if w := l.current(k, now); w != nil && w.count > 0 && !w.start.After(reservedAt) {
			w.count--
		}
	}
}

// count returns the events counted for key in its running window.
func (l *rateLimiter) count(key string, now time.Time) int {
	if l.limit <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.current(key, now); w != nil {
		return w.count
	}
	return 0
}

// retryAfter returns how long until key's running window ends, in whole
// seconds and at least one (for Retry-After).
func (l *rateLimiter) retryAfter(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := time.Second
	if w := l.current(key, now); w != nil {
		wait = max(wait, w.start.Add(l.window).Sub(now).Round(time.Second))
	}
	return wait
}

// current returns key's window if it is still running.
func (l *rateLimiter) current(key string, now time.Time) *rateWindow {
	if w := l.windows[key]; w != nil && now.Sub(w.start) < l.window {
		return w
	}
	return nil
}

// start opens a new window for key, keeping the map within maxKeys: at the
// cap, finished windows are dropped (a full scan, at most once per window),
// then arbitrary live ones are evicted. Evicting forgets some key's count,
// but whoever can make maxKeys distinct keys already has a fresh limit per
// key, and refusing new keys instead would lock everyone else out.
func (l *rateLimiter) start(key string, now time.Time) *rateWindow {
	if _, known := l.windows[key]; !known && len(l.windows) >= l.maxKeys {
		if now.Sub(l.lastPrune) >= l.window {
			l.lastPrune = now
			for k, w := range l.windows {
				if now.Sub(w.start) >= l.window {
					delete(l.windows, k)
				}
			}
		}
		for k := range l.windows {
			if len(l.windows) < l.maxKeys {
				break
			}
			delete(l.windows, k)
		}
	}
	w := &rateWindow{start: now}
	l.windows[key] = w
	return w
}

// The prefixes that limits count addresses under. One subscriber
// typically holds a whole IPv6 /64, so an address counts with its /64
// (addressPrefix6), or a host of one's own would get 2^64 limits. One
// allocation, what a home line, a server or a small provider gets, is an
// IPv6 /48 or /56 and often several IPv4 addresses of one /24: the limits
// of a network (networkPrefix6, networkPrefix4) count all of it once, so
// that its /64s or addresses do not each add a limit of their own. /48s
// are still cheap (tunnel brokers give them away, a hosting customer may
// hold a /40): the fair share of a limit in all also counts an address's
// region (regionPrefix6, regionPrefix4: an IPv6 /32, what a provider gets
// from its registry, an IPv4 /16), see strangerQuota.
const (
	addressPrefix6 = 64
	networkPrefix6 = 48
	networkPrefix4 = 24
	regionPrefix6  = 32
	regionPrefix4  = 16
)

// clientAddr is the key that per-address limits count r under:
// Config.ClientIP, with an IPv6 address reduced to its /64 (addressKey).
func (s *Server) clientAddr(r *http.Request) string {
	ip := s.cfg.ClientIP(r)
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return addressKey(addr)
}

// addressKey is the key of ip in per-address limits: an IPv4 address
// (mapped or not), an IPv6 address's /64.
func addressKey(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return netip.PrefixFrom(ip, addressPrefix6).Masked().String()
	}
	return ip.String()
}

// networkOf is the key per-network limits count an address key
// (addressKey) under: its IPv6 /48 or IPv4 /24. A key that is no address
// (a ClientIP that does not parse) is its own network.
func networkOf(addr string) string {
	return prefixOf(addr, networkPrefix6, networkPrefix4)
}

// regionOf is the key an address key counts under for the fair share of a
// limit in all: its IPv6 /32 or IPv4 /16, or the key itself when it is no
// address.
func regionOf(addr string) string {
	return prefixOf(addr, regionPrefix6, regionPrefix4)
}

// prefixOf is the prefix of bits6 or bits4 bits that the address key addr
// (addressKey) is in.
func prefixOf(addr string, bits6, bits4 int) string {
	if p, err := netip.ParsePrefix(addr); err == nil {
		return netip.PrefixFrom(p.Addr(), bits6).Masked().String()
	}
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is4() {
		return netip.PrefixFrom(ip, bits4).Masked().String()
	}
	return addr
}
