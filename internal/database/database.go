// Package database opens the one relational store Loopdesk uses: embedded
// SQLite by default, MySQL/MariaDB when a URL says so. Everything above it
// talks to *gorm.DB and asks Dialect only where SQL really differs.
package database

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL flavour behind a DB.
type Dialect string

const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// DB is an open store with its dialect.
type DB struct {
	*gorm.DB
	Dialect Dialect
}

// Open connects to databaseURL, or to dataDir/loopdesk.db when it is empty.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}
	var (
		g       *gorm.DB
		err     error
		dialect Dialect
	)
	switch {
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir %s: %w", dataDir, err)
		}
		dialect = SQLite
		g, err = gorm.Open(sqlite.Open(SQLiteDSN(filepath.Join(dataDir, "loopdesk.db"))), cfg)
	case strings.HasPrefix(databaseURL, "mysql://"):
		dialect = MySQL
		g, err = openMySQL(ctx, databaseURL, cfg)
	case strings.HasPrefix(databaseURL, "sqlite://"):
		dialect = SQLite
		g, err = gorm.Open(sqlite.Open(SQLiteDSN(strings.TrimPrefix(databaseURL, "sqlite://"))), cfg)
	default:
		return nil, fmt.Errorf("database URL %q: use mysql://user:pass@host:3306/db, or leave it empty for embedded SQLite", redact(databaseURL))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		// One writer at a time is how SQLite works anyway; a small pool keeps
		// readers concurrent under WAL while immediate transactions queue writers.
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(16)
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("reach %s database: %w", dialect, err)
	}
	return &DB{DB: g, Dialect: dialect}, nil
}

// Every MySQL/MariaDB session runs at READ COMMITTED, so a count taken
// after a row lock sees every transaction that held the lock before
// (REPEATABLE READ would read an older snapshot). Setting it per session
// saves the SET TRANSACTION round trip a per-transaction level costs. The
// variable is transaction_isolation on MySQL 8 and MariaDB 11.1+, and
// tx_isolation on older MariaDB.
var isolationVars = []string{"transaction_isolation", "tx_isolation"}

func openMySQL(ctx context.Context, databaseURL string, cfg *gorm.Config) (*gorm.DB, error) {
	var lastErr error
	for _, v := range isolationVars {
		dsn, err := MySQLDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		dsn = addParam(dsn, v, "'READ-COMMITTED'")
		g, err := gorm.Open(mysql.Open(dsn), cfg)
		if err == nil {
			sqlDB, _ := g.DB()
			if err = sqlDB.PingContext(ctx); err == nil {
				return g, nil
			}
			sqlDB.Close()
		}
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // 1193: unknown system variable
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func addParam(dsn, key, value string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + key + "=" + url.QueryEscape(value)
}

// SQLiteDSN sets WAL, a busy timeout and immediate transactions: deferred
// read-then-write transactions fail with "database is locked" under load.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// MySQLDSN turns mysql://user:pass@host:port/db?opts into a go-sql-driver DSN
// with utf8mb4, UTC and millisecond time truncation (nanosecond parameters
// make MariaDB scan whole datetime(3) indexes).
func MySQLDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database URL is not a URL: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || name == "" {
		return "", errors.New("database URL needs a host and a database name: mysql://user:pass@host:3306/db")
	}
	c := gomysql.NewConfig()
	c.Net = "tcp"
	c.Addr = u.Host
	if u.Port() == "" {
		c.Addr = u.Host + ":3306"
	}
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.DBName = name
	c.ParseTime = true
	c.Loc = time.UTC
	c.InterpolateParams = true
	c.Collation = "utf8mb4_unicode_ci"
	c.Params = map[string]string{"charset": "utf8mb4", "time_zone": "'+00:00'"}
	if err := c.Apply(gomysql.TimeTruncate(time.Millisecond)); err != nil {
		return "", err
	}
	for k, vs := range u.Query() {
		c.Params[k] = vs[0]
	}
	return c.FormatDSN(), nil
}

func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}

// Ping checks the store answers, for readiness.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the connection pool.
func (db *DB) Close() error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// IsUniqueViolation reports whether err is a duplicate-key error on either dialect.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsRetryable reports whether err ended a transaction that may simply run
// again: a MySQL deadlock (1213) or lock wait timeout (1205), or SQLite
// busy. Every domain's transaction helper retries on it.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}
