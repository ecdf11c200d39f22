package caddymodule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/internal/procinfo"
)

// A second copy started on the same data folder would not fail: Caddy's
// listeners share their ports (SO_REUSEPORT), so requests would split
// between two processes with their own caches, limiters and memory
// servers, and clients would see tokens come and go. So a running mcp_auth
// app holds a lock file in its file storage, with its pid, and a second
// process refuses to start, naming the holder.
//
// The lock is an advisory file lock (flock): the kernel drops it when its
// process dies, however it dies, so a stale file from a killed process is
// simply taken over. The file is per host, since instances on several
// machines may share a storage folder (NFS), as Caddy allows.

// dataLocks are the lock files this process holds, by path, with the
// number of running apps using each: a reload starts the new app before it
// stops the old one, and the lock must pass between them, not lapse.
var dataLocks = struct {
	sync.Mutex
	held map[string]*heldLock
}{held: map[string]*heldLock{}}

type heldLock struct {
	file *os.File
	refs int
}

// dataLockPath is where a process on this host locks storage s, "" for
// storages other than files (shared by design: PostgreSQL, ...).
func dataLockPath(s certmagic.Storage) string {
	fs, ok := s.(*certmagic.FileStorage)
	if !ok {
		return ""
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, host)
	folder, err := filepath.Abs(fs.Path)
	if err != nil {
		folder = fs.Path
	}
	return filepath.Join(folder, "mcpgate-"+host+".lock")
}

// lockDataFolder takes the lock at path for this process (again, if it
// holds it already), or says which process holds it.
func lockDataFolder(path string) error {
	dataLocks.Lock()
	defer dataLocks.Unlock()
	if l := dataLocks.held[path]; l != nil {
		l.refs++
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the data folder: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the lock file: %v", err)
	}
	if err := tryLockFile(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return fmt.Errorf("locking %s: %v", path, err)
		}
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = procinfo.Describe(pid)
			}
		}
		return fmt.Errorf("another mcpgate, %s, is using the data folder %s (lock %s): stop it first, or give this copy a folder and ports of its own (MCPGATE_DATA, MCPGATE_HTTP_PORT, MCPGATE_HTTPS_PORT, MCPGATE_MEMORY_ADDR, MCPGATE_ADMIN)",
			holder, filepath.Dir(path), filepath.Base(path))
	}
	// The pid is only a hint for the message a second copy prints; the
	// lock holds without it.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) //nolint:errcheck // a hint, see above
	}
	dataLocks.held[path] = &heldLock{file: f, refs: 1}
	return nil
}

// unlockDataFolder releases one use of the lock at path; the last one
// empties the file and closes it, which drops the lock. (The file stays:
// removing it would let one process lock the removed file while another
// creates and locks a new one.)
func unlockDataFolder(path string) {
	dataLocks.Lock()
	defer dataLocks.Unlock()
	l := dataLocks.held[path]
	if l == nil {
		return
	}
	if l.refs--; l.refs > 0 {
		return
	}
	delete(dataLocks.held, path)
	l.file.Truncate(0) //nolint:errcheck // the pid is only a hint; the lock is what counts
	l.file.Close()
}
