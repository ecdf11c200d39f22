package caddymodule_test

import "time"

// pollInterval is how often eventually asks again.
const pollInterval = 50 * time.Millisecond

// eventually asks cond until it returns true or within has passed, and
// reports whether it did: the one poll loop of these tests (a server
// starting, a browser page settling, a child process writing a file).
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}
