// Package migrations holds the versioned SQL schema for each dialect and
// applies it. Files are named NNNN_description.sql; a version, once
// released, is never edited (its checksum is recorded and checked).
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
)

//go:embed sqlite/*.sql mysql/*.sql
var files embed.FS

// Migration is one versioned SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// Status is a migration and whether (and when) it was applied.
type Status struct {
	Migration
	AppliedAt *time.Time
	// Modified is true when the applied checksum differs from the file.
	Modified bool
}

// List returns the migrations for a dialect in version order.
func List(d database.Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(files, string(d))
	if err != nil {
		return nil, fmt.Errorf("no migrations for dialect %s: %w", d, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", name)
		}
		b, err := files.ReadFile(path.Join(string(d), name))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(rest, ".sql"), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations share version %d", out[i].Version)
		}
	}
	return out, nil
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  checksum CHAR(64) NOT NULL,
  applied_at VARCHAR(40) NOT NULL
)`

// Up applies every pending migration and returns the ones it applied. It is
// safe to call from several processes at once: MySQL holds a named lock for
// the whole run; SQLite applies each file in one immediate transaction that
// re-checks whether another process got there first.
func Up(ctx context.Context, db *database.DB) ([]Migration, error) {
	all, err := List(db.Dialect)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	if db.Dialect == database.MySQL {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('loopdesk_migrate', 300)").Scan(&got); err != nil || got.Int64 != 1 {
			return nil, fmt.Errorf("take the migration lock (another replica may be migrating): %v", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('loopdesk_migrate')")
	}
	var applied []Migration
	for _, m := range all {
		done, err := apply(ctx, conn, db.Dialect, m)
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if done {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

func apply(ctx context.Context, conn *sql.Conn, d database.Dialect, m Migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil) // immediate on SQLite (see database.SQLiteDSN)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	// MySQL commits DDL implicitly, so there the named lock is what keeps
	// replicas apart; SQLite rolls the whole file back on failure.
	for _, stmt := range Statements(m.SQL) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("%w\nin statement: %s", err, stmt)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
		m.Version, m.Name, m.Checksum, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Statements splits a migration into statements at semicolons that end a
// line, dropping comment lines. Our migrations keep to that shape.
func Statements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Pending reports how many migrations are not applied yet.
func Pending(ctx context.Context, db *database.DB) (int, error) {
	st, err := StatusOf(ctx, db)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if s.AppliedAt == nil {
			n++
		}
	}
	return n, nil
}

// StatusOf lists every known migration with its applied time, if any.
func StatusOf(ctx context.Context, db *database.DB) ([]Status, error) {
	all, err := List(db.Dialect)
	if err != nil {
		return nil, err
	}
	if err := db.WithContext(ctx).Exec(createTable).Error; err != nil {
		return nil, err
	}
	rows, err := db.WithContext(ctx).Raw("SELECT version, checksum, applied_at FROM schema_migrations").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type rec struct {
		sum string
		at  time.Time
	}
	got := map[int]rec{}
	for rows.Next() {
		var v int
		var sum, at string
		if err := rows.Scan(&v, &sum, &at); err != nil {
			return nil, err
		}
		t, _ := time.Parse(time.RFC3339, at)
		got[v] = rec{sum, t}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(all))
	for _, m := range all {
		s := Status{Migration: m}
		if r, ok := got[m.Version]; ok {
			at := r.at
			s.AppliedAt = &at
			s.Modified = r.sum != m.Checksum
		}
		out = append(out, s)
	}
	return out, nil
}
