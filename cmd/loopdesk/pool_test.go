package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestPoolAdvice(t *testing.T) {
	const mib = 1 << 20
	if msg := poolAdvice(128*mib, 1500*mib); !strings.Contains(msg, "(128 MiB) is smaller than the search tables (1500 MiB)") || !strings.Contains(msg, "at least 1875 MiB") {
		t.Errorf("128 MiB pool, 1.5 GiB of tables: %q", msg)
	}
	for _, c := range [][2]int64{{3072 * mib, 1500 * mib}, {128 * mib, 20 * mib}, {0, 20 * mib}} {
		if msg := poolAdvice(c[0], c[1]); msg != "" {
			t.Errorf("pool %d, tables %d: %q, want no advice", c[0], c[1], msg)
		}
	}
}

// On MariaDB the check reads the pool size and the tables' sizes; a fresh
// test database fits any pool, so serve stays quiet.
func TestWarnSmallPoolOnMySQL(t *testing.T) {
	db := testenv.MySQL(t)
	pool, tables, err := poolAndTables(context.Background(), db)
	if err != nil || pool < 5<<20 || tables <= 0 {
		t.Fatalf("pool %d, tables %d, err %v: want the server's pool and the migrated tables' size", pool, tables, err)
	}
	var buf bytes.Buffer
	warnSmallPool(context.Background(), db, slog.New(slog.NewTextHandler(&buf, nil)))
	if buf.Len() != 0 {
		t.Errorf("warned on a fresh database: %s", buf.String())
	}
}
