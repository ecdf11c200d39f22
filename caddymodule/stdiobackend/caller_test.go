package stdiobackend

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
)

// A client_credentials token whose subject is "deploy" (a `client` block's
// id) and a user who signs in as "deploy" are two principals: they never
// share a process (its memory, its requests to the client) nor the folder
// {http.auth.user.id} names. The user's folder is the one it always was.
func TestClientTokenNeverSharesAUsersProcessOrFolder(t *testing.T) {
	base := t.TempDir()
	cfg := fakeConfig(t)
	cfg.Dir = filepath.Join(base, SubjectPlaceholder)
	cfg.Env["NOTES_FILE"] = "/data/" + SubjectPlaceholder + "/notes.json"
	srv := serve(t, newBackend(t, cfg))
	as := func(id guard.Identity) echoed {
		t.Helper()
		resp, body := rpcAs(t, srv, id, `{"jsonrpc":"2.0","id":1,"method":"echo"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("echo as %+v: %d %s", id, resp.StatusCode, body)
		}
		var e echoed
		result(t, body, &e)
		return e
	}
	user := as(guard.Identity{Subject: "deploy", ClientID: "app"})
	client := as(guard.Identity{Subject: "deploy", ClientID: "deploy", Client: true})
	if user.PID == client.PID {
		t.Errorf("the user \"deploy\" and the client \"deploy\" share process %d", user.PID)
	}
	if user.Dir != filepath.Join(base, "deploy") {
		t.Errorf("the user runs in %s, want %s as before (no user loses a folder on an upgrade)", user.Dir, filepath.Join(base, "deploy"))
	}
	if client.Dir != filepath.Join(base, "deploy~client") {
		t.Errorf("the client runs in %s, want %s", client.Dir, filepath.Join(base, "deploy~client"))
	}
	if env := notesFile(client.Env); env != "/data/deploy~client/notes.json" {
		t.Errorf("the client's NOTES_FILE is %q", env)
	}
	// The user's other applications share the user's process (and folder).
	if other := as(guard.Identity{Subject: "deploy", ClientID: "other-app"}); other.PID != user.PID {
		t.Errorf("the user's second application got process %d, want the user's %d", other.PID, user.PID)
	}
}

func notesFile(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NOTES_FILE="); ok {
			return v
		}
	}
	return ""
}

// No user's {http.auth.user.id} is ever a client's, whatever the user's
// name: not one that looks like the client's with a separator and
// "client", nor a shortened one.
func TestClientFolderNamesNeverMeetUsers(t *testing.T) {
	long := strings.Repeat("y", 300)
	clients := []string{"deploy", "client", "client:deploy", "", "~", "deploy~client", long, long + "~client", "https://app.example/cimd.json"}
	users := []string{"%7Eclient", "~client", long, long + "~client"}
	for _, c := range clients {
		users = append(users, c)
		for _, sep := range []string{"", "~", "%7E", "_", "-", ".", "@", "+", "=", ",", ":", "/", " ", "%"} {
			users = append(users, c+sep+"client", "client"+sep+c)
		}
	}
	names := map[string]string{}
	for _, u := range users {
		names[procKey{subject: u}.escaped()] = "user " + u
	}
	for _, c := range clients {
		name := procKey{subject: c, client: true}.escaped()
		if who, ok := names[name]; ok {
			t.Errorf("the client %q and the %s both get %q", c, who, name)
		}
		names[name] = "client " + c
		if len(name) > 255-len(".jsonl") {
			t.Errorf("the client %q gets a name of %d bytes, too long for a file", c, len(name))
		}
	}
}

// A user's applications share the user's process, not its requests to
// them: the child's sampling request reaches the application whose request
// was in flight, under an id nobody else can guess, and only that
// application's reply answers it. Another application of the same user (a
// narrow scope), or a client token of the user's name, replaying the id
// neither answers nor cancels it.
func TestReplyToAServerRequestOnlyFromItsCaller(t *testing.T) {
	b := newBackend(t, fakeConfig(t))
	srv := serve(t, b)
	wide := guard.Identity{Subject: "alice", ClientID: "wide"}
	resp, err := http.DefaultClient.Do(newRPC(context.Background(), srv, wide, `{"jsonrpc":"2.0","id":9,"method":"sample"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var ask struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal([]byte(nextData(t, r)), &ask); err != nil || ask.ID == nil {
		t.Fatalf("first event: %v", err)
	}
	for _, forger := range []guard.Identity{
		{Subject: "alice", ClientID: "narrow"},
		{Subject: "alice", ClientID: "alice", Client: true},
		{Subject: "alice", ClientID: "wide", Client: true},
	} {
		if resp, _ := rpcAs(t, srv, forger, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"forged":true}}`); resp.StatusCode != http.StatusAccepted {
			t.Errorf("%+v's reply: %d", forger, resp.StatusCode)
		}
	}
	// Had a forger's reply been dropped after it used up the id, the
	// application asked could no longer answer.
	p := b.running(procKey{subject: "alice"})
	p.mu.Lock()
	_, open := p.serverReqs[string(ask.ID)]
	p.mu.Unlock()
	if !open {
		t.Fatal("the forged replies closed the request asked of the wide application")
	}
	if resp, _ := rpcAs(t, srv, wide, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"text":"hi"}}`); resp.StatusCode != http.StatusAccepted {
		t.Errorf("wide's reply: %d", resp.StatusCode)
	}
	if got := nextData(t, r); got != `{"jsonrpc":"2.0","id":9,"result":{"answered_id":77,"sampled":{"text":"hi"}}}` {
		t.Errorf("reply %s, want the answer of the application asked", got)
	}
}

// The ids the gateway gives the child's requests are not a counter: with
// one, every process's first sampling request would be "mcpgate-3", and
// an id seen once would name the next one.
func TestServerRequestIDsAreUnguessable(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	first := func(subject string) string {
		resp := rpcStream(t, srv, subject, `{"jsonrpc":"2.0","id":9,"method":"sample"}`)
		defer resp.Body.Close()
		var ask struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal([]byte(nextData(t, bufio.NewReader(resp.Body))), &ask)
		// Answered, so the child is ready for the next one.
		rpc(t, srv, subject, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{}}`)
		return string(ask.ID)
	}
	a, b := first("alice"), first("bob")
	if a == b || len(a) < len(`"mcpgate-"`)+26 {
		t.Errorf("alice's first sampling request is %s, bob's %s: want ids of 128 random bits", a, b)
	}
}

// stdio ties a sampling request or a log line to no request: while two of
// a user's applications wait on the process, either may have caused it,
// so neither gets it (the child's request is refused, the log line
// dropped) rather than the wrong one seeing what the server read under the
// other's scopes.
func TestUnsolicitedMessagesReachNoApplicationWhenTwoWait(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	narrow := guard.Identity{Subject: "alice", ClientID: "narrow"}
	wide := guard.Identity{Subject: "alice", ClientID: "wide"}
	echo(t, srv, "alice") // the process runs
	for _, method := range []string{"sample", "log"} {
		received := filepath.Join(t.TempDir(), "received")
		ctx, cancel := context.WithCancel(context.Background())
		waiting := make(chan *http.Response, 1)
		go func() {
			resp, _ := http.DefaultClient.Do(newRPC(ctx, srv, narrow, `{"jsonrpc":"2.0","id":1,"method":"hang","params":{"file":"`+received+`"}}`))
			waiting <- resp
		}()
		if !eventually(10*time.Second, func() bool { _, err := os.Stat(received); return err == nil }) {
			t.Fatal("the hanging request never reached the child")
		}
		answered := make(chan string, 1)
		go func() {
			resp, err := http.DefaultClient.Do(newRPC(ctx, srv, wide, `{"jsonrpc":"2.0","id":2,"method":"`+method+`"}`))
			if err != nil {
				return // cancelled: the narrow application got it
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answered <- string(body)
		}()
		select {
		case body := <-answered:
			if strings.Contains(body, `"method":"sampling/createMessage"`) || strings.Contains(body, `"method":"notifications/message"`) {
				t.Errorf("%s: the wide application got %s, want only the reply", method, body)
			}
			if method == "sample" && !strings.Contains(body, `"refused"`) {
				t.Errorf("sample: %s, want the child told its request was refused", body)
			}
			cancel()
			if resp := <-waiting; resp != nil {
				resp.Body.Close()
				t.Errorf("%s: the narrow application got an answer (%s)", method, resp.Header.Get("Content-Type"))
			}
		case resp := <-waiting:
			cancel()
			if resp != nil {
				resp.Body.Close()
			}
			t.Errorf("%s: the narrow application, waiting on another request, got what the wide one caused", method)
		}
	}
}
