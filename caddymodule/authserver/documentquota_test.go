package authserver

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNewDocumentsAreLimitedPerAddressAndInAll(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	d := newDocEnv(t, func(c *Config) { c.ClientIP = addr.clientIP })
	d.srv.newDocuments = newStrangerQuota(quotaLimits{perAddr: 2, window: newDocumentWindow, all: 4, allWindow: newDocumentWindow})
	clients := map[string]registered{}
	for _, p := range []string{"/a1.json", "/a2.json", "/a3.json", "/b1.json", "/c1.json", "/d1.json"} {
		clients[p] = d.publish(p, nil)
	}
	open := func(path string) (int, string) {
		t.Helper()
		status, page, _ := d.authorizePage(clients[path])
		return status, page
	}
	stored := func(path string) bool {
		_, found, err := d.srv.storedDocument(context.Background(), d.url(path))
		return found && err == nil
	}

	// A document that cannot be used stores nothing and does not count.
	if status, _, _ := d.authorizePage(registered{id: d.url("/missing.json"), redirect: "http://localhost/callback"}); status != http.StatusBadRequest {
		t.Fatalf("missing document: %d", status)
	}
	for _, p := range []string{"/a1.json", "/a2.json"} {
		if status, page := open(p); status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p, status, page)
		}
	}
	status, page := open("/a3.json")
	if status != http.StatusBadRequest || !strings.Contains(page, "from your address") || d.host.Hits("/a3.json") != 0 || stored("/a3.json") {
		t.Fatalf("third new document from one address: %d, fetched %d times:\n%s", status, d.host.Hits("/a3.json"), page)
	}
	// Stored documents are not new: the address goes on using them.
	if status, page := open("/a1.json"); status != http.StatusOK {
		t.Fatalf("a stored document from the throttled address: %d\n%s", status, page)
	}

	// Many addresses (of networks and regions of their own): the cap in all.
	addr.Store("2001:db9:1::1")
	if status, page := open("/b1.json"); status != http.StatusOK {
		t.Fatalf("another address: %d\n%s", status, page)
	}
	addr.Store("2001:dba:2::1")
	if status, page := open("/c1.json"); status != http.StatusOK {
		t.Fatalf("a third network: %d\n%s", status, page)
	}
	addr.Store("2001:dbb:3::1")
	status, page = open("/d1.json")
	if status != http.StatusBadRequest || !strings.Contains(page, "this server stored too many") || d.host.Hits("/d1.json") != 0 || stored("/d1.json") {
		t.Fatalf("new document beyond the cap in all: %d, fetched %d times:\n%s", status, d.host.Hits("/d1.json"), page)
	}

	d.clock.Advance(newDocumentWindow)
	if status, page := open("/d1.json"); status != http.StatusOK {
		t.Fatalf("after the window: %d\n%s", status, page)
	}
}

func TestDocumentAddressBudgetCountsIPv6Per64(t *testing.T) {
	budget := func(ip string) string { return addressBudget(fetchNew, netip.MustParseAddr(ip)) }
	if budget("2001:db8::1") != budget("2001:db8::ffff:1") {
		t.Errorf("two addresses of one /64 have budgets of their own: a host with a /64 gets 2^64 budgets")
	}
	if budget("2001:db8::1") == budget("2001:db8:0:1::1") {
		t.Errorf("two /64s share a budget")
	}
	if budget("192.0.2.1") == budget("192.0.2.2") || budget("::ffff:192.0.2.1") != budget("192.0.2.1") {
		t.Errorf("IPv4 addresses must count one by one, mapped or not")
	}
}

// A document no client has used is kept an hour, and storing it again
// counts like a new one: naming it again must not keep junk stored past
// the quota.
func TestAnUnusedDocumentStoredAgainCountsAsNew(t *testing.T) {
	d := newDocEnv(t, nil)
	d.srv.newDocuments = newStrangerQuota(quotaLimits{perAddr: 1, window: 3 * time.Hour, allWindow: time.Hour})
	c := d.publish("/junk.json", map[string]any{}, "Cache-Control", "max-age=86400")
	if status, page, _ := d.authorizePage(c); status != http.StatusOK {
		t.Fatalf("first: %d\n%s", status, page)
	}
	d.clock.Advance(unusedDocumentLifetime + time.Second)
	status, page, _ := d.authorizePage(c)
	if status != http.StatusBadRequest || !strings.Contains(page, "from your address") || d.host.Hits("/junk.json") != 1 {
		t.Fatalf("the unused document stored again past the quota: %d, fetched %d times\n%s", status, d.host.Hits("/junk.json"), page)
	}
}
