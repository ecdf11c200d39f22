package transport

import (
	"net/http"
	"time"
)

// Event describes one request to the endpoint for Config.Observe. Log its
// fields, not Request's headers: behind a Gate the client's token is gone,
// but Authorization may carry the backend's own credential (and without a
// Gate, the client's).
type Event struct {
	// Request is the request as forwarded (after Gate.Admit, so it carries
	// the identity the gate attached to its context).
	Request *http.Request
	// Method is the JSON-RPC method, empty when the body was not read.
	Method string
	// Tool is the tool name of a tools/call.
	Tool string
	// Status is the HTTP status sent to the client.
	Status int
	// Outcome classifies the answer: one of the Outcome constants.
	Outcome string
	// Duration is the time from receipt to the end of the answer.
	Duration time.Duration
	// Upstream is the time spent in the backend, zero when not called.
	Upstream time.Duration
}

// Outcome values in Event.Outcome.
const (
	// OutcomeOK: the backend's reply was relayed.
	OutcomeOK = "ok"
	// OutcomeAccepted: a notification or response got 202.
	OutcomeAccepted = "accepted"
	// OutcomeRefused: the gate or the Origin check refused the request.
	OutcomeRefused = "refused"
	// OutcomeInvalid: the request broke the protocol (version, body, method).
	OutcomeInvalid = "invalid"
	// OutcomeUpstreamError: the backend was unreachable or answered badly.
	OutcomeUpstreamError = "upstream_error"
	// OutcomeTimeout: the backend did not start answering within Timeout.
	OutcomeTimeout = "timeout"
)
