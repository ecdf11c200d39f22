package authserver

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/publicsuffix"
)

// Documents of URLs without a stored copy (fetchNew) are stored whoever
// named them, and the host limits count per host name and per address of
// the documents, which a stranger has as many of as they like; clients in
// use are stored, so they are not new. So a strangerQuota counts them per
// hour (newDocumentWindow):
//
//   - newDocumentsPerAddress per address that named them (a network gets
//     addressesPerNetwork times as many), and newDocumentsPerDomain per
//     registrable domain of their host (documentSource): a domain with
//     wildcard DNS has a host name per document, and counts once;
//   - maxNewDocuments from everyone together, shared fairly (see
//     strangerQuota): past half of it, an address's network or a domain
//     with 5 new documents in its hour is refused, so the first new
//     document of a real client, at a domain of its own, is not refused
//     because of one allocation's junk. Filling it takes a botnet and
//     dozens of domains.
//
// A document no client has used yet is kept for at most
// unusedDocumentLifetime (see refreshDocument), so storage holds at most
// about maxNewDocuments such documents (with those the sweep has not
// removed yet), at most ClientMetadataDocuments.MaxSize each: 2.5 MiB by
// default.
const (
	newDocumentsPerAddress = 30
	newDocumentsPerDomain  = 30
	maxNewDocuments        = 500
	newDocumentWindow      = time.Hour
	unusedDocumentLifetime = newDocumentWindow
)

func newDocumentQuota() *strangerQuota {
	return newStrangerQuota(quotaLimits{
		perAddr: newDocumentsPerAddress, perSource: newDocumentsPerDomain, window: newDocumentWindow,
		all: maxNewDocuments, allWindow: newDocumentWindow,
	})
}

// documentSource is what new documents at u count against besides the
// address that named them: the registrable domain of u's host (public
// suffix list, its private part too: each github.io site is someone
// else's), or the network of an address (networkOf), or the host itself
// when it is a public suffix.
func documentSource(u *url.URL) string {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		return "address " + networkOf(addressKey(ip))
	}
	if domain, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return "domain " + domain
	}
	return "domain " + host
}

// reserveNewDocument counts a document without a stored copy against the
// address that named it and its domain, or refuses to fetch it; release
// gives it back when nothing was stored. Loads outside a request (the
// operator's) are not counted.
func (s *Server) reserveNewDocument(ctx context.Context, u *url.URL, id string) (release func(), refused *documentError) {
	addr, ok := requesterOf(ctx)
	if !ok {
		return func() {}, nil
	}
	now, source := s.cfg.Now(), documentSource(u)
	reason := ""
	switch by, _ := s.newDocuments.reserve(now, addr, source); by {
	case quotaGranted:
		return func() { s.newDocuments.refund(s.cfg.Now(), now, addr, source) }, nil
	case quotaAddress:
		reason = "too many client metadata documents this server had not seen before were named from your address in the last hour; try again later"
	case quotaNetwork:
		reason = "too many client metadata documents this server had not seen before were named from your network in the last hour; try again later"
	case quotaSource:
		s.log.Warn("client metadata documents of new URLs refused for a domain", zap.String("url", id), zap.String("source", source))
		reason = "this server fetched too many client metadata documents it had not seen before from " + displayHost(u.Hostname()) + "'s domain in the last hour; try again later"
	case quotaAll:
		s.log.Error("client metadata documents of new URLs refused: this instance stored its hourly maximum, or half of it and this network or domain its share",
			zap.String("url", id), zap.String("source", source))
		reason = "this server stored too many client metadata documents it had not seen before in the last hour; try again later"
	}
	return nil, &documentError{url: id, host: displayHost(u.Hostname()), reason: reason, transient: true, ours: true}
}
