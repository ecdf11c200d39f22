package authserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Fetch limits of client metadata documents that are not configurable.
const (
	// hostFetchLimit is how many documents (and JWK sets) of one
	// fetchClass are fetched from one host name, and how many connections
	// are made to one address, per hostFetchWindow: a client_id names any
	// URL, so without it this server could be made to hammer someone
	// else's site, under one name or under many names pointing at it. With
	// three classes a site gets at most three times this many.
	hostFetchLimit  = 20
	hostFetchWindow = time.Minute
	// failureCache is how long a failed fetch is answered from memory, so
	// a flood of requests naming an unreachable document costs one fetch.
	// A fetch this server held back itself is not remembered (see
	// documentError.ours).
	failureCache = time.Minute
	// minDocumentCache and defaultDocumentCache bound a document's own
	// cache lifetime from below and fill it in when it states none.
	minDocumentCache     = time.Minute
	defaultDocumentCache = time.Hour
	// maxRememberedFailures bounds the negative cache and the hosts logged.
	maxRememberedFailures = 10_000
	// loadStorageBudget is how long the storage reads and writes of one
	// load of a document or key set (see flightGroup.limit) may take
	// together, on top of the fetch's Timeout.
	loadStorageBudget = 10 * time.Second
)

// documentError is a client metadata document that could not be used: the
// page and the token endpoint say what was wrong.
type documentError struct {
	url    string
	host   string
	reason string
	// unreachable marks a network failure (no route, DNS, TLS, timeout),
	// as opposed to a document that was fetched and found wrong.
	unreachable bool
	// transient marks a fetch that learned nothing about the document: it
	// was unreachable, the host failed (5xx, 429, 408), or this server's
	// own per-host limit held the fetch back. Only then may the last good
	// copy stand in (see StaleGrace), and a key set not even then when
	// the limit was ours (see clientKeys); a 404, a redirect or a wrong
	// document is the owner's word and ends the client.
	transient bool
	// ours marks a fetch this server's own per-host or per-address limit
	// held back: it says nothing about the URL, so it is not remembered.
	// Remembered, a refusal in the budget of URLs anyone can name would
	// be handed for a minute to the fetch of a signed-in client's key set
	// at the same URL, whose budget has room.
	ours bool
}

// fetchFailure is what a failed fetch says about the document.
type fetchFailure int

const (
	// documentWrong: the host answered, and the answer is no usable
	// document (404, 410 or another 4xx, a redirect, not JSON, too large),
	// or the name now leads to an address no document may come from.
	documentWrong fetchFailure = iota
	// hostBusy: the host failed (5xx, 429, 408).
	hostBusy
	// hostUnreachable: no answer (DNS, connection, TLS, timeout).
	hostUnreachable
	// limitReached: the per-host or per-address limit held the fetch
	// back; nothing was asked.
	limitReached
)

func (e *documentError) Error() string {
	return "client metadata document " + e.url + ": " + e.reason
}

// pageMessage is what the error page says: for an unreachable host, what the
// operator can do about a gateway without direct internet access.
func (e *documentError) pageMessage() string {
	msg := "This application identifies itself by the client metadata document " + e.url + ", which cannot be used: " + e.reason + "."
	if e.unreachable {
		msg += " If this gateway has no direct internet access, it cannot reach " + e.host +
			"; the operator can set `client_metadata_documents off` in the Caddyfile so that applications register instead."
	}
	return msg
}

// fetchClass is the budget of the per-host and per-address limits a fetch
// is counted in. Anyone can name any number of URLs on a big client host
// (claude.ai/junk1, junk2, ...), and names of their own pointing at its
// address; if those shared one budget with the host's real documents, a
// stranger naming 20 junk URLs a minute would keep the gateway from ever
// refreshing the real client's document there.
type fetchClass string

const (
	// fetchNew is a URL without a stored document: what a stranger can
	// name at will.
	fetchNew fetchClass = "new"
	// fetchKnown is a stored document fetched again, whose host once
	// served a valid document for exactly that URL, and the key set of a
	// stored client nobody has signed in with (see keySetFetchClass).
	fetchKnown fetchClass = "known"
	// fetchInUse is a stored document whose client has obtained a token,
	// and that client's key set, which takes a user who signed in and
	// consented: a stranger with no account cannot spend this budget even
	// on a host that lets anyone publish documents (a code hosting site).
	fetchInUse fetchClass = "in use"
)

// fetchClassKey carries a fetch's class to the dialer, which counts the
// connection against the address's budget of that class.
type fetchClassKey struct{}

func fetchClassOf(ctx context.Context) fetchClass {
	if class, ok := ctx.Value(fetchClassKey{}).(fetchClass); ok {
		return class
	}
	return fetchNew
}

// hostBudget and addressBudget are the rate limiter's keys of a host name
// and of an address in class's budget.
func hostBudget(class fetchClass, host string) string {
	// client.example. is client.example: the spelling with the root's
	// dot must not be a second budget for the same host.
	return string(class) + " host " + strings.TrimSuffix(strings.ToLower(host), ".")
}

func addressBudget(class fetchClass, ip netip.Addr) string {
	// Whoever holds one IPv6 address of a /64 typically holds all of
	// them: one budget, or a host of one's own gets 2^64.
	return string(class) + " address " + addressKey(ip)
}

// documentFetcher fetches client metadata documents and JWK sets behind
// the SSRF guard: https only, the checked address dialed, no redirects, a
// size cap, a total timeout, JSON only, a per-host rate limit per
// fetchClass and a negative cache.
type documentFetcher struct {
	cfg    ClientMetadataDocuments
	client *http.Client
	now    func() time.Time
	log    *zap.Logger
	hosts  *rateLimiter

	mu       sync.Mutex
	failures map[string]failedFetch // by URL
	logged   map[string]bool        // hosts whose unreachability was logged
	stale    map[string]bool        // URLs whose stale copy in use was logged
	// withdrawn are URLs whose stored copy (fetched at) was withdrawn but
	// could not be deleted (see withdrawDocument).
	withdrawn map[string]time.Time
}

type failedFetch struct {
	err   *documentError
	until time.Time
}

// newDocumentFetcher builds the fetcher. The root certificates are the
// system's, read here (so SSL_CERT_FILE and SSL_CERT_DIR apply, set before
// the first use in the process).
func newDocumentFetcher(cfg ClientMetadataDocuments, now func() time.Time, log *zap.Logger) (*documentFetcher, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		return nil, fmt.Errorf("client metadata documents: loading the system's root certificates: %w", err)
	}
	hosts := newRateLimiter(hostFetchLimit, hostFetchWindow)
	dialer := newGuardedDialer(cfg.Resolve, cfg.AllowPrivateAddresses, func(ctx context.Context, ip netip.Addr) bool {
		return hosts.allow(addressBudget(fetchClassOf(ctx), ip), now())
	})
	transport := &http.Transport{
		// No Proxy: HTTPS_PROXY would carry the request past the guard,
		// and the proxy would then connect wherever the name points.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		DisableCompression:     true, // the size cap counts the bytes received
	}
	return &documentFetcher{
		cfg: cfg, now: now, log: log,
		client: &http.Client{
			Transport: transport,
			// A redirect could lead anywhere, an internal host included,
			// and would make the document's URL differ from its client_id.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		hosts:     hosts,
		failures:  map[string]failedFetch{},
		logged:    map[string]bool{},
		stale:     map[string]bool{},
		withdrawn: map[string]time.Time{},
	}, nil
}

// fetch GETs the JSON document at u (already checked by checkDocumentURL),
// counted in class's budget, and returns it with the time until which it
// may be cached.
func (f *documentFetcher) fetch(ctx context.Context, u *url.URL, class fetchClass) ([]byte, time.Time, *documentError) {
	raw := u.String()
	now := f.now()
	f.mu.Lock()
	failed, ok := f.failures[raw]
	f.mu.Unlock()
	if ok && now.Before(failed.until) {
		return nil, time.Time{}, failed.err
	}
	body, until, derr := f.get(context.WithValue(ctx, fetchClassKey{}, class), u, now)
	if derr != nil {
		// A fetch cut short because the caller's own time ran out (its
		// storage took the rest) says nothing about the URL either.
		if !derr.ours && ctx.Err() == nil {
			f.remember(raw, derr, now)
		}
		return nil, time.Time{}, derr
	}
	return body, until, nil
}

func (f *documentFetcher) get(ctx context.Context, u *url.URL, now time.Time) ([]byte, time.Time, *documentError) {
	host := displayHost(u.Hostname())
	fail := func(kind fetchFailure, format string, args ...any) ([]byte, time.Time, *documentError) {
		return nil, time.Time{}, &documentError{url: u.String(), host: host, reason: fmt.Sprintf(format, args...),
			unreachable: kind == hostUnreachable, transient: kind != documentWrong, ours: kind == limitReached}
	}
	if !f.hosts.allow(hostBudget(fetchClassOf(ctx), u.Hostname()), now) {
		return fail(limitReached, "too many documents were fetched from %s in the last minute; try again shortly", host)
	}
	// One deadline for everything: resolving, connecting, the handshake,
	// the headers and the body, so a host that trickles bytes cannot hold
	// a request (and a goroutine) open.
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(documentWrong, "%v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, errTooManyConnections) {
			return fail(limitReached, "too many documents were fetched from the address of %s in the last minute; try again shortly", host)
		}
		if errors.Is(err, errForbiddenAddress) {
			// The name now leads somewhere no document may come from:
			// nothing about it is to be trusted, the old copy included.
			return fail(documentWrong, "%s is not a public address, and documents are fetched only from public addresses (%v)", host, unwrapURLError(err))
		}
		return fail(hostUnreachable, "%s could not be reached (%v)", host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fail(documentWrong, "%s answered with a redirect (%d), and redirects are not followed: the client_id must be the document's own URL", host, resp.StatusCode)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return fail(hostBusy, "%s answered HTTP %d", host, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fail(documentWrong, "%s answered HTTP %d", host, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || !jsonMediaType(mt) {
		return fail(documentWrong, "it is not JSON (Content-Type %q)", resp.Header.Get("Content-Type"))
	}
	// Content-Length is not trusted: the cap counts what arrives.
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxSize+1))
	switch {
	case err != nil:
		return fail(hostUnreachable, "reading it from %s failed (%v)", host, unwrapURLError(err))
	case int64(len(body)) > f.cfg.MaxSize:
		return fail(documentWrong, "it is larger than %d bytes", f.cfg.MaxSize)
	}
	return body, now.Add(cacheLifetime(resp.Header, now, f.cfg.MaxCache)), nil
}

// remember keeps a failure for failureCache, and logs an unreachable host
// once: the operator of a gateway without internet access learns what to
// change without a line per sign-in.
func (f *documentFetcher) remember(raw string, derr *documentError, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failures) >= maxRememberedFailures {
		for k, v := range f.failures {
			if !now.Before(v.until) {
				delete(f.failures, k)
			}
		}
		if len(f.failures) >= maxRememberedFailures {
			clear(f.failures)
		}
	}
	f.failures[raw] = failedFetch{err: derr, until: now.Add(failureCache)}
	if derr.unreachable && !f.logged[derr.host] && len(f.logged) < maxRememberedFailures {
		f.logged[derr.host] = true
		f.log.Warn("cannot reach the host of a client metadata document; without direct internet access, `client_metadata_documents off` makes clients register instead",
			zap.String("host", derr.host), zap.String("url", raw), zap.String("reason", derr.reason))
	}
}

// forget drops the remembered failure of a document, and its logged stale
// use (the operator asked for a fresh fetch).
func (f *documentFetcher) forget(raw string) {
	f.mu.Lock()
	delete(f.failures, raw)
	delete(f.stale, raw)
	f.mu.Unlock()
}

// jsonMediaType accepts application/json and application/<something>+json.
func jsonMediaType(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// cacheLifetime reads Cache-Control max-age (or no-store, no-cache) and
// Expires, bounded to [minDocumentCache, maxCache]: a document that asks
// not to be cached is still kept a minute, so one sign-in fetches it once,
// and none is trusted longer than the operator allows.
func cacheLifetime(h http.Header, now time.Time, maxCache time.Duration) time.Duration {
	d, stated := defaultDocumentCache, false
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			d, stated = 0, true
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && !stated {
				d, stated = time.Duration(min(max(secs, 0), int64(maxCache/time.Second)+1))*time.Second, true
			}
		}
	}
	if !stated {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			d = exp.Sub(now)
		}
	}
	return min(max(d, minDocumentCache), maxCache)
}

// unwrapURLError drops the "Get \"https://...\":" prefix the URL is
// already named by.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
