package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStorage compares the operations that write to storage on the
// file storage and on PostgreSQL, with one instance or two sharing the
// storage (requests alternate between them), under 8 concurrent clients
// per CPU each with its own codes and grants: what a cluster's token
// endpoint sustains. It needs MCPGATE_POSTGRES_DSN for the postgres rows.
func BenchmarkStorage(b *testing.B) {
	for _, st := range []struct {
		name    string
		storage clusterStorage
	}{{"file", fileCluster}, {"postgres", postgresCluster}} {
		for _, n := range []int{1, 2} {
			instances := func(b *testing.B) ([]*Server, registered) {
				sa, sb := st.storage(b)
				servers := []*Server{benchServerOn(b, sa), benchServerOn(b, sb)}[:n]
				public, _ := benchClients(b, servers[0])
				return servers, public
			}
			name := st.name + "/instances=" + strconv.Itoa(n)
			b.Run(name+"/CodeExchange", func(b *testing.B) { benchCodeExchange(b, instances) })
			b.Run(name+"/Refresh", func(b *testing.B) { benchRefresh(b, instances) })
		}
	}
}

// benchCodeExchange: POST /token authorization_code, each code once.
func benchCodeExchange(b *testing.B, instances func(*testing.B) ([]*Server, registered)) {
	servers, pub := instances(b)
	verifier, challenge := pkce()
	bodies := make([]string, b.N)
	for i := range bodies {
		code := randomToken()
		servers[0].store.put(context.Background(), servers[0].codeKey(code), codeRecord{
			ClientID: pub.id, RedirectURI: pub.redirect, Challenge: challenge, Resource: "http://gw.example/mcp", Issuer: "http://gw.example",
			Scopes: []string{"mcp"}, Subject: "alice", Login: loginPassword, Credential: servers[0].credentialOf("alice", loginPassword),
			GrantID: randomID(), ExpiresAt: time.Now().Add(time.Hour),
		})
		bodies[i] = codeForm(pub, code, verifier).Encode()
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if rec := serve(servers[int(i)%len(servers)], http.MethodPost, "/token", formType, bodies[i], nil); rec.Code != http.StatusOK {
				b.Error(rec.Code, rec.Body.String())
				return
			}
		}
	})
}

// benchRefresh: POST /token refresh_token, each client rotating its own
// family, alternating instances.
func benchRefresh(b *testing.B, instances func(*testing.B) ([]*Server, registered)) {
	servers, pub := instances(b)
	var client atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := grant{ID: randomID(), ClientID: pub.id, Subject: "alice", Resource: "http://gw.example/mcp", Issuer: "http://gw.example",
			Scopes: []string{"mcp"}, Login: loginPassword, Credential: servers[0].credentialOf("alice", loginPassword), ExpiresAt: time.Now().Add(time.Hour)}
		refresh := g.newRefreshToken()
		servers[0].store.put(context.Background(), servers[0].grantKey(g.ID), g)
		for i := client.Add(1); pb.Next(); i++ {
			rec := serve(servers[int(i)%len(servers)], http.MethodPost, "/token", formType,
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {pub.id}}.Encode(), nil)
			var m map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
				b.Error(rec.Code, rec.Body.String())
				return
			}
			refresh = m["refresh_token"].(string)
		}
	})
}
