package authserver

import (
	"context"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// refreshDocument fetches the document of id anew, stores it and returns
// its record; it runs once for all the requests that want it at once (see
// loadDocumentClient). When the fetch learns nothing about the document
// (transient), the stored copy stands in for StaleGrace past its expiry.
func (s *Server) refreshDocument(ctx context.Context, u *url.URL, id string) (documentRecord, error) {
	// A request that read the store just before the previous refresh
	// stored its result must not fetch a second time.
	rec, found, err := s.storedDocument(ctx, id)
	if err != nil {
		return documentRecord{}, err
	}
	now := s.cfg.Now()
	if found && now.Before(rec.ExpiresAt) {
		return rec, nil
	}
	body, until, derr := s.documents.fetch(ctx, u, documentFetchClass(found, rec))
	if derr == nil {
		if _, derr = s.parseDocument(u, id, body); derr != nil {
			s.documents.remember(id, derr, now)
		}
	}
	if derr != nil {
		// A negative grace ends before the expiry: never.
		if found && derr.transient && now.Before(rec.ExpiresAt.Add(s.cfg.ClientMetadataDocuments.StaleGrace)) {
			s.documents.standIn(id, derr, rec.ExpiresAt)
			return rec, nil
		}
		if found && !derr.transient {
			// The owner withdrew or changed the document: its old copy
			// must not come back later, when the host is down or busy
			// (or made busy by someone who wants the old redirect URIs
			// back).
			s.documents.forgetStale(id)
			if err := s.store.remove(ctx, s.documentKey(id)); err != nil {
				s.log.Error("deleting a withdrawn client metadata document", zap.String("url", id), zap.Error(err))
			}
		}
		return documentRecord{}, derr
	}
	s.documents.forgetStale(id)
	rec = documentRecord{ClientID: id, Document: body, FetchedAt: now, ExpiresAt: until, LastUsed: rec.LastUsed}
	if err := s.store.put(ctx, s.documentKey(id), rec); err != nil {
		return documentRecord{}, err
	}
	return rec, nil
}

// documentFetchClass is the budget a document's fetch is counted in: a
// stored document's refresh never waits behind URLs anyone can name.
func documentFetchClass(found bool, rec documentRecord) fetchClass {
	switch {
	case !found:
		return fetchNew
	case rec.LastUsed.IsZero():
		return fetchKnown
	}
	return fetchInUse
}

// standIn logs, once per URL until it is fetched again, that a document's
// stored copy stands in for it: the operator learns of the outage, and of
// the clients that will be refused when the grace ends, without a line
// per sign-in.
func (f *documentFetcher) standIn(raw string, derr *documentError, expired time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale[raw] || len(f.stale) >= maxRememberedFailures {
		return
	}
	f.stale[raw] = true
	f.log.Warn("using the stored copy of a client metadata document that could not be fetched again",
		zap.String("url", raw), zap.String("reason", derr.reason),
		zap.Time("expired", expired), zap.Time("refused_after", expired.Add(f.cfg.StaleGrace)))
}

// forgetStale notes that raw's stored copy no longer stands in (fetched
// again, or withdrawn), so its next outage is logged.
func (f *documentFetcher) forgetStale(raw string) {
	f.mu.Lock()
	delete(f.stale, raw)
	f.mu.Unlock()
}
