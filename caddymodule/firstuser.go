package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// firstUserKey is where the first user's bcrypt hash is kept in storage.
const firstUserKey = "mcpgate/first_user.json"

type storedUser struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// ensureFirstUser returns the first user's name and bcrypt hash, kept in
// storage. With a password it reuses the stored hash while it matches that
// password and otherwise stores a new one: a fresh salt at every start would
// change the hash, and grants end when their user's hash changes. Without
// a password it reuses the stored hash, or generates a password, keeps
// only its hash and prints the password once on standard error: the only
// time it is ever shown.
func ensureFirstUser(ctx context.Context, store authserver.Storage, name, password string) (string, string, error) {
	if name == "" {
		return "", "", errors.New("first_user needs a user name")
	}
	if err := store.Lock(ctx, firstUserKey); err != nil {
		return "", "", fmt.Errorf("locking %s in storage: %v", firstUserKey, err)
	}
	defer store.Unlock(context.WithoutCancel(ctx), firstUserKey) //nolint:errcheck // best effort, the lock expires
	data, err := store.Load(ctx, firstUserKey)
	switch {
	case err == nil:
		var u storedUser
		if err := json.Unmarshal(data, &u); err != nil {
			return "", "", fmt.Errorf("reading %s from storage: %v", firstUserKey, err)
		}
		if u.Name == name && (password == "" || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) == nil) {
			return u.Name, u.Hash, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("loading %s from storage: %v", firstUserKey, err)
	}
	generated := password == ""
	if generated {
		password = rand.Text()
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", "", fmt.Errorf("hashing the first user's password: %v", err)
	}
	data, _ = json.Marshal(storedUser{Name: name, Hash: string(hash)})
	if err := store.Store(ctx, firstUserKey, data); err != nil {
		return "", "", fmt.Errorf("saving %s to storage: %v", firstUserKey, err)
	}
	if generated {
		fmt.Fprintf(os.Stderr, "\nmcp_gateway: created the first user %q with the password\n\n    %s\n\nIt is shown only this once; only its hash is kept. Set MCPGATE_PASSWORD (first_user <name> <password>) to choose one.\n\n", name, password)
	}
	return name, string(hash), nil
}
