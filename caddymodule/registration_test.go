package caddymodule_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

// clientFrom returns an HTTP client whose connections come from the given
// loopback address, so the gateway sees distinct remote addresses.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func TestRegistrationBurstIsLimitedPerAddress(t *testing.T) {
	g := startGateway(t, gatewayOptions{gateway: "registration open {\n rate_limit 3 1m\n}"})
	body := `{"client_name":"burst","redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`
	register := func(c *http.Client) int {
		resp, err := c.Post(g.base+"/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	noisy, quiet := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	var statuses []int
	for range 5 {
		statuses = append(statuses, register(noisy))
	}
	want := []int{201, 201, 201, 429, 429}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("burst from one address: statuses %v, want %v", statuses, want)
		}
	}
	if got := register(quiet); got != http.StatusCreated {
		t.Fatalf("another address during the burst: %d, want 201", got)
	}
}
