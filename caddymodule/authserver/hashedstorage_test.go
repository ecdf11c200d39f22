package authserver

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCodesRefreshTokensAndSecretsAreStoredOnlyAsHashes(t *testing.T) {
	e := newEnv(t, nil)
	run := e.confidentialFlow()
	secrets := map[string]string{"client secret": run.client.secret, "code": run.code}
	for name, rt := range map[string]string{"first refresh token": run.first.refresh, "second refresh token": run.second.refresh} {
		_, secret, _ := strings.Cut(rt, ".") // the part before is the grant id
		secrets[name] = secret
	}
	files := 0
	err := filepath.WalkDir(e.storage.Path, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		for name, s := range secrets {
			if s == "" || strings.Contains(path, s) || strings.Contains(string(b), s) {
				t.Errorf("%s appears in %s (or is empty)", name, path)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 { // at least client, code, grant, signing key
		t.Fatalf("only %d files in storage", files)
	}
}
