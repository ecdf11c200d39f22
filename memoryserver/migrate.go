package memoryserver

import (
	"context"
	"database/sql"
	"fmt"
)

// A migration is SQL and, optionally, Go code run after it in the same
// transaction.
type migration struct {
	sql  string
	then func(ctx context.Context, tx *sql.Tx) error
}

// migrations are applied in order; the database's PRAGMA user_version counts
// how many have run. Append new steps, never edit old ones.
var migrations = []migration{
	// 1: entities, observations and relations scoped by owner; an FTS5 word
	// index for bm25 ranking; and the substring index: every distinct term
	// (maximal run of letters and digits, lower-cased) with a trigram index
	// over the terms and a postings table from terms to entities. Terms are
	// never deleted: one no entity uses any more only costs a row.
	{sql: `
CREATE TABLE entities (
	id          INTEGER PRIMARY KEY,
	owner       TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	entity_type TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (owner, name)
);
CREATE TABLE observations (
	id         INTEGER PRIMARY KEY,
	entity_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
	content    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (entity_id, content)
);
CREATE TABLE relations (
	id            INTEGER PRIMARY KEY,
	owner         TEXT    NOT NULL,
	from_id       INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
	to_id         INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
	relation_type TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	UNIQUE (from_id, to_id, relation_type)
);
CREATE INDEX entities_by_owner ON entities (owner, id);
CREATE INDEX relations_by_to ON relations (to_id);
CREATE VIRTUAL TABLE entity_words USING fts5 (
	owner UNINDEXED, name, entity_type, observations,
	tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE terms (
	id   INTEGER PRIMARY KEY,
	term TEXT    NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE term_grams USING fts5 (
	term, content = 'terms', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER terms_into_grams AFTER INSERT ON terms BEGIN
	INSERT INTO term_grams (rowid, term) VALUES (new.id, new.term);
END;
CREATE TABLE entity_terms (
	term_id   INTEGER NOT NULL REFERENCES terms (id),
	entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
	PRIMARY KEY (term_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX entity_terms_by_entity ON entity_terms (entity_id);
`},
	// 2: the search indexes hold one document per text instead of one per
	// entity: an entity's name and type (rowid -entity id) and each
	// observation (rowid: its id). Adding or removing an observation then
	// writes one small document instead of rewriting the entity's, which
	// made batches of add_observations slower than the reference. Both are
	// contentless (a delete costs no re-tokenizing). The postings leave the
	// B-tree (two random inserts per term) for FTS5, which writes them
	// sequentially: each document lists its term ids as tokens "t<id>".
	// Terms are split in Go, so reindexAll fills the new indexes.
	{sql: `
DROP TABLE entity_words;
DROP TABLE entity_terms;
CREATE VIRTUAL TABLE text_words USING fts5 (
	name, entity_type, observation,
	content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE text_postings USING fts5 (
	terms, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);
`, then: reindexAll},
	// 3: the word index goes; search ranks the texts it has read in Go
	// (rank.go). Keeping text_words up to date was a quarter of every write
	// and of an import.
	{sql: `DROP TABLE text_words;`},
	// 4: FTS5 keeps up to 8 MiB of new postings in memory (its default is
	// 1 MiB) before it writes them out as a segment: a large batch or an
	// import writes fewer, larger segments and merges less (about 6% of an
	// import). A small write never fills even the default.
	{sql: `
INSERT INTO text_postings (text_postings, rank) VALUES ('hashsize', 8388608);
INSERT INTO term_grams (term_grams, rank) VALUES ('hashsize', 8388608);
`},
}

// migrate brings the schema up to date inside one write transaction, so two
// processes opening a new database at once do not both create it.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this memoryserver supports (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		m := migrations[i]
		_, err := tx.ExecContext(ctx, m.sql)
		if err == nil && m.then != nil {
			err = m.then(ctx, tx)
		}
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}
