package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/migrations"
)

func TestDialectsHaveSameVersions(t *testing.T) {
	s, err := migrations.List(database.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrations.List(database.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) == 0 || len(s) != len(m) {
		t.Fatalf("sqlite has %d migrations, mysql %d: every schema change ships for both", len(s), len(m))
	}
	for i := range s {
		if s[i].Version != m[i].Version || s[i].Name != m[i].Name {
			t.Errorf("migration %d: sqlite %04d_%s vs mysql %04d_%s", i, s[i].Version, s[i].Name, m[i].Version, m[i].Name)
		}
	}
}

func TestStatements(t *testing.T) {
	got := migrations.Statements("-- c\nCREATE TABLE a (x INT);\n\nCREATE INDEX i ON a(x);\n")
	if len(got) != 2 || got[0] != "CREATE TABLE a (x INT)" || got[1] != "CREATE INDEX i ON a(x)" {
		t.Fatalf("got %q", got)
	}
}

// Two replicas starting at once must apply each migration exactly once.
func TestConcurrentUp(t *testing.T) {
	open := map[string]func(t *testing.T) *database.DB{
		"sqlite": func(t *testing.T) *database.DB {
			dir := t.TempDir()
			db, err := database.Open(context.Background(), "", dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"mysql": func(t *testing.T) *database.DB {
			db, err := database.Open(context.Background(), testenv.MySQLURL(t), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	for name, mk := range open {
		t.Run(name, func(t *testing.T) {
			db := mk(t)
			all, _ := migrations.List(db.Dialect)
			var wg sync.WaitGroup
			counts := make([]int, 4)
			errs := make([]error, 4)
			for i := range counts {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					applied, err := migrations.Up(context.Background(), db)
					counts[i], errs[i] = len(applied), err
				}(i)
			}
			wg.Wait()
			total := 0
			for i := range counts {
				if errs[i] != nil {
					t.Fatalf("replica %d: %v", i, errs[i])
				}
				total += counts[i]
			}
			if total != len(all) {
				t.Fatalf("applied %d migrations across replicas, want %d (each exactly once)", total, len(all))
			}
			st, err := migrations.StatusOf(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				if s.AppliedAt == nil || s.Modified {
					t.Errorf("migration %d: applied=%v modified=%v", s.Version, s.AppliedAt != nil, s.Modified)
				}
			}
			if n, _ := migrations.Pending(context.Background(), db); n != 0 {
				t.Fatalf("pending %d after up", n)
			}
		})
	}
}
