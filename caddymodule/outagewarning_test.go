package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestBackendOutageIsLoggedWithItsCauseAtMostOncePerInterval: a failing
// backend is a Warn line naming the cause; during an outage one line per
// interval, counting the failures it left out.
func TestBackendOutageIsLoggedWithItsCauseAtMostOncePerInterval(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	now := time.Unix(1_800_000_000, 0)
	outage := newOutageWarning(zap.New(core), "/mcp")
	outage.now = func() time.Time { return now }
	cause := errors.New("dial tcp 127.0.0.1:17800: connect: connection refused")
	p := proxyHandler{
		proxy:  failingProxy{caddyhttp.Error(http.StatusBadGateway, cause)},
		outage: outage,
	}
	call := func() {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", nil))
		if rec.Code != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", rec.Code)
		}
	}

	for range 3 {
		call()
	}
	warnings := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warnings) != 1 {
		t.Fatalf("%d warnings for 3 failures within the interval, want 1", len(warnings))
	}
	if got := warnings[0].ContextMap()["error"]; got != cause.Error() {
		t.Errorf("the warning's cause is %v, want %q", got, cause)
	}

	now = now.Add(DefaultOutageWarningInterval - time.Nanosecond)
	call()
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Fatalf("a failure just before the interval ended was logged (%d warnings)", n)
	}
	now = now.Add(time.Nanosecond)
	call()
	warnings = logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warnings) != 2 || warnings[1].ContextMap()["failures_not_logged"] != int64(3) {
		t.Fatalf("after the interval: %d warnings, last %v; want 2, counting 3 failures not logged", len(warnings), warnings[len(warnings)-1].ContextMap())
	}
}

// failingProxy is a reverse proxy whose backend is down.
type failingProxy struct{ err error }

func (f failingProxy) ServeHTTP(http.ResponseWriter, *http.Request, caddyhttp.Handler) error {
	return f.err
}
