package stdiobackend

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
)

// procKey is whom a process serves: a user, or a client acting on its own
// (a client_credentials token, whose subject is its client id). The two
// never share a process or a folder under one name: a `client` block
// "deploy" and a user who signs in as "deploy" are different principals,
// and the rest of the gateway (the transport's held sessions, the memory
// server's X-MCP-Subject-Type) keeps them apart too. A user's applications
// share the user's process, as they share the user's data folder: two
// processes on one folder would write over each other. The zero key is the
// shared process.
type procKey struct {
	subject string
	client  bool
}

// escaped is the {http.auth.user.id} value of k (see EscapeSubject).
func (k procKey) escaped() string {
	if k.client {
		return EscapeSubject(k.subject) + clientSuffix
	}
	return EscapeSubject(k.subject)
}

// logFields name k in the log as the identity headers do.
func (k procKey) logFields() []zap.Field {
	kind := "user"
	if k.client {
		kind = "client"
	}
	return []zap.Field{zap.String("subject", k.subject), zap.String("subject_type", kind)}
}

// caller is who sent a message, down to the application: the identity the
// guard verified, never a header a client could set. A user's
// applications share a process but not its requests to them: a reply to a
// sampling or elicitation request is taken only from the caller it was
// sent to, so an application the user granted a narrow scope cannot answer
// (or refuse) what the server asked another one.
type caller struct {
	procKey
	clientID string
}

// callerOf returns the verified caller of r, if the guard admitted one.
func callerOf(r *http.Request) (caller, bool) {
	id, ok := guard.IdentityFrom(r.Context())
	if !ok || id.Subject == "" {
		return caller{}, false
	}
	return caller{procKey: procKey{subject: id.Subject, client: id.Client}, clientID: id.ClientID}, true
}
