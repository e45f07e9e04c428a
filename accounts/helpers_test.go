package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
)

var ctx = context.Background()

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(db *database.DB, clk *fakeClock) *accounts.Service {
	return accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost), accounts.WithClock(clk.Now))
}

func mustUser(t *testing.T, s *accounts.Service, email string, roles ...accounts.Role) accounts.User {
	t.Helper()
	if len(roles) == 0 {
		roles = []accounts.Role{accounts.RoleAgent}
	}
	u, err := s.CreateUser(ctx, accounts.NewUser{Email: email, Name: "User " + email, Password: "correct horse", Roles: roles})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

func mustDept(t *testing.T, s *accounts.Service, in accounts.NewDepartment) accounts.Department {
	t.Helper()
	d, err := s.CreateDepartment(ctx, in)
	if err != nil {
		t.Fatalf("create department %s: %v", in.Name, err)
	}
	return d
}

// fields returns the field names of a *ValidationError, failing otherwise.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *accounts.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Field
	}
	return out
}

func events(t *testing.T, db *database.DB) []outbox.Record {
	t.Helper()
	var recs []outbox.Record
	if err := db.Order("id").Find(&recs).Error; err != nil {
		t.Fatal(err)
	}
	return recs
}

func eventsOf(t *testing.T, db *database.DB, typ, aggID string) []outbox.Record {
	t.Helper()
	var out []outbox.Record
	for _, r := range events(t, db) {
		if r.EventType == typ && r.AggregateID == aggID {
			out = append(out, r)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
