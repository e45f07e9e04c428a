package sla_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/sla/ticketsactor"
	"github.com/loopdesk/loopdesk/tickets"
)

var ctx = context.Background()

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// recTimer stands in for the asynq timers in engine tests, where time is
// simulated: it keeps what is scheduled so the test can fire due timers
// the way a worker would. The real asynq path is covered end to end.
type recTimer struct {
	mu        sync.Mutex
	pending   map[string]timerEntry
	scheduled int // Schedule calls
	cancelled int // Cancel calls
}

type timerEntry struct {
	at       time.Time
	ticketID int64
}

func (r *recTimer) Schedule(_ context.Context, id string, at time.Time, ticketID int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scheduled++
	r.pending[id] = timerEntry{at, ticketID}
	return nil
}

func (r *recTimer) Cancel(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelled++
	delete(r.pending, id)
	return nil
}

type env struct {
	t      *testing.T
	db     *database.DB
	clk    *fakeClock
	acc    *accounts.Service
	tk     *tickets.Service
	svc    *sla.Service
	timer  *recTimer
	admin  accounts.User
	agent  accounts.User
	cust   accounts.User
	n      int
	seenID int64 // last outbox event handed to the engine
}

// start: Friday 2026-03-06 07:00 UTC = 15:00 in Shanghai.
var start = time.Date(2026, 3, 6, 7, 0, 0, 0, time.UTC)

// newEnv arms every instant's timer as soon as it is computed (no
// horizon): simulated time jumps hours at once, with no cron in between.
// newEnvWith takes the service's options instead (TestTimerHorizon).
func newEnv(t *testing.T, db *database.DB) *env {
	t.Helper()
	return newEnvWith(t, db, sla.WithTimerHorizon(0))
}

func newEnvWith(t *testing.T, db *database.DB, opts ...sla.Option) *env {
	t.Helper()
	clk := &fakeClock{t: start}
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost), accounts.WithClock(clk.Now))
	tk := tickets.New(db, acc, tickets.WithClock(clk.Now))
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	timer := &recTimer{pending: map[string]timerEntry{}}
	e := &env{t: t, db: db, clk: clk, acc: acc, tk: tk, timer: timer,
		svc: sla.New(db, tk, append([]sla.Option{sla.WithClock(clk.Now), sla.WithTimer(timer),
			sla.WithActor(ticketsactor.Actor{Tickets: tk})}, opts...)...)}
	e.admin = e.user("admin", accounts.RoleAdmin)
	e.agent = e.user("agent", accounts.RoleAgent)
	e.cust = e.user("customer", accounts.RoleRequester)
	// Events written while setting up (users) are not the engine's.
	e.seenID = e.lastOutboxID()
	return e
}

func (e *env) lastOutboxID() int64 {
	var id int64
	if err := e.db.Model(&outbox.Record{}).Select("COALESCE(MAX(id), 0)").Scan(&id).Error; err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) user(name string, roles ...accounts.Role) accounts.User {
	e.t.Helper()
	e.n++
	u, err := e.acc.CreateUser(ctx, accounts.NewUser{Email: name + strconv.Itoa(e.n) + "@example.com", Name: name, Roles: roles})
	if err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func (e *env) reload(u accounts.User) accounts.User {
	e.t.Helper()
	u, err := e.acc.GetUser(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// drain hands every new outbox event to the engine as the relay and worker
// would: ticket events recompute, recorded events run their actions, policy
// changes recompute everything. It loops until nothing new appears.
func (e *env) drain() {
	e.t.Helper()
	for {
		var recs []outbox.Record
		if err := e.db.Where("id > ?", e.seenID).Order("id").Find(&recs).Error; err != nil {
			e.t.Fatal(err)
		}
		if len(recs) == 0 {
			return
		}
		for _, r := range recs {
			e.seenID = r.ID
			var err error
			switch {
			case r.EventType == sla.EventWarned || r.EventType == sla.EventBreached:
				var ev sla.RecordedEvent
				if err := json.Unmarshal([]byte(r.Payload), &ev); err != nil {
					e.t.Fatal(err)
				}
				err = e.svc.RunActions(ctx, ev)
			case r.EventType == sla.EventPolicyChanged:
				_, err = e.svc.RecomputeAll(ctx)
			case r.AggregateType == "ticket":
				id, _ := strconv.ParseInt(r.AggregateID, 10, 64)
				err = e.svc.Recompute(ctx, id)
			}
			if err != nil {
				e.t.Fatalf("handle %s: %v", r.EventType, err)
			}
		}
	}
}

// fireDue fires every timer whose instant has come, like the worker.
func (e *env) fireDue() int {
	e.t.Helper()
	now := e.clk.Now()
	e.timer.mu.Lock()
	var due []timerEntry
	for id, te := range e.timer.pending {
		if !te.at.After(now) {
			due = append(due, te)
			delete(e.timer.pending, id)
		}
	}
	e.timer.mu.Unlock()
	for _, te := range due {
		if err := e.svc.Fire(ctx, te.ticketID, te.at); err != nil {
			e.t.Fatal(err)
		}
	}
	e.drain()
	return len(due)
}

// at advances the simulated time to t, firing timers on the way.
func (e *env) at(t time.Time) {
	e.t.Helper()
	e.clk.Set(t)
	e.fireDue()
}

func (e *env) policy(p sla.Policy) sla.Policy {
	e.t.Helper()
	p.Active = true
	out, err := e.svc.CreatePolicy(ctx, p)
	if err != nil {
		e.t.Fatalf("create policy: %v", err)
	}
	e.drain()
	return out
}

func (e *env) create(in tickets.NewTicket) tickets.Ticket {
	e.t.Helper()
	if in.Subject == "" {
		in.Subject = "Card not arrived"
	}
	if in.RequesterID == 0 {
		in.RequesterID = e.cust.ID
	}
	tk, err := e.tk.Create(ctx, e.agent, in)
	if err != nil {
		e.t.Fatalf("create ticket: %v", err)
	}
	e.drain()
	return tk
}

func (e *env) fire(actor accounts.User, id int64, event string, fields map[string]string) {
	e.t.Helper()
	if _, err := e.tk.Fire(ctx, actor, id, 0, tickets.Transition{Event: event, Fields: fields}); err != nil {
		e.t.Fatalf("fire %s: %v", event, err)
	}
	e.drain()
}

func (e *env) reply(actor accounts.User, id int64, body string) {
	e.t.Helper()
	if _, err := e.tk.AddComment(ctx, actor, id, tickets.NewComment{Body: body}); err != nil {
		e.t.Fatalf("comment: %v", err)
	}
	e.drain()
}

func (e *env) clock(id int64, m sla.Metric) sla.Clock {
	e.t.Helper()
	cs, err := e.svc.Clocks(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs {
		if c.Metric == m {
			return c
		}
	}
	e.t.Fatalf("ticket %d has no %s clock (has %d clocks)", id, m, len(cs))
	return sla.Clock{}
}

func (e *env) noClock(id int64, m sla.Metric) {
	e.t.Helper()
	cs, err := e.svc.Clocks(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if slices.ContainsFunc(cs, func(c sla.Clock) bool { return c.Metric == m }) {
		e.t.Fatalf("ticket %d has a %s clock; want none", id, m)
	}
}

// recorded counts sla_events rows of a kind for a ticket.
func (e *env) recorded(id int64, kind string) int {
	e.t.Helper()
	var n int64
	if err := e.db.Table("sla_events").Where("ticket_id = ? AND kind = ?", id, kind).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

func (e *env) history(id int64) []tickets.HistoryEntry {
	e.t.Helper()
	h, err := e.tk.History(ctx, e.admin, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func wantTime(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %s", what, want.UTC())
	}
	if !got.Equal(want) {
		t.Fatalf("%s = %s, want %s", what, got.UTC(), want.UTC())
	}
}

func hours(h float64) sla.Duration { return sla.Duration(time.Duration(h * float64(time.Hour))) }
