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
	if s.documents.stillWithdrawn(id, found, rec) {
		// Its owner withdrew it and deleting it failed: it is no copy,
		// and deleting it is tried again.
		s.withdrawDocument(ctx, id, rec)
		rec, found = documentRecord{}, false
	}
	now := s.cfg.Now()
	if found && now.Before(rec.ExpiresAt) {
		return rec, nil
	}
	stored := false
	// A document no client has used is new each time it is stored:
	// kept for at most unusedDocumentLifetime, it would otherwise be
	// kept alive past the quota by naming it again.
	if !found || rec.LastUsed.IsZero() {
		release, derr := s.reserveNewDocument(ctx, u, id)
		if derr != nil {
			return documentRecord{}, derr
		}
		defer func() {
			if !stored {
				release()
			}
		}()
	}
	body, until, derr := s.documents.fetch(ctx, u, documentFetchClass(found, rec))
	if derr == nil {
		if _, derr = s.parseDocument(u, id, body); derr != nil {
			s.documents.remember(id, derr, now)
		}
	}
	if derr != nil {
		// A negative grace ends before the expiry: never. Not when our own
		// limit held the fetch back: anyone able to publish documents on
		// the host can spend a budget, and a redirect URI its owner
		// removed (because it was taken over) must not keep working so.
		if found && derr.transient && !derr.ours && now.Before(rec.ExpiresAt.Add(s.cfg.ClientMetadataDocuments.StaleGrace)) {
			s.documents.standIn("client metadata document", id, derr, rec.ExpiresAt)
			return rec, nil
		}
		if found && !derr.transient {
			s.withdrawDocument(ctx, id, rec)
		}
		return documentRecord{}, derr
	}
	s.documents.forgetStale(id)
	if limit := now.Add(unusedDocumentLifetime); rec.LastUsed.IsZero() && until.After(limit) {
		// Whoever named it may be a stranger storing junk: until a
		// client obtains a token with it, it is kept an hour at most.
		until = limit
	}
	rec = documentRecord{ClientID: id, Document: body, FetchedAt: now, ExpiresAt: until, LastUsed: rec.LastUsed}
	if err := s.store.put(ctx, s.documentKey(id), rec); err != nil {
		return documentRecord{}, err
	}
	stored = true
	s.documents.forgetWithdrawal(id)
	return rec, nil
}

// withdrawDocument deletes the stored copy rec of a document its owner
// withdrew or changed into one that cannot be used: the old copy must not
// come back later, when the host is down or busy (or made busy by someone
// who wants the old redirect URIs back). When deleting fails, the
// withdrawal is remembered until it succeeds, or the copy is replaced or
// gone, so the copy never stands in meanwhile.
func (s *Server) withdrawDocument(ctx context.Context, id string, rec documentRecord) {
	s.documents.forgetStale(id)
	if err := s.store.remove(ctx, s.documentKey(id)); err != nil {
		kept := s.documents.withdraw(id, rec.FetchedAt)
		s.log.Error("deleting a withdrawn client metadata document", zap.String("url", id), zap.Error(err),
			zap.Bool("remembered", kept))
		return
	}
	s.documents.forgetWithdrawal(id)
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

// standIn logs, once per URL until it is fetched again, that the stored
// copy of a document (or the last good JWK set, what names which) stands
// in for it: the operator learns of the outage, and of the clients that
// will be refused when the grace ends, without a line per sign-in.
func (f *documentFetcher) standIn(what, raw string, derr *documentError, expired time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale[raw] || len(f.stale) >= maxRememberedFailures {
		return
	}
	f.stale[raw] = true
	f.log.Warn("using the stored copy of a "+what+" that could not be fetched again",
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

// withdraw remembers that the copy of raw fetched at fetchedAt was
// withdrawn but is still stored, and reports whether it could: at
// maxRememberedFailures such copies (storage failing to delete all of
// them) a further one is not remembered, and the log says so.
func (f *documentFetcher) withdraw(raw string, fetchedAt time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.withdrawn[raw]; !ok && len(f.withdrawn) >= maxRememberedFailures {
		return false
	}
	f.withdrawn[raw] = fetchedAt
	return true
}

// stillWithdrawn reports whether rec, what storage holds for raw (found),
// is a copy withdrawn before; a remembered withdrawal of a copy that is
// gone or replaced is forgotten.
func (f *documentFetcher) stillWithdrawn(raw string, found bool, rec documentRecord) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fetchedAt, ok := f.withdrawn[raw]
	if ok && found && fetchedAt.Equal(rec.FetchedAt) {
		return true
	}
	delete(f.withdrawn, raw)
	return false
}

// forgetWithdrawal notes that the withdrawn copy of raw is deleted or
// replaced.
func (f *documentFetcher) forgetWithdrawal(raw string) {
	f.mu.Lock()
	delete(f.withdrawn, raw)
	f.mu.Unlock()
}
