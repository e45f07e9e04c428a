package accounts_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestEnsureFirstAdmin(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		created, pw, err := s.EnsureFirstAdmin(ctx, "", "")
		if err != nil || !created || len(pw) != 20 {
			t.Fatalf("first call: %v %q %v", created, pw, err)
		}
		u, err := s.Authenticate(ctx, accounts.DefaultAdminEmail, pw)
		if err != nil || !slices.Equal(u.Roles, []accounts.Role{accounts.RoleAdmin}) {
			t.Fatalf("generated admin login: %+v, %v", u, err)
		}
		created, pw, err = s.EnsureFirstAdmin(ctx, "second@example.com", "another-pass")
		if err != nil || created || pw != "" {
			t.Fatalf("second call: %v %q %v", created, pw, err)
		}
		if n, _ := s.CountUsers(ctx); n != 1 {
			t.Fatalf("%d users after two calls", n)
		}
	})
}

func TestEnsureFirstAdminGivenCredentials(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		if _, _, err := s.EnsureFirstAdmin(ctx, "root@example.com", "short"); !errors.As(err, new(*accounts.ValidationError)) {
			t.Fatalf("weak password: %v", err)
		}
		created, pw, err := s.EnsureFirstAdmin(ctx, "Root@Example.com", "long enough pw")
		if err != nil || !created || pw != "" {
			t.Fatalf("%v %q %v", created, pw, err)
		}
		if _, err := s.Authenticate(ctx, "root@example.com", "long enough pw"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEnsureFirstAdminConcurrent(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		// Replicas with different settings still make one admin in all.
		emails := []string{"", "", "a1@example.com", "a2@example.com", "", "a3@example.com"}
		created := make([]bool, len(emails))
		errs := make([]error, len(emails))
		var wg sync.WaitGroup
		for i, e := range emails {
			wg.Add(1)
			go func(i int, e string) {
				defer wg.Done()
				created[i], _, errs[i] = s.EnsureFirstAdmin(ctx, e, "")
			}(i, e)
		}
		wg.Wait()
		wins := 0
		for i := range emails {
			if errs[i] != nil {
				t.Fatalf("replica %d: %v", i, errs[i])
			}
			if created[i] {
				wins++
			}
		}
		if n, _ := s.CountUsers(ctx); wins != 1 || n != 1 {
			t.Fatalf("%d replicas created an admin, %d users stored; want 1 and 1", wins, n)
		}
		if recs := events(t, db); len(recs) != 1 || recs[0].EventType != accounts.EventUserCreated {
			t.Fatalf("outbox: %+v", recs)
		}
	})
}
