package caddymodule

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	"golang.org/x/crypto/bcrypt"
)

// captureStderr runs f and returns what it wrote to standard error.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	f()
	os.Stderr = saved
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out)
}

func TestFirstUserPasswordIsGeneratedPrintedOnceAndOnlyItsHashKept(t *testing.T) {
	dir := t.TempDir()
	store := &certmagic.FileStorage{Path: dir}
	ctx := context.Background()

	var hash string
	printed := captureStderr(t, func() {
		var err error
		if _, hash, err = ensureFirstUser(ctx, store, "admin", ""); err != nil {
			t.Fatal(err)
		}
	})
	password := regexp.MustCompile(`(?m)^    (\S+)$`).FindStringSubmatch(printed)
	if password == nil {
		t.Fatalf("no password printed:\n%s", printed)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password[1])) != nil {
		t.Fatal("the printed password does not match the kept hash")
	}
	stored, err := os.ReadFile(filepath.Join(dir, firstUserKey))
	if err != nil || strings.Contains(string(stored), password[1]) {
		t.Fatalf("storage holds the password or nothing: %v %s", err, stored)
	}

	again := captureStderr(t, func() {
		_, hash2, err := ensureFirstUser(ctx, store, "admin", "")
		if err != nil || hash2 != hash {
			t.Errorf("second start: %v, hash changed %v", err, hash2 != hash)
		}
	})
	if again != "" {
		t.Errorf("the second start printed again:\n%s", again)
	}

	_, chosen, err := ensureFirstUser(ctx, store, "admin", "my own password")
	if err != nil || bcrypt.CompareHashAndPassword([]byte(chosen), []byte("my own password")) != nil {
		t.Fatalf("a configured password is not the one used: %v", err)
	}
	// The same password keeps its hash across starts (a new salt would end
	// the user's grants at every reload); another password gets a new one.
	if _, h, err := ensureFirstUser(ctx, store, "admin", "my own password"); err != nil || h != chosen {
		t.Fatalf("restart with the same password changed the hash: %v", err)
	}
	if _, h, err := ensureFirstUser(ctx, store, "admin", "changed"); err != nil || h == chosen || bcrypt.CompareHashAndPassword([]byte(h), []byte("changed")) != nil {
		t.Fatalf("a changed password kept the old hash: %v", err)
	}
}
