package caddymodule

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DefaultOutageWarningInterval is how often, at most, a resource logs that
// its backend failed.
const DefaultOutageWarningInterval = 10 * time.Second

// outageWarning logs a failing backend at Warn with the cause (connection
// refused, timeout, ...): the client only sees a JSON-RPC error, and
// without this line the operator sees nothing. During an outage every
// request fails, so the warning is rate-limited: one line per interval,
// counting the failures it did not log. The check is two atomic loads on
// the failure path and nothing on success.
type outageWarning struct {
	logger   *zap.Logger
	resource string
	interval time.Duration
	now      func() time.Time

	next       atomic.Int64 // unix nanoseconds before which failures are only counted
	suppressed atomic.Int64
}

func newOutageWarning(logger *zap.Logger, resource string) *outageWarning {
	return &outageWarning{logger: logger, resource: resource, interval: DefaultOutageWarningInterval, now: time.Now}
}

// failed records a backend failure answered with status.
func (o *outageWarning) failed(status int, cause error) {
	now := o.now().UnixNano()
	next := o.next.Load()
	if now < next || !o.next.CompareAndSwap(next, now+int64(o.interval)) {
		o.suppressed.Add(1)
		return
	}
	o.logger.Warn("the backend failed; clients get a JSON-RPC error",
		zap.String("resource", o.resource),
		zap.Int("status", status),
		zap.Error(cause),
		zap.Int64("failures_not_logged", o.suppressed.Swap(0)),
		zap.Duration("next_warning_after", o.interval))
}
