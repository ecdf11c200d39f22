package caddymodule

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The client_metadata_documents settings reach the authorization server,
// the stale grace included (the golden adapt test stops at the JSON).
func TestClientMetadataDocumentSettingsReachTheAuthorizationServer(t *testing.T) {
	g := new(Gateway)
	g.Auth.ClientMetadataDocuments = ClientMetadataDocuments{
		AllowHosts: []string{"claude.ai"}, DenyHosts: []string{"evil.example"}, MaxSize: 8192,
		Timeout: caddy.Duration(3 * time.Second), MaxCache: caddy.Duration(12 * time.Hour), StaleGrace: caddy.Duration(6 * time.Hour),
	}
	cfg, err := g.authserverConfig(caddy.NewReplacer(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.ClientMetadataDocuments
	if got.StaleGrace != 6*time.Hour || got.MaxCache != 12*time.Hour || got.Timeout != 3*time.Second || got.MaxSize != 8192 ||
		len(got.AllowHosts) != 1 || len(got.DenyHosts) != 1 {
		t.Errorf("authorization server settings %+v", got)
	}
}
