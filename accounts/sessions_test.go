package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestSessions(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		s := newService(db, clk)
		u := mustUser(t, s, "web@example.com")
		sid, csrf, err := s.CreateSession(ctx, u.ID)
		if err != nil || len(sid) < 40 || len(csrf) != 64 {
			t.Fatalf("create: %q %q %v", sid, csrf, err)
		}
		var stored []string
		db.Table("sessions").Pluck("id_hash", &stored)
		if len(stored) != 1 || stored[0] == sid || len(stored[0]) != 64 {
			t.Fatalf("stored ids %v: want only a hash", stored)
		}
		got, gotCSRF, err := s.SessionUser(ctx, sid)
		if err != nil || got.ID != u.ID || gotCSRF != csrf {
			t.Fatalf("lookup: %+v %q %v", got, gotCSRF, err)
		}
		if _, _, err := s.SessionUser(ctx, sid+"x"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		sid2, csrf2, _ := s.CreateSession(ctx, u.ID)
		if sid2 == sid || csrf2 == csrf {
			t.Fatal("sessions share secrets")
		}

		clk.Advance(accounts.SessionTTL - time.Second)
		if _, _, err := s.SessionUser(ctx, sid); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		// That use renewed the session (sliding expiry); sid2 was not used.
		clk.Advance(2 * time.Second)
		if _, _, err := s.SessionUser(ctx, sid2); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if _, _, err := s.SessionUser(ctx, sid); err != nil {
			t.Fatalf("renewed session: %v", err)
		}
		clk.Advance(accounts.SessionTTL)
		if _, _, err := s.SessionUser(ctx, sid); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("renewed session past its new expiry: %v", err)
		}
		if n, err := s.PruneSessions(ctx); err != nil || n != 2 {
			t.Fatalf("purge: %d, %v", n, err)
		}
	})
}

func TestSessionInactiveAndDelete(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "s@example.com")
		sid, _, err := s.CreateSession(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, sid); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("deleted: %v", err)
		}
		if err := s.DeleteSession(ctx, sid); err != nil {
			t.Fatalf("delete twice: %v", err)
		}
		sid, _, _ = s.CreateSession(ctx, u.ID)
		if _, err := s.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, sid); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("deactivated: %v", err)
		}
		if _, _, err := s.CreateSession(ctx, u.ID); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("create for deactivated: %v", err)
		}
		if _, _, err := s.CreateSession(ctx, 12345); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("create for unknown: %v", err)
		}
	})
}
