package memoryserver

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestCommitsReachTheDatabaseFileWithoutTheWriter shows the checkpointer at
// work: a small write, far below the WAL size at which the writer
// checkpoints itself, is soon in the database file alone (a copy without
// the -wal file holds it).
func TestCommitsReachTheDatabaseFileWithoutTheWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "memory.db")
	srv, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	err = srv.store.update(context.Background(), "", func(g *graphTx) error {
		_, err := g.createEntities([]entity{{Name: "checkpointed", EntityType: "test"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	inFile := func() bool {
		db, err := sql.Open("sqlite", copyFile(t, path))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		// A copy taken while a checkpoint writes may be torn: not yet.
		err = db.QueryRow("SELECT count(*) FROM entities WHERE name = 'checkpointed'").Scan(&n)
		return err == nil && n == 1
	}
	deadline := time.Now().Add(10 * time.Second)
	for !inFile() {
		if time.Now().After(deadline) {
			t.Fatal("the write is still only in the -wal file: nothing checkpointed it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
