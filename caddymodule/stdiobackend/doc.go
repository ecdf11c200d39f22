// Package stdiobackend serves an MCP server that speaks newline-delimited
// JSON-RPC on stdin/stdout (the `npx ...` and `uvx ...` programs most MCP
// servers are) as the plain JSON-RPC-over-HTTP backend the transport
// adapter relays to. It does not import Caddy. The same sessions run over
// a legacy (2024-11-05) HTTP+SSE server instead (Config.SSE): a held GET
// stream whose endpoint event names where messages are POSTed, one per
// user (or client acting on its own), as a process would be.
//
// One process per verified user (the guard's Identity) by default, so that
// one user's data never sits in a process another user talks to, and one
// per client acting on its own (a client_credentials token), never the
// process of a user of the client id's name; or one shared process. A
// user's applications share the user's process, as they share its folder.
// The gateway runs the child's initialize itself and answers each client's
// initialize from that result; requests of many HTTP exchanges share the
// process, each under an id of the gateway's own (two clients both sending
// id 1 cannot get each other's answers), and the progress token a request
// names is rewritten the same way. What the child sends while a request is
// in flight (progress for that request, and log notifications and sampling
// or elicitation requests, sent to the request of that process that
// started first, as stdio carries no link between them) turns the HTTP
// answer into an SSE stream. Such a request reaches a client under a
// random id, and only a reply of the caller it was sent to (the same user
// or client, through the same application) answers it. While requests of
// two of a user's applications are in flight, either could have caused a
// log line or a sampling request: those are dropped or refused rather than
// shown to the wrong one. A shared process relays nothing unsolicited, as
// its oldest request may be another user's: only progress, which names its
// request.
//
// Failure and resource rules: a child that exits fails its requests in
// flight with a JSON-RPC error, and the next request starts it again, at
// once after one crash and then with a doubling delay (503 and Retry-After
// meanwhile); an idle process is stopped after Config.IdleTimeout; beyond
// Config.MaxProcesses a new subject gets 503 and Retry-After. Each child
// leads a process group of its own that is killed whole, so the
// grandchildren an `npx` launcher spawns do not outlive it, and Close
// (Caddy's Cleanup on reload and shutdown) stops every process.
//
// The child sees only the environment it is given: Config.Env plus PATH,
// HOME, LANG, LC_ALL, TZ and TMPDIR from the gateway's own, never the
// gateway's secrets. {http.auth.user.id} in Env, Args and Dir is the
// caller's subject escaped so that it is one path segment that cannot be
// an option: bytes other than lowercase letters, digits and "_@+=,.-"
// become %XX, as does a leading "." or "-", so "../../etc" becomes
// "%2E.%2F..%2Fetc" and two subjects never share a name; a client acting
// on its own gets its escaped id followed by "~client", a name no user's
// reaches ("deploy~client" for the client "deploy"). A line from the child
// longer than Config.MaxMessageBytes kills it (a runaway or hostile server
// must not grow the gateway's memory); stderr goes to the log line by
// line, each truncated, at most Config.StderrLinesPerSecond a second.
package stdiobackend
