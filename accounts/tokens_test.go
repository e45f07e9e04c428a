package accounts_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

var tokenFormat = regexp.MustCompile(`^ldk_[A-Za-z0-9_-]{43}$`)

func TestTokens(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		s := newService(db, clk)
		u := mustUser(t, s, "tok@example.com")
		other := mustUser(t, s, "other@example.com")
		plain, tok, err := s.IssueToken(ctx, u.ID, " cli ")
		if err != nil {
			t.Fatal(err)
		}
		if !tokenFormat.MatchString(plain) || tok.UserID != u.ID || tok.Name != "cli" || tok.LastUsedAt != nil || tok.RevokedAt != nil {
			t.Fatalf("issued %q %+v", plain, tok)
		}
		var stored []string
		db.Table("api_tokens").Pluck("token_hash", &stored)
		sum := sha256.Sum256([]byte(plain))
		if len(stored) != 1 || stored[0] != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored %v, want only the sha256 of the secret", stored)
		}

		got, err := s.AuthenticateToken(ctx, plain)
		if err != nil || got.ID != u.ID {
			t.Fatalf("auth: %+v, %v", got, err)
		}
		for _, bad := range []string{"", "ldk_", plain[:len(plain)-1] + "x", "Bearer " + plain, "ldk_" + plain[4:] + "a"} {
			if _, err := s.AuthenticateToken(ctx, bad); !errors.Is(err, accounts.ErrInvalidCredentials) {
				t.Fatalf("%q: %v", bad, err)
			}
		}
		if _, _, err := s.IssueToken(ctx, 9999, "x"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("token for unknown user: %v", err)
		}

		// Someone else cannot revoke it; its owner can, twice.
		if err := s.RevokeToken(ctx, other.ID, tok.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("revoke by other: %v", err)
		}
		if _, err := s.AuthenticateToken(ctx, plain); err != nil {
			t.Fatalf("token died after a foreign revoke: %v", err)
		}
		clk.Advance(time.Second)
		if err := s.RevokeToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
		if err := s.RevokeToken(ctx, u.ID, tok.ID+100); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, err := s.AuthenticateToken(ctx, plain); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("revoked token: %v", err)
		}
		list, err := s.ListTokens(ctx, u.ID)
		if err != nil || len(list) != 1 || list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("list: %+v, %v", list, err)
		}
		if l, _ := s.ListTokens(ctx, other.ID); len(l) != 0 {
			t.Fatalf("other's tokens: %+v", l)
		}
	})
}

func TestTokenOfInactiveUser(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "gone@example.com")
		plain, _, err := s.IssueToken(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, plain); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("inactive owner: %v", err)
		}
		if _, _, err := s.IssueToken(ctx, u.ID, ""); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("issue for inactive: %v", err)
		}
	})
}

func TestTokenLastUsedThrottled(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		s := newService(db, clk)
		u := mustUser(t, s, "lu@example.com")
		plain, tok, err := s.IssueToken(ctx, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() time.Time {
			t.Helper()
			l, err := s.ListTokens(ctx, u.ID)
			if err != nil || len(l) != 1 || l[0].ID != tok.ID || l[0].LastUsedAt == nil {
				t.Fatalf("list: %+v, %v", l, err)
			}
			return *l[0].LastUsedAt
		}
		use := func() {
			t.Helper()
			if _, err := s.AuthenticateToken(ctx, plain); err != nil {
				t.Fatal(err)
			}
		}
		first := clk.Now().Truncate(time.Millisecond)
		use()
		if got := lastUsed(); !got.Equal(first) {
			t.Fatalf("first use recorded %v, want %v", got, first)
		}
		clk.Advance(59 * time.Second)
		use()
		if got := lastUsed(); !got.Equal(first) {
			t.Fatalf("use within a minute wrote %v", got)
		}
		clk.Advance(2 * time.Second)
		use()
		if got := lastUsed(); !got.Equal(clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("use after a minute: %v, want %v", got, clk.Now())
		}
	})
}

// Another replica (a second Service on the same database) revokes a token
// or deactivates its owner: this replica keeps trusting its cached answer
// for at most the token cache TTL. Changes made through this replica itself
// take effect at once.
func TestTokenCacheAcrossReplicas(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		here := newService(db, clk)
		there := newService(db, clk)
		u := mustUser(t, here, "replica@example.com")
		auth := func(s *accounts.Service, plain string) error {
			t.Helper()
			got, err := s.AuthenticateToken(ctx, plain)
			if err == nil && got.ID != u.ID {
				t.Fatalf("token of %d authenticated %d", u.ID, got.ID)
			}
			return err
		}

		plain, tok, err := here.IssueToken(ctx, u.ID, "revoked elsewhere")
		if err != nil {
			t.Fatal(err)
		}
		if err := auth(here, plain); err != nil {
			t.Fatal(err)
		}
		if err := there.RevokeToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := auth(there, plain); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("revoking replica still accepts the token: %v", err)
		}
		clk.Advance(accounts.DefaultTokenCacheTTL - time.Millisecond)
		if err := auth(here, plain); err != nil {
			t.Fatalf("within the TTL the cached token should still pass: %v", err)
		}
		clk.Advance(time.Millisecond)
		if err := auth(here, plain); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("revoked token still accepted after the TTL: %v", err)
		}

		// Deactivated elsewhere: the same bound.
		plain2, _, err := here.IssueToken(ctx, u.ID, "owner deactivated elsewhere")
		if err != nil {
			t.Fatal(err)
		}
		if err := auth(here, plain2); err != nil {
			t.Fatal(err)
		}
		if _, err := there.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(accounts.DefaultTokenCacheTTL)
		if err := auth(here, plain2); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("deactivated owner after the TTL: %v", err)
		}

		// Through this replica: at once, cached or not.
		if _, err := here.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if err := auth(here, plain2); err != nil {
			t.Fatal(err)
		}
		if _, err := here.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if err := auth(here, plain2); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("deactivated here, still cached: %v", err)
		}
	})
}

// WithTokenCacheTTL(0) turns the cache off: a revocation anywhere is seen
// by the next request.
func TestTokenCacheOff(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		here := accounts.New(db, accounts.WithClock(clk.Now), accounts.WithTokenCacheTTL(0))
		there := newService(db, clk)
		u := mustUser(t, there, "nocache@example.com")
		plain, tok, err := there.IssueToken(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := here.AuthenticateToken(ctx, plain); err != nil {
			t.Fatal(err)
		}
		if err := there.RevokeToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := here.AuthenticateToken(ctx, plain); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("uncached replica accepted a revoked token: %v", err)
		}
	})
}

// A cached user is a copy: changing what AuthenticateToken returned does
// not change what the next request sees.
func TestTokenCacheReturnsCopies(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "copy@example.com", accounts.RoleAgent)
		plain, _, err := s.IssueToken(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			got, err := s.AuthenticateToken(ctx, plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Roles) != 1 || got.Roles[0] != accounts.RoleAgent {
				t.Fatalf("round %d: roles %v", i, got.Roles)
			}
			got.Roles[0] = accounts.RoleAdmin
		}
	})
}

// Requests racing a revocation on the same replica: once RevokeToken has
// returned, no request accepts the token, whatever the cache held or was
// filling at the time.
func TestTokenCacheRevocationRace(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "race@example.com")
		plain, tok, err := s.IssueToken(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		var revoked atomic.Bool
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					after := revoked.Load()
					_, err := s.AuthenticateToken(ctx, plain)
					if after && err == nil {
						t.Error("token accepted after RevokeToken returned")
						return
					}
					if err != nil && !errors.Is(err, accounts.ErrInvalidCredentials) {
						t.Error(err)
						return
					}
				}
			}()
		}
		if err := s.RevokeToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		wg.Wait()
	})
}
