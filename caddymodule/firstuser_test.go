package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	"golang.org/x/crypto/bcrypt"
)

func TestFirstUserPasswordIsKeptUntilItsFirstLoginThenOnlyItsHash(t *testing.T) {
	dir := t.TempDir()
	store := &certmagic.FileStorage{Path: dir}
	ctx := context.Background()

	u, err := ensureFirstUser(ctx, store, "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	if u.OneTimePassword == "" || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(u.OneTimePassword)) != nil {
		t.Fatal("no generated password matching the kept hash")
	}

	// A start that failed after generating it has not lost it: the next
	// start gets the same password and hash.
	again, err := ensureFirstUser(ctx, store, "admin", "")
	if err != nil || again != u {
		t.Fatalf("second start: %v, got %+v, want %+v", err, again, u)
	}

	if err := clearOneTimePassword(ctx, store, "admin"); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, firstUserKey))
	if err != nil || strings.Contains(string(stored), u.OneTimePassword) {
		t.Fatalf("after the first login storage still holds the password, or nothing: %v %s", err, stored)
	}
	after, err := ensureFirstUser(ctx, store, "admin", "")
	if err != nil || after.OneTimePassword != "" || after.Hash != u.Hash {
		t.Fatalf("after the first login: %v %+v", err, after)
	}

	chosen, err := ensureFirstUser(ctx, store, "admin", "my own password")
	if err != nil || chosen.OneTimePassword != "" || bcrypt.CompareHashAndPassword([]byte(chosen.Hash), []byte("my own password")) != nil {
		t.Fatalf("a configured password is not the one used, or is kept: %v %+v", err, chosen)
	}
	// The same password keeps its hash across starts (a new salt would end
	// the user's grants at every reload); another password gets a new one.
	if u, err := ensureFirstUser(ctx, store, "admin", "my own password"); err != nil || u.Hash != chosen.Hash {
		t.Fatalf("restart with the same password changed the hash: %v", err)
	}
	if u, err := ensureFirstUser(ctx, store, "admin", "changed"); err != nil || u.Hash == chosen.Hash || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte("changed")) != nil {
		t.Fatalf("a changed password kept the old hash: %v", err)
	}
}

func TestResetFirstUserPasswordKeepsOnlyTheHash(t *testing.T) {
	dir := t.TempDir()
	store := &certmagic.FileStorage{Path: dir}
	ctx := context.Background()
	old, err := ensureFirstUser(ctx, store, "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resetFirstUserPassword(ctx, store, "alice"); err == nil || !strings.Contains(err.Error(), `"alice" is not the first user (that is "admin")`) {
		t.Fatalf("a user who is not the first user: %v", err)
	}
	password, err := resetFirstUserPassword(ctx, store, "admin")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := os.ReadFile(filepath.Join(dir, firstUserKey))
	if strings.Contains(string(stored), password) || strings.Contains(string(stored), old.OneTimePassword) {
		t.Fatalf("storage holds a password: %s", stored)
	}
	u, err := ensureFirstUser(ctx, store, "admin", "")
	if err != nil || u.OneTimePassword != "" || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) != nil {
		t.Fatalf("the next start does not use the new password: %v %+v", err, u)
	}
}
