package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/loopdesk/loopdesk/internal/database"
)

// warnSmallPool logs a warning at start when MySQL/MariaDB's buffer pool is
// smaller than the search and article tables. Search then reads index pages
// from disk on most queries (MariaDB reads pool misses with O_DIRECT): at
// 100k articles a pasted paragraph takes 3-4x longer at p99 on the
// default 128 MB pool than on a pool that holds the tables
// (docs/BENCHMARKS.md). A warning, not a refusal: small installations fit.
func warnSmallPool(ctx context.Context, db *database.DB, log *slog.Logger) {
	if db.Dialect != database.MySQL {
		return
	}
	pool, tables, err := poolAndTables(ctx, db)
	if err != nil {
		log.Warn("could not compare the buffer pool with the search tables", "err", err)
		return
	}
	if msg := poolAdvice(pool, tables); msg != "" {
		log.Warn(msg, "innodb_buffer_pool_size", pool, "search_tables_bytes", tables)
	}
}

// poolAndTables returns innodb_buffer_pool_size and the bytes of the tables
// a search reads (data and indexes, as information_schema estimates them).
func poolAndTables(ctx context.Context, db *database.DB) (pool, tables int64, err error) {
	if err = db.WithContext(ctx).Raw("SELECT @@innodb_buffer_pool_size").Scan(&pool).Error; err != nil {
		return 0, 0, err
	}
	err = db.WithContext(ctx).Raw("SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables" +
		" WHERE table_schema = DATABASE() AND table_name IN ('search_postings', 'search_docs', 'articles', 'article_revisions', 'tickets')").
		Scan(&tables).Error
	return pool, tables, err
}

// poolAdvice says what to change when a pool of pool bytes cannot hold
// tables bytes; "" when it can.
func poolAdvice(pool, tables int64) string {
	if pool <= 0 || tables <= pool {
		return ""
	}
	return fmt.Sprintf("innodb_buffer_pool_size (%d MiB) is smaller than the search tables (%d MiB): searches will read from disk;"+
		" raise it to at least %d MiB (README, Production)", pool>>20, tables>>20, (tables+tables/4)>>20)
}
