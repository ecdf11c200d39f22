package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// buildGateway compiles the caddy binary with mcpgate's modules, for tests
// that need several gateway processes (Caddy is one per process).
func buildGateway(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the gateway needs the go command in PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mcpgate")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/mcpgate/mcpgate").CombinedOutput()
	if err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	return bin
}

// instance is one gateway process of examples/cluster.
type instance struct {
	name string
	cmd  *exec.Cmd
	log  *lockedBuffer
	// g reaches this instance directly, under the cluster's public origin.
	g *gateway
}

// startInstance runs examples/cluster/gateway.Caddyfile in a process of its
// own on port, with env (KEY=value) added.
func startInstance(t *testing.T, bin, name, port, public string, env ...string) *instance {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, "run", "--config", "../examples/cluster/gateway.Caddyfile", "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), append([]string{"MCPGATE_HTTP_PORT=" + port, "MCPGATE_ADMIN=off", "MCPGATE_PUBLIC_ORIGIN=" + public,
		"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}, env...)...)
	in := &instance{name: name, cmd: cmd, log: new(lockedBuffer)}
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", name, in.log.String())
		}
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	in.g = &gateway{base: public, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if !eventually(60*time.Second, func() bool {
		resp, err := in.g.client.Get(public + "/.well-known/oauth-protected-resource/mcp")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("gateway %s did not start:\n%s", name, in.log.String())
	}
	return in
}

// tokenAnswer is a token endpoint answer.
type tokenAnswer struct {
	status                    int
	AccessToken, RefreshToken string
	Error                     string
}

func refreshAt(g *gateway, refreshToken, clientID string, header ...string) (tokenAnswer, error) {
	req, _ := http.NewRequest(http.MethodPost, g.base+"/token", strings.NewReader(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {clientID},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return tokenAnswer{}, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return tokenAnswer{resp.StatusCode, body.AccessToken, body.RefreshToken, body.Error}, nil
}

// TestExampleClusterEndToEnd runs examples/cluster: two gateway processes
// sharing one PostgreSQL database behind the example's round-robin
// balancer (this process), and checks what the cluster promises.
func TestExampleClusterEndToEnd(t *testing.T) {
	// A server of the test's own, so that it can be really restarted.
	pg := testenv.StartPostgres(t)
	dsn := pg.DSN
	bin := buildGateway(t)
	data := exampleEnv(t)
	portA, portB := freePort(t), freePort(t)
	t.Setenv("MCPGATE_INSTANCE_A", "127.0.0.1:"+portA)
	t.Setenv("MCPGATE_INSTANCE_B", "127.0.0.1:"+portB)
	startExample(t, "cluster")
	public := "http://127.0.0.1:" + os.Getenv("MCPGATE_HTTP_PORT")
	lb := &gateway{base: public, data: data, client: &http.Client{Timeout: 30 * time.Second}}

	env := []string{"DATABASE_URL=" + dsn, "MCPGATE_MEMORY_ADDR=" + os.Getenv("MCPGATE_MEMORY_ADDR"),
		"MCPGATE_USER=" + testUser, "MCPGATE_PASSWORD=" + testPassword}
	a := startInstance(t, bin, "A", portA, public, env...)
	b := startInstance(t, bin, "B", portB, public, env...)
	lb.waitReady(t)

	t.Run("GatewayCaddyfileValidates", func(t *testing.T) {
		t.Setenv("DATABASE_URL", dsn)
		text, err := os.ReadFile("../examples/cluster/gateway.Caddyfile")
		if err != nil {
			t.Fatal(err)
		}
		cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format(text), nil)
		if err != nil {
			t.Fatal(err)
		}
		var cfg caddy.Config
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := caddy.Validate(&cfg); err != nil {
			t.Fatalf("caddy validate: %v", err)
		}
	})

	var gr grant
	t.Run("LoginThroughAMCPThroughB", func(t *testing.T) {
		gr = authorize(t, a.g, "cluster-client")
		resp, body := post(t, b.g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "search_nodes") {
			t.Fatalf("tools/list on B with A's token: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("ConcurrentRefreshesOverBoth", func(t *testing.T) {
		// Two tabs, or a client retrying: within the grace window each
		// attempt gets tokens, and none of them revokes the family,
		// whichever instance it lands on.
		answers := make([]tokenAnswer, 20)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if answers[i], err = refreshAt(lb, gr.refreshToken, gr.clientID); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, ans := range answers {
			if ans.status != http.StatusOK || seen[ans.RefreshToken] {
				t.Fatalf("a concurrent refresh: %d %s (or a refresh token handed out twice)", ans.status, ans.Error)
			}
			seen[ans.RefreshToken] = true
		}
		// The family is not revoked: fresh access tokens of it pass on
		// both instances (each asks the database about a new token).
		for i, in := range []*instance{a, b} {
			if resp, body := post(t, in.g, "/mcp", answers[i].AccessToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusOK {
				t.Fatalf("an access token from the race on %s: %d %s", in.name, resp.StatusCode, body)
			}
		}
		// A family keeps its newest few live tokens; the others are
		// unknown (invalid_grant, which revokes nothing). Go on with one
		// that is live.
		for i := len(answers) - 1; i >= 0; i-- {
			ans, err := refreshAt(lb, answers[i].RefreshToken, gr.clientID)
			if err != nil || ans.status != http.StatusOK && ans.Error != "invalid_grant" {
				t.Fatalf("refreshing with a token from the race: %+v %v", ans, err)
			}
			if ans.status == http.StatusOK {
				gr.accessToken, gr.refreshToken = ans.AccessToken, ans.RefreshToken
				return
			}
		}
		t.Fatal("no refresh token from the race is live")
	})

	t.Run("RevokedOnARefusedOnB", func(t *testing.T) {
		g2 := authorize(t, lb, "revoked-client")
		if resp, body := post(t, b.g, "/mcp", g2.accessToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("before revocation: %d %s", resp.StatusCode, body)
		}
		resp, err := a.g.client.PostForm(public+"/revoke", url.Values{"token": {g2.refreshToken}, "client_id": {g2.clientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke on A: %d", resp.StatusCode)
		}
		// B asks the database once per revocation_check_interval (2s).
		if !eventually(10*time.Second, func() bool {
			resp, _ := post(t, b.g, "/mcp", g2.accessToken, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
			return resp.StatusCode == http.StatusUnauthorized
		}) {
			t.Fatal("B still accepts a token revoked on A")
		}
	})

	t.Run("RegistrationsSplitAcrossBothNoDuplicateID", func(t *testing.T) {
		const n = 200
		ids := make([]string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				in := []*instance{a, b}[i%2]
				// Each from its own client address (the per-address quota
				// of never-used clients is per instance, see the README).
				req, _ := http.NewRequest(http.MethodPost, public+"/register", strings.NewReader(
					`{"client_name":"many","redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				resp, err := in.g.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var c struct {
					ClientID string `json:"client_id"`
				}
				json.NewDecoder(resp.Body).Decode(&c)
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("registration %d on %s: %d", i, in.name, resp.StatusCode)
				}
				ids[i] = c.ClientID
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, id := range ids {
			if id == "" || seen[id] {
				t.Fatalf("registration %d: client id %q missing or issued twice", i, id)
			}
			seen[id] = true
			// The other instance knows the client: its authorization
			// request reaches the login page, not "unknown client".
			other := []*instance{b, a}[i%2]
			q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:9/cb"},
				"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
			resp, err := other.g.client.Get(public + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("client %s registered on one instance: %d on %s", id, resp.StatusCode, other.name)
			}
		}
	})

	t.Run("DatabaseRestartBothRecover", func(t *testing.T) {
		// A real restart of the database server while both instances run.
		pg.Stop()
		// While it is down, a refresh fails as the server's error, never
		// as invalid_grant, which would send the user back to the login
		// page for an outage.
		if ans, err := refreshAt(a.g, gr.refreshToken, gr.clientID); err == nil && ans.status < 500 {
			t.Errorf("a refresh while the database is down: %+v", ans)
		}
		pg.Start()
		for _, in := range []*instance{a, b} {
			var last tokenAnswer
			if !eventually(30*time.Second, func() bool {
				ans, err := refreshAt(in.g, gr.refreshToken, gr.clientID)
				if err == nil && ans.status == http.StatusOK {
					gr.accessToken, gr.refreshToken = ans.AccessToken, ans.RefreshToken
					return true
				}
				last = ans
				return false
			}) {
				t.Fatalf("%s never recovered from the database restart: %+v", in.name, last)
			}
		}
	})

	t.Run("KillAMidExchangeClientContinuesOnB", func(t *testing.T) {
		// A chain of refreshes through the balancer while A is killed
		// (SIGKILL) as the fourth is sent: a step whose answer is lost is
		// retried with the same token, which the grace window accepts
		// even when A had completed it, and the chain goes on on B.
		token := gr.refreshToken
		var access string
		for step := range 10 {
			if step == 3 {
				go a.cmd.Process.Signal(syscall.SIGKILL)
			}
			var ans tokenAnswer
			var err error
			for try := 0; try < 3; try++ {
				if ans, err = refreshAt(lb, token, gr.clientID); err == nil && ans.status == http.StatusOK {
					break
				}
			}
			if err != nil || ans.status != http.StatusOK {
				t.Fatalf("refresh step %d: %+v %v", step, ans, err)
			}
			token, access = ans.RefreshToken, ans.AccessToken
		}
		resp, body := post(t, lb, "/mcp", access, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "search_nodes") {
			t.Fatalf("tools/list after A died: %d %s", resp.StatusCode, body)
		}
	})
}
