package database_test

import (
	"context"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// Counts taken after a lock rely on READ COMMITTED (see database.Open).
func TestMySQLSessionsReadCommitted(t *testing.T) {
	db, err := database.Open(context.Background(), testenv.MySQLURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, v := range []string{"@@transaction_isolation", "@@tx_isolation"} {
		var level string
		if err := db.Raw("SELECT " + v).Scan(&level).Error; err != nil {
			continue
		}
		if level != "READ-COMMITTED" {
			t.Fatalf("%s = %s, want READ-COMMITTED", v, level)
		}
		return
	}
	t.Fatal("could not read the session isolation level")
}

func TestMySQLDSN(t *testing.T) {
	dsn, err := database.MySQLDSN("mysql://u:p%40ss@db.example:3307/loopdesk?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"u:p@ss@tcp(db.example:3307)/loopdesk", "parseTime=true", "charset=utf8mb4", "timeTruncate=1ms", "tls=false"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN %q lacks %q", dsn, want)
		}
	}
	for _, bad := range []string{"mysql://host-only", "mysql:///db", "mysql://%zz"} {
		if _, err := database.MySQLDSN(bad); err == nil {
			t.Errorf("MySQLDSN(%q) accepted", bad)
		}
	}
	if _, err := database.Open(context.Background(), "postgres://x/y", t.TempDir()); err == nil || !strings.Contains(err.Error(), "mysql://") {
		t.Errorf("unknown scheme: %v", err)
	}
}
