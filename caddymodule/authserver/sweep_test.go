package authserver

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func countFiles(t *testing.T, e *env, ns string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.storage.Path, "mcpgate/authserver", ns))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

func TestSweepDeletesExpiredState(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.RefreshTokenLifetime = 2 * time.Hour
		c.ConsentLifetime = time.Hour
		c.KeyRotation = time.Hour
		c.Registration.ClientIdleLifetime = 3 * time.Hour
	})
	c := e.publicClient()
	tok := e.codeFlow(c)
	e.postForm("/revoke", url.Values{"token": {tok.access}, "client_id": {c.id}}, "", "")
	ctx := context.Background()
	if err := e.srv.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{nsClients, nsCodes, nsGrants, nsRevoked, nsConsent, nsKeys} {
		if countFiles(t, e, ns) == 0 {
			t.Fatalf("%s swept while live", ns)
		}
	}
	e.clock.Advance(4 * time.Hour)
	if _, err := e.srv.keys.signer(ctx, e.clock.Now()); err != nil { // the current key
		t.Fatal(err)
	}
	if err := e.srv.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{nsClients, nsCodes, nsGrants, nsRevoked, nsConsent} {
		if n := countFiles(t, e, ns); n != 0 {
			t.Errorf("%s: %d records left", ns, n)
		}
	}
	if n := countFiles(t, e, nsKeys); n != 1 {
		t.Errorf("keys: %d left, want the current one", n)
	}
}

func TestSweepFreesClientsThatNeverObtainedATokenAfterADay(t *testing.T) {
	e := newEnv(t, nil)
	used := e.publicClient()
	e.codeFlow(used)
	e.publicClient()
	e.publicClient()
	body := `{"redirect_uris":["https://a.example/cb"]}`
	e.clock.Advance(24*time.Hour + time.Second)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, e, nsClients); n != 1 {
		t.Fatalf("%d clients left, want only the one that obtained a token", n)
	}
	if resp, m := postJSON(e, body, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("registration after the sweep: %d %v", resp.StatusCode, m)
	}
	if status, m := e.refresh(used, e.codeFlow(used).refresh); status != http.StatusOK {
		t.Fatalf("the used client stopped working: %d %v", status, m)
	}
}
