package authserver

import (
	"sync"
	"time"
)

// rateLimiter allows limit events per key per fixed window, in memory: a
// limit per instance is what an operator can reason about, and it resets
// on restart, which an attacker gains nothing from.
type rateLimiter struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	windows map[string]*rateWindow
}

type rateWindow struct {
	start time.Time
	count int
}

// maxRateKeys bounds the memory of the limiter; beyond it, finished windows
// are dropped.
const maxRateKeys = 100_000

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, windows: map[string]*rateWindow{}}
}

// allow counts an event for key and reports whether it is within the limit.
// A limit of 0 allows everything.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.window {
		if len(l.windows) >= maxRateKeys {
			for k, old := range l.windows {
				if now.Sub(old.start) >= l.window {
					delete(l.windows, k)
				}
			}
		}
		w = &rateWindow{start: now}
		l.windows[key] = w
	}
	w.count++
	return w.count <= l.limit
}
