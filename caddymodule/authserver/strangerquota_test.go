package authserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNetworksAreIPv6Per48AndIPv4Per24(t *testing.T) {
	net := func(ip string) string { return networkOf(addressKey(netip.MustParseAddr(ip))) }
	for _, same := range [][2]string{
		{"2001:db8:0:1::1", "2001:db8:0:ff::1"},   // two /64s of one /56
		{"2001:db8:0:1::1", "2001:db8:0:ffff::1"}, // of one /48
		{"192.0.2.1", "192.0.2.254"},              // of one /24
		{"::ffff:192.0.2.1", "192.0.2.7"},         // mapped or not
		{"fe80::1%eth0", "fe80::2%eth1"},          // zones do not count
	} {
		if net(same[0]) != net(same[1]) {
			t.Errorf("%s and %s are in different networks (%s, %s)", same[0], same[1], net(same[0]), net(same[1]))
		}
	}
	for _, other := range [][2]string{{"2001:db8:0:1::1", "2001:db8:1:1::1"}, {"192.0.2.1", "192.0.3.1"}} {
		if net(other[0]) == net(other[1]) {
			t.Errorf("%s and %s share a network", other[0], other[1])
		}
	}
	if networkOf("not an address") != "not an address" {
		t.Errorf("a client address that does not parse must be its own network")
	}
}

// One IPv6 allocation, its /64s starting sign-ins one after the other
// (review 5: 67 /64s of one /56 filled max_pending_sign_ins and every
// sign-in got 503), is held to its network's limit with the defaults, and
// people elsewhere sign in.
func TestOneAllocationCannotLockOutOtherNetworksSignIns(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.10")
	u := corp()
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.ClientIP = addr.clientIP
	})
	q := func() string {
		_, challenge := pkce()
		return authParams(e.publicClient(), challenge).Encode()
	}()
	started := 0
	var refused *http.Response
	var page string
attack:
	for n := range 256 { // every /64 of 2001:db8:0:0::/56
		addr.Store(fmt.Sprintf("2001:db8:0:%x::1", n))
		for range defaultSignInStarts {
			resp, p := e.startSignIn(u, q)
			if resp.StatusCode != http.StatusFound {
				refused, page = resp, p
				break attack
			}
			started++
		}
	}
	if want := addressesPerNetwork * defaultSignInStarts; started != want || refused == nil ||
		refused.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "from your network") || refused.Header.Get("Retry-After") != "600" {
		t.Fatalf("one /56 started %d sign-ins, want %d, then 429 for its network with Retry-After 600; got %v\n%s", started, want, refused, page)
	}
	if n := e.pendingSignIns(); n != started {
		t.Fatalf("%d sign-ins stored, want %d", n, started)
	}
	// Its /48 is the same network.
	addr.Store("2001:db8:0:ffff::1")
	if resp, _ := e.startSignIn(u, q); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another /56 of the same /48: %d, want 429", resp.StatusCode)
	}
	for i, victim := range []string{"203.0.113.7", "198.51.100.20", "2001:db8:1::1"} {
		e.clock.Advance(time.Duration(i) * 4 * time.Minute)
		addr.Store(victim)
		if resp, page := e.startSignIn(u, q); resp.StatusCode != http.StatusFound {
			t.Fatalf("a person at %s: %d\n%s", victim, resp.StatusCode, page)
		}
	}
}

// Past half of max_pending_sign_ins, a network that already has its
// share is refused, and one that has not still starts sign-ins, up to the
// cap itself.
func TestTheCapInAllIsSharedFairly(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.10")
	u := corp()
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.SignInStarts = 30 // 120 per network
		c.MaxPendingSignIns = 200
		c.ClientIP = addr.clientIP
	})
	share := fairShareOf(200)
	if share != 2 {
		t.Fatalf("fair share of 200: %d", share)
	}
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge).Encode()
	start := func(ip string) (*http.Response, string) {
		addr.Store(ip)
		return e.startSignIn(u, q)
	}
	// One network, its /64s in turn, up to half of the cap.
	for i := range 100 {
		if resp, page := start(fmt.Sprintf("2001:db8:0:%x::1", i/30)); resp.StatusCode != http.StatusFound {
			t.Fatalf("start %d: %d\n%s", i, resp.StatusCode, page)
		}
	}
	resp, page := start("2001:db8:0:ff::1")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "too many sign-ins in progress") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the network that filled half of the cap, past it: %d Retry-After %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	// A person elsewhere signs in; their network, with its share, waits.
	for range share {
		if resp, page := start("203.0.113.7"); resp.StatusCode != http.StatusFound {
			t.Fatalf("a person at another network: %d\n%s", resp.StatusCode, page)
		}
	}
	if resp, _ := start("203.0.113.8"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a network past its share while the cap is half used: %d, want 503", resp.StatusCode)
	}
	// A botnet of fresh networks fills the rest, and then the cap refuses
	// everyone: it is the bound on storage.
	for i := 1; e.srv.signIns.all.count(allAddresses, e.clock.Now()) < 200; i++ {
		if resp, page := start(fmt.Sprintf("2001:%x::1", 0x1000+i)); resp.StatusCode != http.StatusFound {
			t.Fatalf("botnet network %d: %d\n%s", i, resp.StatusCode, page)
		}
	}
	if resp, _ := start("198.51.100.1"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a fresh network at the cap: %d, want 503", resp.StatusCode)
	}
	if n := e.pendingSignIns(); n != 200 {
		t.Fatalf("%d sign-ins stored, want the cap of 200", n)
	}
}

// The same for sources: past half of the cap in all, a domain with its
// share is refused even from a fresh network, another domain is not.
func TestTheCapInAllIsSharedFairlyBetweenSources(t *testing.T) {
	q := newStrangerQuota(quotaLimits{perAddr: 30, perSource: 30, window: time.Hour, all: 200, allWindow: time.Hour})
	now := e0
	n := 0
	reserve := func(source string) quotaRefusal {
		n++ // a network and region of its own each time
		by, _ := q.reserve(now, addressKey(netip.MustParseAddr(fmt.Sprintf("2001:%x::1", 0x1000+n))), source)
		return by
	}
	for i := range 100 {
		if by := reserve(fmt.Sprintf("domain d%d.example", i/25)); by != quotaGranted {
			t.Fatalf("%d: refused by %d", i, by)
		}
	}
	if by := reserve("domain d0.example"); by != quotaAll {
		t.Fatalf("a domain past its share, past half of the cap: %d, want quotaAll", by)
	}
	if by := reserve("domain claude.example"); by != quotaGranted {
		t.Fatalf("another domain's first document: %d", by)
	}
}

// A sign-in completed by a person the policy refuses stays counted
// (review 5: completing one takes only an account at the provider, and
// each stored a provider session); one the policy admits is given back.
func TestCompletedSignInsAreGivenBackOnlyForPeopleThePolicyAdmits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		groups   []string
		admitted bool
	}{
		{"refused", []string{"corp:ops"}, false},
		{"admitted", []string{"corp:eng"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := corp() // ann@example.com, group eng
			e := policyEnv(t, u, func(c *Config) {
				c.SignInStarts = 1
				c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: tc.groups}}
			})
			_, challenge := pkce()
			q := authParams(e.publicClient(), challenge)
			want := http.StatusForbidden // refused at the callback
			if tc.admitted {
				want = http.StatusOK
			}
			if resp, page := e.browser().upstreamConsent(u, q); resp.StatusCode != want {
				t.Fatalf("the sign-in: %d, want %d\n%s", resp.StatusCode, want, page)
			}
			resp, page := e.startSignIn(u, q.Encode())
			switch {
			case tc.admitted && resp.StatusCode != http.StatusFound:
				t.Fatalf("a second sign-in after one the policy admits: %d\n%s", resp.StatusCode, page)
			case !tc.admitted && (resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "from your address")):
				t.Fatalf("a second sign-in after one the policy refuses: %d, want 429\n%s", resp.StatusCode, page)
			}
		})
	}
}

// publishAt serves a valid document at host (a name the document host's
// certificate holds) and path.
func (d *docEnv) publishAt(host, path string) registered {
	id := "https://" + host + ":" + d.host.Port() + path
	d.host.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Example Agent","redirect_uris":["http://localhost/callback"],"token_endpoint_auth_method":"none"}`,
			"https://"+r.Host+r.URL.Path)
	})
	return registered{id: id, redirect: "http://localhost:41234/callback"}
}

// nameNewDocuments names new documents in /authorize, the i-th published
// by publish(i) and named from the address from(i), until one is refused
// or the cap in all is reached, then checks that the domain's limit
// refused it (a 400 saying refusal) and that a new client at another
// domain, from another network, goes on.
func nameNewDocuments(t *testing.T, d *docEnv, addr *testAddr, refusal string, from func(i int) string, publish func(i int) registered) {
	t.Helper()
	stored, status, page := 0, 0, ""
	for stored < maxNewDocuments {
		addr.Store(from(stored))
		if stored%hostFetchLimit == 0 {
			d.clock.Advance(hostFetchWindow) // the document host's own limit
		}
		if status, page, _ = d.authorizePage(publish(stored)); status != http.StatusOK {
			break
		}
		stored++
	}
	if stored != newDocumentsPerDomain || status != http.StatusBadRequest || !strings.Contains(page, refusal) {
		t.Fatalf("stored %d new documents of one domain, want %d, then a 400 naming the domain; got %d\n%s", stored, newDocumentsPerDomain, status, page)
	}
	d.clock.Advance(hostFetchWindow)
	addr.Store("203.0.113.7")
	if status, page, _ := d.authorizePage(d.publishAt("other.example", "/oauth/claude-code-client-metadata")); status != http.StatusOK {
		t.Fatalf("a new client at another domain: %d\n%s", status, page)
	}
}

// One allocation naming new documents at one host (review 5: 17 /64s and
// one host filled the hourly cap in all, and the first Claude Code user
// of the server got a 400 page) is held to the host's domain, and a new
// client at another domain goes on.
func TestOneAllocationCannotBlockAnotherDomainsNewDocument(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	d := newDocEnv(t, func(c *Config) { c.ClientIP = addr.clientIP })
	nameNewDocuments(t, d, &addr, "client.example&#39;s domain",
		func(i int) string { return fmt.Sprintf("2001:db8:0:%x::1", i/newDocumentsPerAddress) },
		func(i int) registered { return d.publish(fmt.Sprintf("/junk/%d.json", i), nil) })
}

// A domain with wildcard DNS, named from a botnet (a network per
// document), counts once: its host names are not a limit each, and
// another domain's new document goes on.
func TestWildcardHostsOfOneDomainCountOnce(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	d := newDocEnv(t, func(c *Config) { c.ClientIP = addr.clientIP })
	nameNewDocuments(t, d, &addr, "s domain in the last hour",
		func(i int) string { return fmt.Sprintf("2001:db8:%x::1", i) },
		func(i int) registered {
			return d.publishAt(fmt.Sprintf("h%d.wild.example", i), fmt.Sprintf("/junk/%d.json", i))
		})
}

func TestDocumentSourceIsTheRegistrableDomain(t *testing.T) {
	src := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return documentSource(u)
	}
	for _, same := range [][2]string{
		{"https://a.wild.example/c.json", "https://b.c.wild.example./c.json"},
		{"https://x.attacker.co.uk/c.json", "https://ATTACKER.co.uk/c.json"},
		{"https://[2001:db8::1]/c.json", "https://[2001:db8:0:ff::1]/c.json"},
		{"https://192.0.2.1/c.json", "https://192.0.2.99/c.json"},
	} {
		if src(same[0]) != src(same[1]) {
			t.Errorf("%s and %s count apart (%s, %s)", same[0], same[1], src(same[0]), src(same[1]))
		}
	}
	for _, other := range [][2]string{
		{"https://a.example.co.uk/c.json", "https://b.co.uk/c.json"},
		{"https://alice.github.io/c.json", "https://bob.github.io/c.json"}, // each github.io site is someone's
	} {
		if src(other[0]) == src(other[1]) {
			t.Errorf("%s and %s count together (%s)", other[0], other[1], src(other[0]))
		}
	}
}

// /48s are cheap (tunnel brokers, a hosting customer's /40): one /40's 59
// networks once filled max_pending_sign_ins. Its region, the /32, has its
// fair share after the first half; a first sign-in elsewhere gets through.
func TestOneIPv6RegionCannotFillTheCapInAll(t *testing.T) {
	q := newSignInQuota(Config{SignInStarts: 30, SignInStartWindow: 10 * time.Minute, MaxPendingSignIns: 2000})
	now := e0
	base := netip.MustParseAddr("2001:db8::").As16()
	granted := 0
	for n := range 256 {
		for host := range 64 {
			b := base
			b[5], b[7] = byte(n), byte(host) // a /64 of a /48 of 2001:db8::/40
			for {
				if r, _ := q.reserve(now, addressKey(netip.AddrFrom16(b)), ""); r != quotaGranted {
					break
				}
				granted++
			}
		}
	}
	if granted >= 2000 {
		t.Fatalf("one /40 got %d sign-ins, the whole cap", granted)
	}
	if r, _ := q.reserve(now, "198.51.100.7", ""); r != quotaGranted {
		t.Errorf("after one /40 took %d, a first sign-in from elsewhere: %v, want granted", granted, r)
	}
	// A /48 of the same /32 that started nothing gets its first, and no
	// more: one each does not let a /40 fill the cap.
	fresh := addressKey(netip.MustParseAddr("2001:db8:ff00::1"))
	if r, _ := q.reserve(now, fresh, ""); r != quotaGranted {
		t.Errorf("a fresh /48 of the same /32, its first: %v, want granted", r)
	}
	if r, _ := q.reserve(now, fresh, ""); r != quotaAll {
		t.Errorf("a fresh /48 of the same /32, its second: %v, want the cap in all's refusal", r)
	}
}

// One foothold in a carrier's region (a prepaid SIM, a free tunnel: review
// 7) after half of the cap filled from elsewhere must not lock out the
// region's subscribers: a network that started nothing gets through.
func TestAFootholdInARegionDoesNotLockItsSubscribersOut(t *testing.T) {
	for _, tc := range []struct{ foothold, subscriber string }{
		{"2607:fb90:1111:2222::1", "2607:fb90:9999:1::1"},
		{"172.58.1.1", "172.58.200.9"},
	} {
		q := newSignInQuota(Config{SignInStarts: 30, SignInStartWindow: 10 * time.Minute, MaxPendingSignIns: 2000})
		now := e0
		// Half of the cap from a hosting allocation's /48s.
		for n := 0; q.all.count(allAddresses, now) < 1000; n++ {
			b := netip.MustParseAddr("2001:db8::").As16()
			b[5], b[7] = byte(n/4), byte(n%4)
			if r, _ := q.reserve(now, addressKey(netip.AddrFrom16(b)), ""); r != quotaGranted {
				t.Fatalf("filling the first half: %v at %d", r, q.all.count(allAddresses, now))
			}
		}
		foothold := addressKey(netip.MustParseAddr(tc.foothold))
		for q.perRegion.count(regionOf(foothold), now) < fairShareOf(2000) {
			if r, _ := q.reserve(now, foothold, ""); r != quotaGranted {
				t.Fatalf("the foothold: %v", r)
			}
		}
		if r, _ := q.reserve(now, addressKey(netip.MustParseAddr(tc.subscriber)), ""); r != quotaGranted {
			t.Errorf("a subscriber at %s of the foothold's region: %v, want granted", tc.subscriber, r)
		}
		if r, _ := q.reserve(now, foothold, ""); r != quotaAll {
			t.Errorf("the foothold's network past the region's share: %v, want the cap in all's refusal", r)
		}
	}
}

func TestRegionsAreIPv6Per32AndIPv4Per16(t *testing.T) {
	for addr, want := range map[string]string{
		addressKey(netip.MustParseAddr("2001:db8:1234:5678::1")): "2001:db8::/32",
		"198.51.100.7":   "198.51.0.0/16",
		"not-an-address": "not-an-address",
	} {
		if got := regionOf(addr); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", addr, got, want)
		}
	}
}
