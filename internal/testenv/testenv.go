// Package testenv gives test suites the real backends to run on: SQLite and
// the in-process Redis server always; MariaDB/MySQL and Redis when
// LOOPDESK_TEST_MYSQL_URL and LOOPDESK_TEST_REDIS_URL say where. Under CI=true
// a missing variable fails the test: a skipped integration tier is not a pass.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/redisserver"
	"github.com/loopdesk/loopdesk/migrations"
)

const (
	MySQLEnv = "LOOPDESK_TEST_MYSQL_URL"
	RedisEnv = "LOOPDESK_TEST_REDIS_URL"
)

// ForEachDB runs fn as a subtest on a fresh, migrated SQLite database and,
// when configured, on a fresh, migrated MySQL/MariaDB database.
func ForEachDB(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t)) })
}

// ForEachRedis runs fn with the in-process server and, when configured, a
// real Redis (a database number reserved for this test and flushed).
func ForEachRedis(t *testing.T, fn func(t *testing.T, redisURL string)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { fn(t, EmbeddedRedis(t)) })
	t.Run("redis", func(t *testing.T) { fn(t, RealRedis(t)) })
}

// SQLite returns a migrated database in a temporary directory.
func SQLite(t testing.TB) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db)
	return db
}

// MySQL returns a migrated database of its own on the configured server,
// dropped when the test ends. It skips (or fails under CI) when unconfigured.
func MySQL(t testing.TB) *database.DB {
	t.Helper()
	raw := require(t, MySQLEnv)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	admin, err := database.Open(context.Background(), raw, "")
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	defer admin.Close()
	name := "loopdesk_t_" + randHex(6)
	if err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error; err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := database.Open(context.Background(), u.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if a, err := database.Open(context.Background(), raw, ""); err == nil {
			a.Exec("DROP DATABASE IF EXISTS " + name)
			a.Close()
		}
	})
	migrate(t, db)
	return db
}

// MySQLURL returns a URL of a fresh empty database (not migrated), for tests
// of migration itself or of the binary.
func MySQLURL(t testing.TB) string {
	t.Helper()
	raw := require(t, MySQLEnv)
	admin, err := database.Open(context.Background(), raw, "")
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	defer admin.Close()
	name := "loopdesk_t_" + randHex(6)
	if err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := database.Open(context.Background(), raw, ""); err == nil {
			a.Exec("DROP DATABASE IF EXISTS " + name)
			a.Close()
		}
	})
	u, _ := url.Parse(raw)
	u.Path = "/" + name
	return u.String()
}

func migrate(t testing.TB, db *database.DB) {
	t.Helper()
	if _, err := migrations.Up(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

// EmbeddedRedis starts an in-process server for the test.
func EmbeddedRedis(t testing.TB) string {
	t.Helper()
	s, err := redisserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s.URL()
}

// RealRedis reserves a database number (1-15) on the configured Redis so
// parallel test packages do not see each other's keys, flushes it, and
// returns its URL.
func RealRedis(t testing.TB) string {
	t.Helper()
	raw := require(t, RedisEnv)
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("%s: %v", RedisEnv, err)
	}
	opt.DB = 0
	ctl := redis.NewClient(opt)
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			key := fmt.Sprintf("loopdesk:testdb:%d", n)
			ok, err := ctl.SetNX(ctx, key, os.Getpid(), 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("%s: %v", RedisEnv, err)
			}
			if !ok {
				continue
			}
			o := *opt
			o.DB = n
			c := redis.NewClient(&o)
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			c.Close()
			// A benchmark may hold the database longer than the lease:
			// renew it while the test runs.
			stop, renewed := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(renewed)
				tick := time.NewTicker(time.Minute)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						ctl.Expire(ctx, key, 10*time.Minute)
					}
				}
			}()
			t.Cleanup(func() {
				close(stop)
				<-renewed
				c := redis.NewClient(&o)
				c.FlushDB(ctx)
				c.Close()
				ctl.Del(ctx, key)
				ctl.Close()
			})
			u, _ := url.Parse(raw)
			u.Path = fmt.Sprintf("/%d", n)
			return u.String()
		}
		if time.Now().After(deadline) {
			t.Fatal("no free Redis database number for the test after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func require(t testing.TB, env string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI the integration tier must run, not skip", env)
		}
		t.Skipf("%s not set: integration tier skipped (set it to run against a real server)", env)
	}
	return v
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
