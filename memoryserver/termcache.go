package memoryserver

import "sync"

// termCache remembers the ids of terms this process has looked up or added
// in committed write transactions, so that indexing a batch asks the
// database only about terms it has not met: two index lookups per term of
// every entity were most of the cost of a bulk write at 100k entities.
//
// An entry stays true forever because terms are never deleted or changed
// (another process adding terms only adds ids). Entries of a transaction
// are kept only once it commits: a rolled-back insert's id may go to
// another term later.
type termCache struct {
	mu  sync.Mutex
	ids map[string]int64
}

// maxCachedTerms bounds the cache (about 80 bytes an entry, 8 MB in all);
// once full it keeps what it has, which the terms met first, the common
// words, fill.
const maxCachedTerms = 100_000

func newTermCache() *termCache {
	return &termCache{ids: map[string]int64{}}
}

// lookup fills ids with the cached ids of terms and returns the terms not
// cached.
func (c *termCache) lookup(terms []string, ids map[string]int64) (missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range terms {
		if id, ok := c.ids[t]; ok {
			ids[t] = id
		} else {
			missing = append(missing, t)
		}
	}
	return missing
}

// add remembers the ids of a committed transaction.
func (c *termCache) add(ids map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, id := range ids {
		if len(c.ids) >= maxCachedTerms {
			return
		}
		c.ids[t] = id
	}
}
