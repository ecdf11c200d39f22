package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// sessionBackend is a legacy Streamable HTTP server that serves nothing
// outside a session, as FastMCP and server-everything do: initialize opens
// one (Mcp-Session-Id on every reply of it, as the TypeScript SDK sends), a
// request without one, or before notifications/initialized, gets 400, with
// an unknown one 404.
type sessionBackend struct {
	// initStarted, when set, gets a value when an initialize (not the
	// probe's) arrives; it then waits for initRelease.
	initStarted chan struct{}
	initRelease chan struct{}
	// notifying and ending, when set, get the session id when a
	// notifications/initialized or a DELETE arrives; it then waits for
	// notifyRelease or endRelease.
	notifying, ending         chan string
	notifyRelease, endRelease chan struct{}

	mu       sync.Mutex
	next     int
	sessions map[string]bool // open sessions, by id: initialized (notifications/initialized came)
	owner    map[string]string
	forget   bool // forget each session once initialized (a backend restarting every time)
	refuse   bool // refuse notifications/initialized
	// unknown400 answers an unknown session with 400 and the request's
	// id, as server-everything does, instead of 404.
	unknown400 bool
	// toolError, when set, is how tools/call fails after it ran (the
	// call is recorded): 400 with this error and the request's id.
	toolError *jsonrpc.Error
	// pingStatus, when set, is how ping fails in a known session: this
	// status and a body that is not JSON-RPC (a proxy's error page).
	pingStatus int
	// toolRelease, when set, makes tools/call a stream that sends its
	// priming event and then waits for it before the result.
	toolRelease chan struct{}
	// primeRelease, when set, makes the method "primed" a stream of
	// events without data, more than maxHeldEvents of them, that then
	// waits for it before the result.
	primeRelease chan struct{}
	// quietRelease, when set, makes the method "quiet" a stream that
	// sends its priming event and a comment, then waits for it before
	// answering -32601 (a backend slow to find it has no such method).
	quietRelease chan struct{}
	inits        map[string][]string
	calls        []heldCall
	pings        []string // the sessions pinged, known or not
	deleted      []string
}

// heldCall is a request the backend processed in a session.
type heldCall struct {
	session, owner, method, version, body string
}

func newSessionBackend() *sessionBackend {
	return &sessionBackend{sessions: map[string]bool{}, owner: map[string]string{}, inits: map[string][]string{}}
}

// identity is how the backend names the caller: the guard's headers.
func identity(h http.Header) string {
	return h.Get("X-MCP-Subject") + "/" + h.Get("X-MCP-Client-ID")
}

func (b *sessionBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	session := r.Header.Get("Mcp-Session-Id")
	b.mu.Lock()
	initialized, known := b.sessions[session]
	b.mu.Unlock()
	if r.Method == http.MethodDelete {
		if b.ending != nil && !strings.HasPrefix(session, "probe-") {
			b.ending <- session
			<-b.endRelease
		}
		b.mu.Lock()
		b.deleted = append(b.deleted, session)
		delete(b.sessions, session)
		b.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req jsonrpc.Request
	_ = json.Unmarshal(body, &req)
	if req.Method == "ping" {
		b.mu.Lock()
		b.pings = append(b.pings, session)
		b.mu.Unlock()
	}
	reply := func(result any) {
		out, _ := jsonrpc.NewResult(req.ID, result)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
	// stream answers as the SDK servers do when the client accepts SSE: a
	// priming event without data, then the messages.
	stream := func(messages ...any) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: prime\ndata: \n\n")
		w.(http.Flusher).Flush()
		for _, m := range messages {
			data, _ := json.Marshal(m)
			fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
		}
	}
	switch {
	case req.Method == "server/discover":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found"))
	case req.Method == "initialize":
		probe := string(req.ID) == `"mcpgate-probe"`
		if !probe && b.initStarted != nil {
			b.initStarted <- struct{}{}
			<-b.initRelease
		}
		b.mu.Lock()
		b.next++
		id := fmt.Sprintf("s-%d", b.next)
		if probe {
			id = "probe-" + id
		} else {
			b.inits[identity(r.Header)] = append(b.inits[identity(r.Header)], string(body))
		}
		b.sessions[id], b.owner[id] = false, identity(r.Header)
		b.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", id)
		reply(map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{"tools": map[string]any{}}, "serverInfo": map[string]any{"name": "sessions", "version": "1"}})
	case session == "":
		http.Error(w, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}`, http.StatusBadRequest)
	case !known && b.unknown400:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, -32000, "Bad Request: No valid session ID provided"))
	case !known:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}`)
	case req.Method == "notifications/initialized" && b.refuse:
		http.Error(w, "refused", http.StatusBadRequest)
	case req.Method == "notifications/initialized":
		if b.notifying != nil {
			b.notifying <- session
			<-b.notifyRelease
		}
		b.mu.Lock()
		b.sessions[session] = true
		if b.forget {
			delete(b.sessions, session)
		}
		b.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	case !initialized:
		http.Error(w, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Server not initialized"},"id":null}`, http.StatusBadRequest)
	case req.Method == "ping" && b.pingStatus != 0:
		http.Error(w, "backend unavailable", b.pingStatus)
	case req.Method == "ping":
		reply(map[string]any{})
	case req.Method == "tools/call" && b.toolError != nil:
		b.mu.Lock()
		b.calls = append(b.calls, heldCall{session, b.owner[session], req.Method, r.Header.Get("MCP-Protocol-Version"), string(body)})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, b.toolError.Code, b.toolError.Message))
	case req.Method == "tools/call" && b.toolRelease != nil:
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: prime\ndata: \n\n")
		w.(http.Flusher).Flush()
		<-b.toolRelease
		result, _ := jsonrpc.NewResult(req.ID, map[string]any{"content": []any{}})
		data, _ := json.Marshal(result)
		fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
	case req.Method == "primed" && b.primeRelease != nil:
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i*len("id: prime-0000\n\n") <= maxHeldEvents; i++ {
			fmt.Fprintf(w, "id: prime-%04d\n\n", i)
		}
		w.(http.Flusher).Flush()
		<-b.primeRelease
		result, _ := jsonrpc.NewResult(req.ID, map[string]any{})
		data, _ := json.Marshal(result)
		fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
	case req.Method == "quiet" && b.quietRelease != nil:
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: prime\ndata: \n\n: still working\n\n")
		w.(http.Flusher).Flush()
		<-b.quietRelease
		data, _ := json.Marshal(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found"))
		fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
	case req.Method == "nosuch":
		stream(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found"))
	case req.Method == "streamed":
		result, _ := jsonrpc.NewResult(req.ID, map[string]any{"content": []any{}})
		stream(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress", "params": map[string]any{"progressToken": 1, "progress": 1}}, result)
	case req.Method == "invalid":
		// A 400 about the request itself.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, jsonrpc.InvalidParams, "Invalid params"))
	case req.Method == "missing":
		// A 404 answering the request: the backend processed it.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "no such thing"))
	default:
		b.mu.Lock()
		b.calls = append(b.calls, heldCall{session, b.owner[session], req.Method, r.Header.Get("MCP-Protocol-Version"), string(body)})
		b.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", session)
		reply(map[string]any{"content": []any{map[string]any{"type": "text", "text": session}}})
	}
}

// initsOf returns the initialize bodies the backend got for a caller.
func (b *sessionBackend) initsOf(sub, client string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inits[sub+"/"+client]
}

// lastCall returns the last request the backend processed in a session.
func (b *sessionBackend) lastCall(t *testing.T) heldCall {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) == 0 {
		t.Fatal("the backend processed no request in a session")
	}
	return b.calls[len(b.calls)-1]
}

// pinged returns the sessions the backend got a ping in.
func (b *sessionBackend) pinged() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.pings)
}

// deletedSessions returns the sessions the backend was told to end,
// except the probe's.
func (b *sessionBackend) deletedSessions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, id := range b.deleted {
		if !strings.HasPrefix(id, "probe-") {
			out = append(out, id)
		}
	}
	return out
}

// heldGateway is the transport behind a real guard in front of a
// sessionBackend, its sessions on a settable clock.
type heldGateway struct {
	url     string
	h       *Handler
	backend *sessionBackend
	issuer  *guardtest.Issuer
	clock   *clock
}

func newHeldGateway(t *testing.T, cfg Config) *heldGateway {
	t.Helper()
	g := &heldGateway{backend: newSessionBackend(), issuer: guardtest.NewIssuer(t, "k1"), clock: &clock{now: time.Unix(1e9, 0)}}
	origin := func(r *http.Request) string { return "http://" + r.Host }
	gd, err := guard.New(guard.Config{Origin: origin, AllowClientTokens: true}, g.issuer, g.issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Origin, cfg.Gate, cfg.Now = origin, gd, g.clock.Now
	cfg.BackendRefresh = time.Hour // one probe per test: the clock moves for idle sessions
	g.h, err = New(cfg, proxyTo(t, g.backend))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.h.Close() })
	srv := httptest.NewServer(g.h)
	t.Cleanup(srv.Close)
	g.url = srv.URL + "/mcp"
	return g
}

// token mints an access token for a user of a client.
func (g *heldGateway) token(t *testing.T, sub, client string) string {
	t.Helper()
	c := guardtest.Claims(strings.TrimSuffix(g.url, "/mcp"), "/mcp", time.Now())
	c["sub"], c["client_id"], c["jti"] = sub, client, sub+"@"+client
	return g.issuer.Mint(t, c)
}

// call sends a modern tools/call as token's caller (extra headers
// added) and returns the reply and the backend session it ran in.
func (g *heldGateway) call(t *testing.T, token string, id int, extra map[string]string) (*http.Response, string) {
	t.Helper()
	h := modernHeaders("tools/call", "whoami")
	h["Authorization"] = "Bearer " + token
	for k, v := range extra {
		h[k] = v
	}
	return rpc(t, g.url, modern(id, "tools/call", `"name":"whoami"`), h)
}

// run is call, returning the backend session the call ran in.
func (g *heldGateway) run(t *testing.T, token string, id int, extra map[string]string) string {
	t.Helper()
	resp, body := g.call(t, token, id, extra)
	return sessionOf(t, resp, body)
}

// sessionOf returns the backend session a tools/call reply names.
func sessionOf(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/call: %d %s", resp.StatusCode, body)
	}
	var r struct {
		Result struct {
			ResultType string `json:"resultType"`
			Content    []struct{ Text string }
		}
	}
	if json.Unmarshal([]byte(body), &r) != nil || len(r.Result.Content) != 1 || r.Result.ResultType != "complete" {
		t.Fatalf("tools/call reply %s", body)
	}
	return r.Result.Content[0].Text
}

func TestModernCallersGetABackendSessionEach(t *testing.T) {
	g := newHeldGateway(t, Config{})
	alice, bob, aliceElsewhere := g.token(t, "alice", "app-1"), g.token(t, "bob", "app-1"), g.token(t, "alice", "app-2")

	resp, body := g.call(t, alice, 1, nil)
	first := sessionOf(t, resp, body)
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Errorf("the gateway's session id reached the client: %v", resp.Header)
	}
	for i := 2; i <= 3; i++ {
		if again := g.run(t, alice, i, nil); again != first {
			t.Fatalf("alice's call %d ran in %s, not in her session %s", i, again, first)
		}
	}
	got := g.backend.lastCall(t)
	if got.version != "2025-06-18" || got.owner != "alice/app-1" || strings.Contains(got.body, "io.modelcontextprotocol/") {
		t.Errorf("backend got %+v: want the revision it chose, alice's session, no 2026 _meta", got)
	}
	inits := g.backend.initsOf("alice", "app-1")
	if len(inits) != 1 {
		t.Fatalf("alice/app-1: %d initializes for three calls, want 1", len(inits))
	}
	// The session is opened as the client: its info and capabilities.
	var init struct {
		Params struct {
			ProtocolVersion string
			ClientInfo      struct{ Name string }
		}
	}
	if json.Unmarshal([]byte(inits[0]), &init) != nil || init.Params.ProtocolVersion != "2025-06-18" || init.Params.ClientInfo.Name != "t" {
		t.Errorf("initialize sent %s", inits[0])
	}

	// A user named as a client, and that client's own token (without a
	// user): the same subject and client id, different callers.
	c := guardtest.ClientClaims(strings.TrimSuffix(g.url, "/mcp"), "/mcp", time.Now())
	c["sub"], c["client_id"] = "app-1", "app-1"
	appItself := g.issuer.Mint(t, c)
	userNamedApp := g.token(t, "app-1", "app-1")

	// Another user, and the same user in another application: sessions of
	// their own.
	sessions := map[string]string{"alice/app-1": first}
	for who, token := range map[string]string{"bob/app-1": bob, "alice/app-2": aliceElsewhere, "user app-1/app-1": userNamedApp, "client app-1": appItself} {
		s := g.run(t, token, 9, nil)
		for other, theirs := range sessions {
			if s == theirs {
				t.Errorf("%s got %s's backend session %s", who, other, s)
			}
		}
		sessions[who] = s
	}
}

func TestConcurrentFirstRequestsOfACallerShareOneInitialize(t *testing.T) {
	g := newHeldGateway(t, Config{})
	token := g.token(t, "alice", "app-1")
	g.call(t, g.token(t, "probe", "warm-up"), 0, nil) // the probe, out of the way
	g.backend.initStarted, g.backend.initRelease = make(chan struct{}, 8), make(chan struct{})
	const n = 5
	got := make(chan string, n)
	for i := range n {
		go func() {
			resp, body := g.call(t, token, 10+i, nil)
			if resp.StatusCode != http.StatusOK {
				got <- fmt.Sprintf("status %d: %s", resp.StatusCode, body)
				return
			}
			var r struct {
				Result struct{ Content []struct{ Text string } }
			}
			_ = json.Unmarshal([]byte(body), &r)
			got <- r.Result.Content[0].Text
		}()
	}
	<-g.backend.initStarted
	// Release the initialize once every request waits for the session.
	key := caller{subject: "alice", clientID: "app-1"}
	if !waitUntil(func() bool {
		g.h.sessions.mu.Lock()
		defer g.h.sessions.mu.Unlock()
		s := g.h.sessions.byKey[key]
		return s != nil && s.users == n
	}) {
		t.Fatal("the requests did not all wait for the session")
	}
	close(g.backend.initRelease)
	var first string
	for range n {
		s := <-got
		if first == "" {
			first = s
		}
		if s != first || !strings.HasPrefix(s, "s-") {
			t.Errorf("concurrent calls ran in %q and %q", first, s)
		}
	}
	if inits := g.backend.initsOf("alice", "app-1"); len(inits) != 1 {
		t.Errorf("%d initializes for %d concurrent first calls, want 1", len(inits), n)
	}
}

// waitUntil polls cond until it holds, for at most ten seconds (a
// deadline for a broken test, not a timing the test depends on).
func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func TestForgottenSessionIsReopenedAndTheRequestSentOnceMore(t *testing.T) {
	g := newHeldGateway(t, Config{})
	token := g.token(t, "alice", "app-1")
	before := g.run(t, token, 1, nil)

	// The backend restarts: it knows no session.
	g.backend.mu.Lock()
	clear(g.backend.sessions)
	processed := len(g.backend.calls)
	g.backend.mu.Unlock()
	after := g.run(t, token, 2, nil)
	if after == before {
		t.Fatalf("the call ran in the forgotten session %s", before)
	}
	if n := len(g.backend.initsOf("alice", "app-1")); n != 2 {
		t.Errorf("%d initializes, want 2 (the first, and one after the 404)", n)
	}
	if n := len(g.backend.calls) - processed; n != 1 {
		t.Errorf("the backend processed the call %d times, want once", n)
	}
	if slices.Contains(g.backend.deletedSessions(), before) {
		t.Errorf("the gateway ended %s, which the backend no longer knew", before)
	}

	// A backend that forgets every session: one retry, then the client's
	// error, with its request id.
	g.backend.mu.Lock()
	g.backend.forget = true
	clear(g.backend.sessions)
	g.backend.mu.Unlock()
	resp, body := g.call(t, token, 3, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a session forgotten twice: %d %s, want 502", resp.StatusCode, body)
	}
	if id, code, _ := rpcError(t, body); id != "3" || code != jsonrpc.InternalError {
		t.Errorf("error %s", body)
	}
	if n := len(g.backend.initsOf("alice", "app-1")); n != 3 {
		t.Errorf("%d initializes, want 3: one new session for one retry only", n)
	}
	if n := len(g.backend.calls) - processed; n != 1 {
		t.Errorf("the backend processed %d calls, want only the first", n)
	}
}

// server-everything answers an unknown session with 400 "No valid session
// ID provided" and the request's id: also a forgotten session.
func TestForgottenSessionAnsweredWith400IsReopened(t *testing.T) {
	g := newHeldGateway(t, Config{})
	g.backend.unknown400 = true
	token := g.token(t, "alice", "app-1")
	before := g.run(t, token, 1, nil)
	g.backend.mu.Lock()
	clear(g.backend.sessions)
	g.backend.mu.Unlock()
	if after := g.run(t, token, 2, nil); after == before {
		t.Fatalf("the call ran in the forgotten session %s", before)
	}
	// Unlike a 404, a 400 does not say the session is gone: it is ended.
	g.h.sessions.ending.Wait()
	if got := g.backend.deletedSessions(); !slices.Equal(got, []string{before}) {
		t.Errorf("ended %v, want the refused %s", got, before)
	}
	if got := g.backend.pinged(); !slices.Equal(got, []string{before}) {
		t.Errorf("pinged %v, want the refused %s once, to confirm it is gone", got, before)
	}
}

// A tool that ran and then failed with the very error server-everything
// gives a forgotten session (a tool relaying another MCP server's error, or
// a buggy or hostile backend) runs once: the ping in its session is
// answered, so the error is the backend's answer to the call, and sent
// again in a new session the tool would run twice. A ping that fails
// otherwise confirms nothing either.
func TestAToolFailingWithTheForgottenSessionErrorRunsOnce(t *testing.T) {
	for _, pingStatus := range []int{0, http.StatusBadGateway} {
		g := newHeldGateway(t, Config{})
		token := g.token(t, "alice", "app-1")
		session := g.run(t, token, 1, nil)
		g.backend.pingStatus = pingStatus
		g.backend.toolError = &jsonrpc.Error{Code: -32000, Message: "Bad Request: No valid session ID provided"}
		resp, body := g.call(t, token, 2, nil)
		if id, code, msg := rpcError(t, body); resp.StatusCode != http.StatusBadRequest || id != "2" || code != -32000 || msg != g.backend.toolError.Message {
			t.Errorf("ping %d: %d %s, want the backend's answer unchanged", pingStatus, resp.StatusCode, body)
		}
		g.backend.mu.Lock()
		ran := len(g.backend.calls)
		g.backend.mu.Unlock()
		if ran != 2 {
			t.Errorf("ping %d: the backend ran 2 calls %d times", pingStatus, ran)
		}
		if got := g.backend.pinged(); !slices.Equal(got, []string{session}) {
			t.Errorf("ping %d: pinged %v, want %s", pingStatus, got, session)
		}

		// The session lives on: no new one, none ended.
		g.backend.toolError = nil
		if again := g.run(t, token, 3, nil); again != session {
			t.Errorf("ping %d: the next call ran in %s, not in the live session %s", pingStatus, again, session)
		}
		g.h.sessions.ending.Wait()
		if n, ended := len(g.backend.initsOf("alice", "app-1")), g.backend.deletedSessions(); n != 1 || len(ended) != 0 {
			t.Errorf("ping %d: %d sessions opened, %v ended; want 1, none", pingStatus, n, ended)
		}
	}
}

// A held tools/call the backend ran and answered with a 400 error of its
// own is relayed once, even when the message names a session: sent again
// in a new session, a tool would run twice (a payment made twice), and a
// caller echoing an argument named "session" into an error would make the
// gateway drop and reopen sessions at will.
func TestErrorsAnsweringTheRequestAreNeverSentAgain(t *testing.T) {
	for _, e := range []jsonrpc.Error{
		{Code: jsonrpc.InvalidParams, Message: "charge made, but the receipt printer session timed out"},
		{Code: jsonrpc.InvalidParams, Message: "Invalid params: unknown property 'session'"},
		{Code: jsonrpc.InternalError, Message: "session store unavailable"},
		{Code: -32000, Message: "the receipt printer session timed out"},
	} {
		g := newHeldGateway(t, Config{})
		token := g.token(t, "mallory", "app")
		g.run(t, token, 1, nil) // the session, opened
		g.backend.toolError = &e
		for i := 2; i <= 4; i++ {
			h := modernHeaders("tools/call", "whoami")
			h["Authorization"] = "Bearer " + token
			resp, body := rpc(t, g.url, modern(i, "tools/call", `"name":"whoami","arguments":{"session":1}`), h)
			if id, code, _ := rpcError(t, body); resp.StatusCode != http.StatusBadRequest || id != fmt.Sprint(i) || code != e.Code {
				t.Errorf("%d %q: %d %s, want the backend's answer", e.Code, e.Message, resp.StatusCode, body)
			}
		}
		g.backend.mu.Lock()
		ran := len(g.backend.calls)
		g.backend.mu.Unlock()
		if ran != 4 {
			t.Errorf("%d %q: the backend ran 4 calls %d times", e.Code, e.Message, ran)
		}
		if n := len(g.backend.initsOf("mallory", "app")); n != 1 {
			t.Errorf("%d %q: %d sessions opened for one caller, want 1", e.Code, e.Message, n)
		}
	}
}

// What counts as the backend refusing the session rather than answering
// the request: the real answers of the SDKs' servers do, errors answering
// the request and other codes do not.
func TestSessionRefusals(t *testing.T) {
	id := json.RawMessage(`7`)
	for _, c := range []struct {
		status int
		body   string
		want   refusal
	}{
		// server-everything, with the request's id (id: req.body.id).
		{400, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":7}`, sessionRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}`, sessionRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"}}`, sessionRefused},
		// The TypeScript SDK's transport, and the specification's answer.
		{404, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}`, sessionGone},
		{404, `Not Found`, sessionGone},
		// Answers to the request.
		{404, `{"jsonrpc":"2.0","error":{"code":-32601,"message":"no such thing"},"id":7}`, notRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Session not found"},"id":7}`, notRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32602,"message":"unknown property 'session'"},"id":7}`, notRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32602,"message":"unknown property 'session'"},"id":null}`, notRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32603,"message":"Bad Request: No valid session ID provided"},"id":null}`, notRefused},
		{400, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: invalid JSON"},"id":null}`, notRefused},
		{400, `Bad Request: No valid session ID provided`, notRefused},
		{500, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}`, notRefused},
	} {
		if got := sessionRefusal(c.status, []byte(c.body), id); got != c.want {
			t.Errorf("%d %s: %d, want %d", c.status, c.body, got, c.want)
		}
	}
}

// A 404 that answers the request (its id), or a 400 about the request, is
// the backend's answer, not a forgotten session: relayed once, not sent
// again.
func TestRefusalsOfTheRequestAreNotRetried(t *testing.T) {
	g := newHeldGateway(t, Config{})
	for _, c := range []struct {
		method string
		status int
		code   int
	}{{"missing", http.StatusNotFound, jsonrpc.MethodNotFound}, {"invalid", http.StatusBadRequest, jsonrpc.InvalidParams}} {
		h := modernHeaders(c.method, "")
		h["Authorization"] = "Bearer " + g.token(t, "alice", "app-1")
		resp, body := rpc(t, g.url, modern(4, c.method, ""), h)
		if id, code, _ := rpcError(t, body); resp.StatusCode != c.status || id != "4" || code != c.code {
			t.Errorf("%s: %d %s", c.method, resp.StatusCode, body)
		}
	}
	if n := len(g.backend.initsOf("alice", "app-1")); n != 1 {
		t.Errorf("%d initializes, want 1", n)
	}
}

func TestHeldSessionsAreBoundedAndEnded(t *testing.T) {
	g := newHeldGateway(t, Config{MaxBackendSessions: 2, BackendSessionIdle: 10 * time.Minute})
	a, b, c := g.token(t, "a", "app"), g.token(t, "b", "app"), g.token(t, "c", "app")
	sa := g.run(t, a, 1, nil)
	sb := g.run(t, b, 2, nil)
	g.run(t, a, 3, nil) // a is now the most recently used

	// Full: c's session takes the place of b's, the least recently used.
	sc := g.run(t, c, 4, nil)
	g.h.sessions.ending.Wait()
	if got := g.backend.deletedSessions(); !slices.Equal(got, []string{sb}) {
		t.Fatalf("ended %v, want b's %s", got, sb)
	}
	g.clock.add(time.Minute)
	if again := g.run(t, a, 5, nil); again != sa {
		t.Errorf("a's session %s was replaced by %s", sa, again)
	}

	// Idle past the lifetime: ended when the next request comes (c's
	// session was last used 10m ago, a's 9m ago).
	g.clock.add(9 * time.Minute)
	g.run(t, a, 6, nil)
	g.h.sessions.ending.Wait()
	if got := g.backend.deletedSessions(); !slices.Equal(got, []string{sb, sc}) {
		t.Fatalf("ended %v, want b's %s then the idle c's %s", got, sb, sc)
	}
	if n := len(g.backend.initsOf("c", "app")); n != 1 {
		t.Fatalf("c: %d initializes before its session came back", n)
	}
	g.run(t, c, 7, nil)
	if n := len(g.backend.initsOf("c", "app")); n != 2 {
		t.Errorf("c: %d initializes, want a new session after idling", n)
	}

	// Cleanup (a configuration reload or stop) ends every session left.
	g.h.Close()
	got := g.backend.deletedSessions()
	if !slices.Contains(got, sa) || len(got) != 4 {
		t.Errorf("after Close the backend ended %v, want a's %s and c's new one too", got, sa)
	}
	resp, body := g.call(t, a, 8, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("a request after Close: %d %s", resp.StatusCode, body)
	}
}

// Any signed-in user can get many client ids (open registration, client
// metadata documents): one user's sessions beyond its share replace its own,
// never another user's.
func TestOneUserCannotEvictAnotherUsersSession(t *testing.T) {
	const share = DefaultMaxBackendSessionsPerSubject
	g := newHeldGateway(t, Config{MaxBackendSessions: share + 1})
	alice := g.token(t, "alice", "app-1")
	first := g.run(t, alice, 1, nil)
	var mallorys []string
	for i := range share + 2 {
		mallorys = append(mallorys, g.run(t, g.token(t, "mallory", fmt.Sprintf("mallory-app-%d", i)), 1, nil))
	}
	if again := g.run(t, alice, 2, nil); again != first {
		t.Errorf("mallory, one user, evicted alice's session %s (now %s)", first, again)
	}
	g.h.sessions.ending.Wait()
	// Each eviction's DELETE runs in a goroutine of its own: the order the
	// backend sees them in is not defined, the set is.
	got := g.backend.deletedSessions()
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(mallorys[:2])); !slices.Equal(got, want) {
		t.Errorf("ended %v, want mallory's own two least recently used %v", got, want)
	}
}

// A full pool whose sessions all have a request in flight refuses a new
// caller for a while instead of ending a session another caller is using.
func TestAFullPoolInUseRefusesNewCallersWithRetryAfter(t *testing.T) {
	g := newHeldGateway(t, Config{MaxBackendSessions: 1})
	alices := g.run(t, g.token(t, "alice", "app-1"), 1, nil)
	inFlight, err := g.h.sessions.acquire(caller{subject: "alice", clientID: "app-1"}, nil)
	if err != nil || inFlight.id != alices {
		t.Fatalf("alice's session: %v %v", inFlight, err)
	}
	bob := g.token(t, "bob", "app-1")
	resp, body := g.call(t, bob, 2, nil)
	if id, code, _ := rpcError(t, body); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || id != "2" || code != jsonrpc.InternalError {
		t.Errorf("bob with every session in use: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	g.h.sessions.ending.Wait()
	if got := g.backend.deletedSessions(); len(got) != 0 {
		t.Fatalf("ended %v while alice used it", got)
	}

	// Alice's request done, her session is the least recently used idle.
	g.h.sessions.release(inFlight)
	g.run(t, bob, 3, nil)
	g.h.sessions.ending.Wait()
	if got := g.backend.deletedSessions(); !slices.Equal(got, []string{alices}) {
		t.Errorf("ended %v, want alice's idle %s", got, alices)
	}
}

// A held session's id is the gateway's from initialize's answer until the
// backend was told to end it: a legacy request naming it is refused while
// notifications/initialized, or the DELETE, is on its way.
func TestHeldSessionIDsAreRefusedFromInitializeUntilEnded(t *testing.T) {
	g := newHeldGateway(t, Config{MaxBackendSessions: 1})
	g.call(t, g.token(t, "probe", "warm-up"), 0, nil) // the probe, out of the way
	mallory := g.token(t, "mallory", "app-1")
	legacy := func(id string) int {
		resp, _ := rpc(t, g.url, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}`,
			map[string]string{"Authorization": "Bearer " + mallory, "Mcp-Session-Id": id, "MCP-Protocol-Version": "2025-06-18"})
		return resp.StatusCode
	}
	g.backend.notifying, g.backend.notifyRelease = make(chan string), make(chan struct{})
	done := make(chan string)
	go func() {
		resp, body := g.call(t, g.token(t, "alice", "app-1"), 1, nil)
		done <- fmt.Sprint(resp.StatusCode, body)
	}()
	alices := <-g.backend.notifying
	g.backend.notifying = nil
	if status := legacy(alices); status != http.StatusNotFound {
		t.Errorf("a legacy request in alice's session before notifications/initialized: %d", status)
	}
	close(g.backend.notifyRelease)
	<-done
	// Alice's session took the place of the warm-up caller's: its DELETE,
	// in a goroutine of its own, is over before the backend starts holding
	// DELETEs back.
	g.h.sessions.ending.Wait()

	// Bob's session takes the place of alice's, whose DELETE waits.
	g.backend.ending, g.backend.endRelease = make(chan string), make(chan struct{})
	release := sync.OnceFunc(func() { close(g.backend.endRelease) })
	t.Cleanup(release) // a failed check must not leave the DELETE waiting
	go func() {
		resp, body := g.call(t, g.token(t, "bob", "app-1"), 2, nil)
		done <- fmt.Sprint(resp.StatusCode, body)
	}()
	ended := <-g.backend.ending
	g.backend.ending = nil // the other ends (Close's) need no waiting
	if ended != alices {
		t.Fatalf("ending %s, want alice's %s", ended, alices)
	}
	if status := legacy(alices); status != http.StatusNotFound {
		t.Errorf("a legacy request in alice's session while it is being ended: %d", status)
	}
	release()
	<-done
	g.h.sessions.ending.Wait()
	if g.h.sessions.holds(alices) {
		t.Errorf("alice's ended session %s is still held", alices)
	}
}

func TestClientSessionIDsNeverReachTheBackendForModernRequests(t *testing.T) {
	g := newHeldGateway(t, Config{})
	alice, mallory := g.token(t, "alice", "app-1"), g.token(t, "mallory", "app-1")
	victim := g.run(t, alice, 1, nil)
	// Alice's own session as a 2025 client, which the gateway relays.
	resp, body := rpc(t, g.url, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		map[string]string{"Authorization": "Bearer " + alice})
	own := resp.Header.Get("Mcp-Session-Id")
	if own == "" {
		t.Fatalf("2025 initialize: %d %s", resp.StatusCode, body)
	}

	// Mallory replays (or guessed) alice's session id on a modern request:
	// the call runs in mallory's own session.
	s := g.run(t, mallory, 2, map[string]string{"Mcp-Session-Id": own})
	if s == own || g.backend.lastCall(t).owner != "mallory/app-1" {
		t.Fatalf("mallory's call ran in %s, alice's session is %s", s, own)
	}

	// The gateway's session for alice is refused before the backend, in
	// either era (a 2025 request relays the client's session id).
	g.backend.mu.Lock()
	processed := len(g.backend.calls)
	g.backend.mu.Unlock()
	if resp, body := g.call(t, mallory, 3, map[string]string{"Mcp-Session-Id": victim}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("modern, in alice's held session: %d %s", resp.StatusCode, body)
	}
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		resp, body := do(t, method, g.url, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}`,
			map[string]string{"Authorization": "Bearer " + mallory, "Mcp-Session-Id": victim, "MCP-Protocol-Version": "2025-06-18"})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s as 2025 in alice's held session: %d %s", method, resp.StatusCode, body)
		}
	}
	if len(g.backend.calls) != processed || slices.Contains(g.backend.deletedSessions(), victim) {
		t.Error("a 2025 request reached the backend in alice's held session")
	}

	// A backend without sessions never sees a modern request's session id
	// either.
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	h := modernHeaders("tools/list", "")
	h["Mcp-Session-Id"] = "someone-elses"
	rpc(t, url+"/mcp", modern(4, "tools/list", ""), h)
	if got := b.last(t).header.Get("Mcp-Session-Id"); got != "" {
		t.Errorf("backend got Mcp-Session-Id %q", got)
	}
}

// Without a verified identity (no Gate) there is nobody to hold a session
// for: the backend's own answer, as before.
func TestNoSessionIsHeldWithoutAVerifiedIdentity(t *testing.T) {
	b := newSessionBackend()
	url := gateway(t, Config{}, proxyTo(t, b))
	resp, body := rpc(t, url+"/mcp", modern(1, "tools/list", ""), modernHeaders("tools/list", ""))
	if resp.StatusCode != http.StatusBadRequest || len(b.initsOf("", "")) != 0 {
		t.Errorf("%d %s; initializes %v", resp.StatusCode, body, b.inits)
	}
}

// A session whose notifications/initialized the backend refused is not
// used: the client gets the reason, and the session is ended.
func TestASessionIsUsedOnlyOnceInitialized(t *testing.T) {
	g := newHeldGateway(t, Config{})
	g.backend.refuse = true
	resp, body := g.call(t, g.token(t, "alice", "app-1"), 1, nil)
	if _, _, msg := rpcError(t, body); resp.StatusCode != http.StatusBadGateway || !strings.Contains(msg, "notifications/initialized") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ended := g.backend.deletedSessions(); len(ended) != 1 {
		t.Errorf("ended %v, want the half-opened session", ended)
	}
}

// A backend predating 2026-07-28 that answers in an event stream (the SDK
// servers do when the client accepts one): an unknown method is still a
// 404 for a modern client, a stream of messages still a stream.
func TestStreamedRepliesToModernRequests(t *testing.T) {
	g := newHeldGateway(t, Config{})
	token := g.token(t, "alice", "app-1")
	h := modernHeaders("nosuch", "")
	h["Authorization"] = "Bearer " + token
	resp, body := rpc(t, g.url, modern(5, "nosuch", ""), h)
	if id, code, _ := rpcError(t, body); resp.StatusCode != http.StatusNotFound || id != "5" || code != jsonrpc.MethodNotFound ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown method: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	h = modernHeaders("streamed", "")
	h["Authorization"] = "Bearer " + token
	resp, body = rpc(t, g.url, modern(6, "streamed", ""), h)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		!strings.Contains(body, "id: prime") || !strings.Contains(body, "notifications/progress") || !strings.Contains(body, `"resultType":"complete"`) {
		t.Errorf("stream: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// A tool may work for minutes before it sends a message: its stream is not
// held back, or clients would give up waiting for a status line. (Held
// streams are held for an hour here, so that only the exemption lets the
// status line out.)
func TestToolCallStreamsAreNotHeldBack(t *testing.T) {
	g := newHeldGateway(t, Config{holdStreamFor: time.Hour})
	token := g.token(t, "alice", "app-1")
	g.run(t, token, 1, nil) // the session, opened
	g.backend.toolRelease = make(chan struct{})
	defer close(g.backend.toolRelease)
	if !g.streamStartsBeforeItsResult(t, token, "tools/call", "whoami") {
		t.Fatal("the status line of a tool's stream waited for the tool's result")
	}
}

// streamStartsBeforeItsResult sends a modern request for method (and name)
// whose reply the test backend holds back, and reports whether the client
// has the stream's status line meanwhile.
func (g *heldGateway) streamStartsBeforeItsResult(t *testing.T, token, method, name string) bool {
	t.Helper()
	resp := g.startStream(t, token, method, name)
	if resp == nil {
		return false
	}
	resp.Body.Close()
	return true
}

// startStream is streamStartsBeforeItsResult returning the client's
// response (its body to read and close), or nil.
func (g *heldGateway) startStream(t *testing.T, token, method, name string) *http.Response {
	t.Helper()
	params := ""
	if name != "" {
		params = `"name":` + strconv.Quote(name)
	}
	req, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(modern(2, method, params)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range modernHeaders(method, name) {
		req.Header.Set(k, v)
	}
	headers := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			resp = nil
		}
		headers <- resp
	}()
	select {
	case resp := <-headers:
		if resp == nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%s: %v", method, resp)
		}
		return resp
	case <-time.After(10 * time.Second): // a deadline for a broken test
		return nil
	}
}

// A backend that sends more events without data than maxHeldEvents before
// its first message gets its stream released: the client has its status
// line and the gateway holds no more of it.
func TestHeldStreamIsReleasedPastItsBound(t *testing.T) {
	g := newHeldGateway(t, Config{holdStreamFor: time.Hour}) // only the size bound
	token := g.token(t, "alice", "app-1")
	g.run(t, token, 1, nil) // the session, opened
	g.backend.primeRelease = make(chan struct{})
	defer close(g.backend.primeRelease)
	if !g.streamStartsBeforeItsResult(t, token, "primed", "") {
		t.Fatal("the status line waited for the first message past the bound on held events")
	}
}

// A backend that answers 200 and then takes a while to send a message (a
// slow resources/read, with only comments meanwhile) gets its stream
// released once held for holdStreamFor: the client has its status line and
// the events held, and the stream goes on as it is, a -32601 coming later
// in it as an event.
func TestHeldStreamIsReleasedAfterAWhile(t *testing.T) {
	g := newHeldGateway(t, Config{holdStreamFor: time.Millisecond})
	token := g.token(t, "alice", "app-1")
	g.run(t, token, 1, nil) // the session, opened
	g.backend.quietRelease = make(chan struct{})
	resp := g.startStream(t, token, "quiet", "")
	close(g.backend.quietRelease)
	if resp == nil {
		t.Fatal("the status line waited for the first message past holdStreamFor")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	later, held := strings.CutPrefix(string(body), "id: prime\ndata: \n\n: still working\n\n")
	if !held || !strings.HasPrefix(later, "event: message\ndata: {") || !strings.Contains(later, `"code":-32601`) || !strings.HasSuffix(later, "}\n\n") {
		t.Errorf("the released stream:\n%s", body)
	}
}

// Once the upstream handler has returned (or panicked), a held stream's
// timer writes nothing: the response is no longer the handler's to write.
func TestAHeldStreamsTimerWritesNothingOnceTheHandlerReturned(t *testing.T) {
	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, call{holdStream: true}, time.Hour)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(http.StatusOK)
	if rw.first == nil {
		t.Fatal("the stream is not held")
	}
	_, _ = rw.Write([]byte("id: prime\n\n"))
	rw.stopHolding()
	rw.first.expire() // the timer, late
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Fatalf("the timer wrote after the handler returned: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}

// A held stream's timer may release it while the upstream handler sets
// trailers, which reverse_proxy does in the response's headers once the
// body is done: the timer reads the headers of the status line, a copy of
// its own, never the map the handler writes (a data race, and a fatal
// concurrent map write in production). Run with -race.
func TestAHeldStreamsTimerReadsNoHeaderTheHandlerWrites(t *testing.T) {
	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, call{holdStream: true}, time.Hour)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Trailer", "X-Checksum")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte("id: prime\ndata: \n\n"))
	released := make(chan struct{})
	go func() {
		defer close(released)
		rw.first.expire() // the timer, while the handler sets its trailers
	}()
	rw.Header().Set("X-Checksum", "abc")
	rw.Header().Set(http.TrailerPrefix+"X-Late", "def")
	<-released
	rw.stopHolding()
	rw.finish()
	if rec.Code != http.StatusOK || rec.Body.String() != "id: prime\ndata: \n\n" {
		t.Errorf("released %d %q", rec.Code, rec.Body.String())
	}
	if got := rec.Header(); got.Get("Content-Type") != "text/event-stream" || len(got) != 1 {
		t.Errorf("the client got the headers %v, want only those of the status line, without trailers", got)
	}
}
