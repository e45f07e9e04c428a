package tickets_test

import (
	"slices"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

// clockAt stores one SLA clock row the way the SLA engine does.
func (e *env) clockAt(ticketID int64, metric, state string, due, breached *time.Time) {
	e.t.Helper()
	now := e.clk.Now().UTC().Truncate(time.Millisecond)
	err := e.db.Exec(`INSERT INTO sla_clocks (ticket_id, metric, policy_id, target_ms, cycle, state, started_at, elapsed_ms,
  due_at, breached_at, updated_at) VALUES (?, ?, 1, 3600000, 1, ?, ?, 0, ?, ?, ?)`,
		ticketID, metric, state, now, due, breached, now).Error
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestListSLAFilters(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		member := e.user("member", accounts.RoleDepartmentMember)
		ops := e.dept(accounts.NewDepartment{Name: "Ops", MemberIDs: []int64{member.ID}})
		member = e.reload(member)
		now := e.clk.Now().UTC().Truncate(time.Millisecond)
		at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
		mk := func() int64 { return e.create(e.agent, tickets.NewTicket{}).ID }

		breachedOpen := mk()
		e.clockAt(breachedOpen, "first_response", "stopped", nil, at(-time.Hour))
		e.clockAt(breachedOpen, "resolution", "running", at(3*time.Hour), nil)
		breachedClosed := mk()
		e.clockAt(breachedClosed, "resolution", "stopped", nil, at(-2*time.Hour))
		if err := db.Exec("UPDATE tickets SET status = 'closed', status_category = 'closed' WHERE id = ?", breachedClosed).Error; err != nil {
			t.Fatal(err)
		}
		soon := mk() // due in 30 minutes
		e.clockAt(soon, "first_response", "running", at(30*time.Minute), nil)
		later := mk() // due in 90 minutes
		e.clockAt(later, "resolution", "running", at(90*time.Minute), nil)
		paused := mk() // paused clocks are not coming due
		e.clockAt(paused, "resolution", "paused", at(10*time.Minute), nil)
		soonButBreached := mk() // breached already: listed as breached, not due soon
		e.clockAt(soonButBreached, "next_response", "running", at(10*time.Minute), at(-time.Minute))
		overdue := mk() // due passed, breach not recorded yet: not "due soon"
		e.clockAt(overdue, "first_response", "running", at(-time.Minute), nil)
		mk() // no clocks at all
		inOps := e.create(e.agent, tickets.NewTicket{DepartmentID: &ops.ID}).ID
		e.clockAt(inOps, "first_response", "running", at(5*time.Minute), nil)

		got := func(actor accounts.User, f tickets.Filter) []int64 {
			t.Helper()
			out := ids(listAll(t, e, actor, f, 2))
			slices.Sort(out)
			return out
		}
		want := func(ids ...int64) []int64 { slices.Sort(ids); return ids }
		for _, tc := range []struct {
			name  string
			actor accounts.User
			f     tickets.Filter
			want  []int64
		}{
			{"breached", e.agent, tickets.Filter{SLA: tickets.SLABreached}, want(breachedOpen, soonButBreached)},
			{"due soon, 60 minutes by default", e.agent, tickets.Filter{SLA: tickets.SLADueSoon}, want(soon, inOps)},
			{"due within 2h", e.agent, tickets.Filter{SLA: tickets.SLADueSoon, SLADueWithin: 2 * time.Hour}, want(soon, later, inOps)},
			{"due within 1 minute", e.agent, tickets.Filter{SLA: tickets.SLADueSoon, SLADueWithin: time.Minute}, want()},
			{"due within 4h (a clock per ticket is enough)", e.agent, tickets.Filter{SLA: tickets.SLADueSoon, SLADueWithin: 4 * time.Hour},
				want(breachedOpen, soon, later, inOps)},
			{"with other filters", e.agent, tickets.Filter{SLA: tickets.SLADueSoon, DepartmentID: &ops.ID}, want(inOps)},
			{"sorted by priority", e.agent, tickets.Filter{SLA: tickets.SLABreached, Sort: tickets.SortPriority}, want(breachedOpen, soonButBreached)},
			{"in a member's scope", member, tickets.Filter{SLA: tickets.SLADueSoon}, want(inOps)},
			{"nothing breached in a member's scope", member, tickets.Filter{SLA: tickets.SLABreached}, want()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if g := got(tc.actor, tc.f); !slices.Equal(g, tc.want) {
					t.Fatalf("got %v, want %v", g, tc.want)
				}
			})
		}

		// Time moves: the 90-minute clock comes within the default hour.
		e.clk.Advance(45 * time.Minute)
		if g := got(e.agent, tickets.Filter{SLA: tickets.SLADueSoon}); !slices.Equal(g, want(later)) {
			t.Fatalf("after 45 minutes: got %v, want [%d]", g, later)
		}

		for _, tc := range []struct {
			f      tickets.Filter
			fields []string
		}{
			{tickets.Filter{SLA: "late"}, []string{"sla"}},
			{tickets.Filter{SLA: tickets.SLABreached, SLADueWithin: time.Hour}, []string{"due_within_minutes"}},
			{tickets.Filter{SLA: tickets.SLADueSoon, SLADueWithin: -time.Minute}, []string{"due_within_minutes"}},
			{tickets.Filter{SLA: tickets.SLADueSoon, SLADueWithin: 365 * 24 * time.Hour}, []string{"due_within_minutes"}},
		} {
			_, err := e.svc.List(ctx, e.agent, tc.f, "", 10)
			if got := fieldsOf(t, err); !eqStrings(got, tc.fields) {
				t.Errorf("%+v: fields %v, want %v", tc.f, got, tc.fields)
			}
		}
	})
}
