package tickets_test

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/tickets"
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

// env is a tickets service with the usual cast of users.
type env struct {
	t     testing.TB
	db    *database.DB
	clk   *fakeClock
	acc   *accounts.Service
	svc   *tickets.Service
	admin accounts.User
	agent accounts.User
	cust  accounts.User // requester
	n     int
}

func newEnv(t testing.TB, db *database.DB) *env {
	t.Helper()
	clk := newClock()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost), accounts.WithClock(clk.Now))
	e := &env{t: t, db: db, clk: clk, acc: acc, svc: tickets.New(db, acc, tickets.WithClock(clk.Now))}
	if err := e.svc.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	e.admin = e.user("admin", accounts.RoleAdmin)
	e.agent = e.user("agent", accounts.RoleAgent)
	e.cust = e.user("customer", accounts.RoleRequester)
	return e
}

// user creates a user; the returned value carries roles and departments as
// the API would load them.
func (e *env) user(name string, roles ...accounts.Role) accounts.User {
	e.t.Helper()
	e.n++
	u, err := e.acc.CreateUser(ctx, accounts.NewUser{Email: name + strconv.Itoa(e.n) + "@example.com", Name: name, Roles: roles})
	if err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// reload re-reads a user (after department membership changes).
func (e *env) reload(u accounts.User) accounts.User {
	e.t.Helper()
	u, err := e.acc.GetUser(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) dept(in accounts.NewDepartment) accounts.Department {
	e.t.Helper()
	d, err := e.acc.CreateDepartment(ctx, in)
	if err != nil {
		e.t.Fatalf("create department %s: %v", in.Name, err)
	}
	return d
}

func (e *env) create(actor accounts.User, in tickets.NewTicket) tickets.Ticket {
	e.t.Helper()
	if in.Subject == "" {
		in.Subject = "Printer on fire"
	}
	tk, err := e.svc.Create(ctx, actor, in)
	if err != nil {
		e.t.Fatalf("create ticket: %v", err)
	}
	return tk
}

func (e *env) fire(actor accounts.User, id int64, event string, fields map[string]string) tickets.Ticket {
	e.t.Helper()
	tk, err := e.svc.Fire(ctx, actor, id, 0, tickets.Transition{Event: event, Fields: fields})
	if err != nil {
		e.t.Fatalf("fire %s: %v", event, err)
	}
	return tk
}

func (e *env) outbox() []outbox.Record {
	e.t.Helper()
	var recs []outbox.Record
	if err := e.db.Order("id").Find(&recs).Error; err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *env) outboxCount() int { return len(e.outbox()) }

// eventsOf lists the event types written for ticket id, in order.
func (e *env) eventsOf(id int64) []string {
	var out []string
	for _, r := range e.outbox() {
		if r.AggregateType == "ticket" && r.AggregateID == strconv.FormatInt(id, 10) {
			out = append(out, r.EventType)
		}
	}
	return out
}

// fieldsOf returns the sorted field names of a *ValidationError.
func fieldsOf(t testing.TB, err error) []string {
	t.Helper()
	var ve *accounts.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *accounts.ValidationError, got %T %v", err, err)
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Field
	}
	sort.Strings(out)
	return out
}

func ptr[T any](v T) *T { return &v }

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
