// Package storagetest is the suite every storage behind the authorization
// server must pass (the file storage, PostgreSQL, or any certmagic.Storage
// an operator considers): values, directories, listing, locks that
// exclude across instances, and, when the storage offers them,
// transactions (authserver.Transactor).
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// Open returns a new handle on one shared store: every call is another
// instance (another process, as far as the store can tell) over the same
// data.
type Open func(t *testing.T) certmagic.Storage

// RunTests runs the suite. Every test works under a fresh random prefix,
// so the store need not be empty and is not cleaned.
func RunTests(t *testing.T, open Open) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Open, root string)
	}{
		{"StoreLoad", testStoreLoad},
		{"LoadMissing", testLoadMissing},
		{"Delete", testDelete},
		{"DeleteDirectory", testDeleteDirectory},
		{"StatAndExists", testStatAndExists},
		{"List", testList},
		{"ListMissing", testListMissing},
		{"SharedAcrossInstances", testShared},
		{"LockExcludesAcrossInstances", testLockExcludes},
		{"LockWaitEndsWithContext", testLockContext},
		{"LocksAreIndependent", testLocksIndependent},
	}
	// Transactions are optional: the file storage has none, and the
	// authorization server then uses the locks.
	if _, ok := open(t).(authserver.Transactor); ok {
		tests = append(tests, []struct {
			name string
			run  func(t *testing.T, open Open, root string)
		}{
			{"TransactCommits", testTransactCommits},
			{"TransactRollsBack", testTransactRollsBack},
			{"TransactExcludesAcrossInstances", testTransactExcludes},
		}...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 6)
			rand.Read(b)
			tc.run(t, open, "storagetest-"+hex.EncodeToString(b))
		})
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustStore(t *testing.T, s certmagic.Storage, key, value string) {
	t.Helper()
	if err := s.Store(ctxOf(t), key, []byte(value)); err != nil {
		t.Fatalf("Store(%s): %v", key, err)
	}
}

func mustLoad(t *testing.T, s certmagic.Storage, key string) string {
	t.Helper()
	b, err := s.Load(ctxOf(t), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return string(b)
}

func assertMissing(t *testing.T, s certmagic.Storage, key string) {
	t.Helper()
	if b, err := s.Load(ctxOf(t), key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%s) = %q, %v; want an error matching fs.ErrNotExist", key, b, err)
	}
}

func testStoreLoad(t *testing.T, open Open, root string) {
	s := open(t)
	key := root + "/a/value.json"
	mustStore(t, s, key, `{"v":1}`)
	if got := mustLoad(t, s, key); got != `{"v":1}` {
		t.Fatalf("Load = %q", got)
	}
	mustStore(t, s, key, `{"v":2}`) // overwrite
	if got := mustLoad(t, s, key); got != `{"v":2}` {
		t.Fatalf("after overwrite, Load = %q", got)
	}
	binary := []byte{0, 1, 2, 0xff, '\n', 0}
	if err := s.Store(ctxOf(t), root+"/bin", binary); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Load(ctxOf(t), root+"/bin"); err != nil || !bytes.Equal(b, binary) {
		t.Fatalf("binary value came back as %v, %v", b, err)
	}
	mustStore(t, s, root+"/empty", "")
	if got := mustLoad(t, s, root+"/empty"); got != "" {
		t.Fatalf("empty value came back as %q", got)
	}
}

func testLoadMissing(t *testing.T, open Open, root string) {
	s := open(t)
	assertMissing(t, s, root+"/nothing.json")
	// A key that only prefixes others is a directory, not a value.
	mustStore(t, s, root+"/dir/x", "x")
	assertMissing(t, s, root+"/d")
}

func testDelete(t *testing.T, open Open, root string) {
	s := open(t)
	ctx := ctxOf(t)
	mustStore(t, s, root+"/k", "v")
	mustStore(t, s, root+"/k2", "v2")
	if err := s.Delete(ctx, root+"/k"); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, s, root+"/k")
	if got := mustLoad(t, s, root+"/k2"); got != "v2" {
		t.Fatalf("a neighbour of the deleted key changed: %q", got)
	}
	if err := s.Delete(ctx, root+"/k"); err != nil {
		t.Fatalf("deleting a key that is gone must not fail: %v", err)
	}
}

func testDeleteDirectory(t *testing.T, open Open, root string) {
	s := open(t)
	mustStore(t, s, root+"/dir/a", "a")
	mustStore(t, s, root+"/dir/sub/b", "b")
	mustStore(t, s, root+"/dirt", "not under dir/")
	if err := s.Delete(ctxOf(t), root+"/dir"); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, s, root+"/dir/a")
	assertMissing(t, s, root+"/dir/sub/b")
	if s.Exists(ctxOf(t), root+"/dir") {
		t.Fatal("the deleted directory still exists")
	}
	if got := mustLoad(t, s, root+"/dirt"); got != "not under dir/" {
		t.Fatalf("a key sharing the directory's name as a prefix was deleted too: %q", got)
	}
}

func testStatAndExists(t *testing.T, open Open, root string) {
	s := open(t)
	ctx := ctxOf(t)
	mustStore(t, s, root+"/dir/file", "12345")
	info, err := s.Stat(ctx, root+"/dir/file")
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsTerminal || info.Size != 5 || info.Modified.IsZero() || info.Key != root+"/dir/file" {
		t.Fatalf("Stat(file) = %+v; want terminal, size 5, a modification time, the key", info)
	}
	if info, err = s.Stat(ctx, root+"/dir"); err != nil || info.IsTerminal {
		t.Fatalf("Stat(dir) = %+v, %v; want a non-terminal key", info, err)
	}
	if _, err := s.Stat(ctx, root+"/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(missing) error = %v; want fs.ErrNotExist", err)
	}
	if !s.Exists(ctx, root+"/dir/file") || !s.Exists(ctx, root+"/dir") || s.Exists(ctx, root+"/none") {
		t.Fatal("Exists must be true for a value and a directory, false for a missing key")
	}
}

func testList(t *testing.T, open Open, root string) {
	s := open(t)
	ctx := ctxOf(t)
	for _, k := range []string{"/ns/a.json", "/ns/b.json", "/ns/sub/c.json", "/ns/sub/deeper/d.json", "/nsx/e.json"} {
		mustStore(t, s, root+k, "x")
	}
	flat, err := s.List(ctx, root+"/ns", false)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(flat)
	want := []string{root + "/ns/a.json", root + "/ns/b.json", root + "/ns/sub"}
	if !slices.Equal(flat, want) {
		t.Fatalf("List(non-recursive) = %q; want the direct children %q", flat, want)
	}
	all, err := s.List(ctx, root+"/ns", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/ns/a.json", "/ns/b.json", "/ns/sub/c.json", "/ns/sub/deeper/d.json"} {
		if !slices.Contains(all, root+k) {
			t.Fatalf("List(recursive) = %q; misses %s", all, root+k)
		}
	}
	if slices.Contains(all, root+"/nsx/e.json") {
		t.Fatalf("List(ns) = %q includes a key of the sibling nsx", all)
	}
}

// testListMissing: a directory with nothing in it lists as empty or as
// fs.ErrNotExist (the file storage's answer), never as another error.
func testListMissing(t *testing.T, open Open, root string) {
	keys, err := open(t).List(ctxOf(t), root+"/none", false)
	if len(keys) != 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List(missing) = %q, %v", keys, err)
	}
}

func testShared(t *testing.T, open Open, root string) {
	a, b := open(t), open(t)
	mustStore(t, a, root+"/k", "from a")
	if got := mustLoad(t, b, root+"/k"); got != "from a" {
		t.Fatalf("instance b reads %q", got)
	}
	if err := b.Delete(ctxOf(t), root+"/k"); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, a, root+"/k")
}

// counterRace increments a counter stored at key n times from goroutines
// spread over the instances, each increment a read-modify-write inside
// critical. Without mutual exclusion, increments get lost.
func counterRace(t *testing.T, instances []certmagic.Storage, key string, n int, critical func(s certmagic.Storage, fn func(ctx context.Context) error) error) {
	t.Helper()
	mustStore(t, instances[0], key, "0")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := instances[i%len(instances)]
			errs <- critical(s, func(ctx context.Context) error {
				b, err := s.Load(ctx, key)
				if err != nil {
					return err
				}
				v, _ := strconv.Atoi(string(b))
				// Widen the window a lost update needs.
				time.Sleep(time.Millisecond)
				return s.Store(ctx, key, []byte(strconv.Itoa(v+1)))
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := mustLoad(t, instances[0], key); got != strconv.Itoa(n) {
		t.Fatalf("counter = %s after %d exclusive increments: the critical sections overlapped", got, n)
	}
}

func testLockExcludes(t *testing.T, open Open, root string) {
	instances := []certmagic.Storage{open(t), open(t)}
	// Few rounds: the file storage polls a held lock once a second.
	counterRace(t, instances, root+"/counter", 6, func(s certmagic.Storage, fn func(context.Context) error) error {
		ctx := ctxOf(t)
		if err := s.Lock(ctx, root+"-lock"); err != nil {
			return err
		}
		defer s.Unlock(ctx, root+"-lock")
		return fn(ctx)
	})
}

func testLockContext(t *testing.T, open Open, root string) {
	a, b := open(t), open(t)
	if err := a.Lock(ctxOf(t), root); err != nil {
		t.Fatal(err)
	}
	defer a.Unlock(ctxOf(t), root)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := b.Lock(ctx, root); err == nil {
		b.Unlock(ctxOf(t), root)
		t.Fatal("a second instance took a lock that is held")
	}
}

func testLocksIndependent(t *testing.T, open Open, root string) {
	a, b := open(t), open(t)
	if err := a.Lock(ctxOf(t), root+"-x"); err != nil {
		t.Fatal(err)
	}
	defer a.Unlock(ctxOf(t), root+"-x")
	if err := b.Lock(ctxOf(t), root+"-y"); err != nil {
		t.Fatalf("lock y waited for lock x: %v", err)
	}
	if err := b.Unlock(ctxOf(t), root+"-y"); err != nil {
		t.Fatal(err)
	}
	// Released locks are free again.
	if err := b.Lock(ctxOf(t), root+"-y"); err != nil {
		t.Fatal(err)
	}
	b.Unlock(ctxOf(t), root+"-y")
}

func testTransactCommits(t *testing.T, open Open, root string) {
	s := open(t)
	err := s.(authserver.Transactor).Transact(ctxOf(t), root, func(ctx context.Context) error {
		if err := s.Store(ctx, root+"/a", []byte("1")); err != nil {
			return err
		}
		if got, err := s.Load(ctx, root+"/a"); err != nil || string(got) != "1" {
			t.Errorf("inside the transaction, its own write reads as %q, %v", got, err)
		}
		return s.Store(ctx, root+"/b", []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	other := open(t)
	if mustLoad(t, other, root+"/a") != "1" || mustLoad(t, other, root+"/b") != "2" {
		t.Fatal("committed writes are not visible to another instance")
	}
}

func testTransactRollsBack(t *testing.T, open Open, root string) {
	s := open(t)
	mustStore(t, s, root+"/a", "before")
	boom := errors.New("boom")
	err := s.(authserver.Transactor).Transact(ctxOf(t), root, func(ctx context.Context) error {
		if err := s.Store(ctx, root+"/a", []byte("during")); err != nil {
			return err
		}
		if err := s.Store(ctx, root+"/new", []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Transact returned %v; want fn's error", err)
	}
	if got := mustLoad(t, s, root+"/a"); got != "before" {
		t.Fatalf("a write of a failed transaction applied: %q", got)
	}
	assertMissing(t, s, root+"/new")
}

func testTransactExcludes(t *testing.T, open Open, root string) {
	instances := []certmagic.Storage{open(t), open(t)}
	counterRace(t, instances, root+"/counter", 20, func(s certmagic.Storage, fn func(context.Context) error) error {
		return s.(authserver.Transactor).Transact(ctxOf(t), root+"-lock", fn)
	})
}
