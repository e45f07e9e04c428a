package database

import (
	"context"
	"strings"

	"gorm.io/gorm"
)

// Batch is statements of one transaction that need no answer but the last
// one's affected rows, sent together: on MySQL/MariaDB as one
// multi-statement round trip (a change's history, outbox and row update
// would otherwise cost a round trip each, which is most of a hot write's
// CPU on both sides), on SQLite one after another (in process, nothing to
// save). Parameters are interpolated by the driver, so no statement text
// ever comes from input.
type Batch struct {
	queries []string
	args    [][]any
}

// Add appends one statement (no trailing semicolon).
func (b *Batch) Add(query string, args ...any) {
	b.queries = append(b.queries, query)
	b.args = append(b.args, args)
}

// Len is the number of statements added.
func (b *Batch) Len() int { return len(b.queries) }

// Exec runs the statements in tx in order and returns the rows affected by
// the last one. An error stops the batch; the caller's transaction rolls
// the rest back.
func (b *Batch) Exec(ctx context.Context, tx *gorm.DB, dialect Dialect) (int64, error) {
	if len(b.queries) == 0 {
		return 0, nil
	}
	pool := tx.Statement.ConnPool
	if dialect == MySQL {
		var all []any
		for _, a := range b.args {
			all = append(all, a...)
		}
		res, err := pool.ExecContext(ctx, strings.Join(b.queries, ";\n"), all...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	var n int64
	for i, q := range b.queries {
		res, err := pool.ExecContext(ctx, q, b.args[i]...)
		if err != nil {
			return 0, err
		}
		if n, err = res.RowsAffected(); err != nil {
			return 0, err
		}
	}
	return n, nil
}
