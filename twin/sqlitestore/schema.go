package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings a database from schema version i to i+1. The schema
// version is PRAGMA user_version, 0 in a new file. Append only: a released
// migration never changes, so every file can be brought forward step by step.
var migrations = [][]string{
	// 0 → 1: the things table.
	{
		`CREATE TABLE things (
			id        TEXT    PRIMARY KEY,
			namespace TEXT    NOT NULL,
			policy_id TEXT    NOT NULL,
			revision  INTEGER NOT NULL,
			created   INTEGER,          -- unix nanoseconds, NULL for the zero time
			modified  INTEGER,          -- unix nanoseconds, NULL for the zero time
			deleted   INTEGER NOT NULL, -- 1 for a tombstone
			doc       BLOB
		) STRICT`,
		`CREATE INDEX things_namespace ON things (namespace)`,
		`CREATE INDEX things_policy_id ON things (policy_id)`,
	},
	// 1 → 2: search (search.go). The table gains search_doc: the live
	// thing's document as JSONB (SQLite's binary JSON), which SQLite itself
	// keeps in step with doc, so that searches read documents without
	// parsing their text (twice as fast); NULL for tombstones and for a doc
	// that is not JSON. A generated column cannot be added to a table, so
	// the table is rebuilt. The namespace index gains the id, so that a
	// namespace's things come in id order (the default sort), and
	// _modified gets an index for sorting by it. Attributes and features
	// cannot be indexed ahead of time: their paths are arbitrary.
	{
		`CREATE TABLE things_v2 (
			id         TEXT    PRIMARY KEY,
			namespace  TEXT    NOT NULL,
			policy_id  TEXT    NOT NULL,
			revision   INTEGER NOT NULL,
			created    INTEGER,          -- unix nanoseconds, NULL for the zero time
			modified   INTEGER,          -- unix nanoseconds, NULL for the zero time
			deleted    INTEGER NOT NULL, -- 1 for a tombstone
			doc        BLOB,
			search_doc BLOB GENERATED ALWAYS AS (CASE WHEN deleted = 0 AND json_valid(CAST(doc AS TEXT))
				THEN jsonb(CAST(doc AS TEXT)) END) STORED
		) STRICT`,
		`INSERT INTO things_v2 (id, namespace, policy_id, revision, created, modified, deleted, doc)
			SELECT id, namespace, policy_id, revision, created, modified, deleted, doc FROM things`,
		`DROP TABLE things`,
		`ALTER TABLE things_v2 RENAME TO things`,
		`CREATE INDEX things_namespace_id ON things (namespace, id)`,
		`CREATE INDEX things_policy_id ON things (policy_id)`,
		`CREATE INDEX things_modified ON things (modified, id)`,
	},
	// 2 → 3: the policies table, beside things: a policy and a thing may
	// have the same id (a thing's implicit policy does). A policy record
	// has no policy id and is never searched, so the table has neither
	// column. IF NOT EXISTS lets the step pass over a table that is already
	// there (made by hand, say, to restore policies into an older file)
	// rather than refuse to open the file.
	{
		`CREATE TABLE IF NOT EXISTS policies (
			id        TEXT    PRIMARY KEY,
			namespace TEXT    NOT NULL,
			revision  INTEGER NOT NULL,
			created   INTEGER,          -- unix nanoseconds, NULL for the zero time
			modified  INTEGER,          -- unix nanoseconds, NULL for the zero time
			deleted   INTEGER NOT NULL, -- 1 for a tombstone
			doc       BLOB
		) STRICT`,
	},
}

// schemaVersion is the version this build writes.
func schemaVersion() int { return len(migrations) }

// migrate brings the database on conn to schemaVersion, each step in its own
// transaction together with its user_version, so a crash leaves the file at
// one version or the next and never in between.
func migrate(ctx context.Context, conn *sql.Conn) error {
	var version int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return wrapErr("read schema version", err)
	}
	if version > schemaVersion() {
		return fmt.Errorf("sqlitestore: database schema version %d is newer than this build supports (%d)",
			version, schemaVersion())
	}
	for v := version; v < schemaVersion(); v++ {
		if err := migrateStep(ctx, conn, v); err != nil {
			return err
		}
	}
	return nil
}

func migrateStep(ctx context.Context, conn *sql.Conn, from int) (err error) {
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return wrapErr(fmt.Sprintf("migrate schema %d→%d: begin", from, from+1), err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	// Another process may have migrated since we read the version.
	var version int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return wrapErr("read schema version", err)
	}
	if version != from {
		if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
			return wrapErr("migrate schema: commit", err)
		}
		return nil
	}
	for _, stmt := range migrations[from] {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return wrapErr(fmt.Sprintf("migrate schema %d→%d", from, from+1), err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, from+1)); err != nil {
		return wrapErr(fmt.Sprintf("migrate schema %d→%d: set version", from, from+1), err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return wrapErr(fmt.Sprintf("migrate schema %d→%d: commit", from, from+1), err)
	}
	return nil
}
