package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// firstUserKey is where the first user's bcrypt hash is kept in storage.
const firstUserKey = "mcpgate/first_user.json"

// storedUser is the first user as kept in storage.
type storedUser struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
	// OneTimePassword is the generated password until it is first used to
	// log in, so that a start that fails after generating it (a busy port)
	// does not lose it: the banner of the next successful start shows it
	// again. It sits beside the signing keys, which give more than it
	// does (tokens for anyone), in files only the server's user may read;
	// after the first login only the hash remains.
	OneTimePassword string `json:"one_time_password,omitempty"`
}

// ensureFirstUser returns the first user as kept in storage. With a
// password it reuses the stored hash while it matches that password and
// otherwise stores a new one: a fresh salt at every start would change the
// hash, and grants end when their user's hash changes. Without a password
// it reuses the stored user, or generates a password and keeps it as the
// one-time password until its first login (clearOneTimePassword).
func ensureFirstUser(ctx context.Context, store authserver.Storage, name, password string) (storedUser, error) {
	if name == "" {
		return storedUser{}, errors.New("first_user needs a user name")
	}
	return updateFirstUser(ctx, store, func(u *storedUser, found bool) (bool, error) {
		if found && u.Name == name && (password == "" || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) == nil) {
			return false, nil
		}
		generated := password == ""
		if generated {
			password = rand.Text()
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return false, fmt.Errorf("hashing the first user's password: %v", err)
		}
		*u = storedUser{Name: name, Hash: string(hash)}
		if generated {
			u.OneTimePassword = password
		}
		return true, nil
	})
}

// clearOneTimePassword forgets the first user's one-time password once it
// was used to log in; the hash stays.
func clearOneTimePassword(ctx context.Context, store authserver.Storage, name string) error {
	_, err := updateFirstUser(ctx, store, func(u *storedUser, found bool) (bool, error) {
		if !found || u.Name != name || u.OneTimePassword == "" {
			return false, nil
		}
		u.OneTimePassword = ""
		return true, nil
	})
	return err
}

// forgetOneTimePassword returns the authorization server's OnPasswordLogin
// while the first user name has a one-time password: its first login
// clears it from storage (once per process; a failed write is retried at
// the next login).
func forgetOneTimePassword(store authserver.Storage, name string, log *zap.Logger) func(user string) {
	var done atomic.Bool
	return func(user string) {
		if user != name || done.Swap(true) {
			return
		}
		if err := clearOneTimePassword(context.Background(), store, name); err != nil {
			done.Store(false)
			log.Error("forgetting the first user's one-time password", zap.Error(err))
		}
	}
}

// resetFirstUserPassword gives the stored first user name a new generated
// password and returns it; only its hash is kept (the operator who asked
// sees it once). The user's grants end with the old hash (see
// authserver/holder.go).
func resetFirstUserPassword(ctx context.Context, store authserver.Storage, name string) (string, error) {
	password := rand.Text()
	_, err := updateFirstUser(ctx, store, func(u *storedUser, found bool) (bool, error) {
		if found && u.Name != name {
			return false, fmt.Errorf("%q is not the first user (that is %q); users of a `users` block get a new hash in the Caddyfile (caddy hash-password)", name, u.Name)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return false, fmt.Errorf("hashing the new password: %v", err)
		}
		*u = storedUser{Name: name, Hash: string(hash)}
		return true, nil
	})
	return password, err
}

// updateFirstUser loads the first user under the storage lock, lets change
// modify it (found tells whether one was stored) and stores it when change
// says so.
func updateFirstUser(ctx context.Context, store authserver.Storage, change func(u *storedUser, found bool) (bool, error)) (storedUser, error) {
	if err := store.Lock(ctx, firstUserKey); err != nil {
		return storedUser{}, fmt.Errorf("locking %s in storage: %v", firstUserKey, err)
	}
	defer store.Unlock(context.WithoutCancel(ctx), firstUserKey) //nolint:errcheck // best effort, the lock expires
	var u storedUser
	data, err := store.Load(ctx, firstUserKey)
	found := err == nil
	switch {
	case found:
		if err := json.Unmarshal(data, &u); err != nil {
			return storedUser{}, fmt.Errorf("reading %s from storage: %v", firstUserKey, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return storedUser{}, fmt.Errorf("loading %s from storage: %v", firstUserKey, err)
	}
	changed, err := change(&u, found)
	if err != nil || !changed {
		return u, err
	}
	data, _ = json.Marshal(u)
	if err := store.Store(ctx, firstUserKey, data); err != nil {
		return storedUser{}, fmt.Errorf("saving %s to storage: %v", firstUserKey, err)
	}
	return u, nil
}
