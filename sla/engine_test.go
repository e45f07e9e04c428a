package sla_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

func officeHours(e *env) sla.Calendar {
	e.t.Helper()
	c := sla.Calendar{Name: "Shanghai office", TimeZone: "Asia/Shanghai", Holidays: []string{"2026-03-09"}}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Hours[d] = []sla.Interval{{Start: 9 * 60, End: 17 * 60}}
	}
	out, err := e.svc.CreateCalendar(ctx, c)
	if err != nil {
		e.t.Fatalf("create calendar: %v", err)
	}
	return out
}

func TestDeadlineAcrossWeekendAndHoliday(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		cal := officeHours(e)
		e.policy(sla.Policy{Name: "office", CalendarID: &cal.ID, Targets: []sla.Target{
			{Metric: sla.Resolution, Within: hours(4), WarnBefore: hours(1)},
		}})
		// Friday 15:00 Shanghai: 2h on Friday, weekend, Monday is a holiday,
		// so the last 2h are Tuesday 09:00-11:00 (03:00 UTC).
		tk := e.create(tickets.NewTicket{})
		c := e.clock(tk.ID, sla.Resolution)
		due := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)
		wantTime(t, "due_at", c.DueAt, due)
		wantTime(t, "warn_at", c.WarnAt, due.Add(-time.Hour))
		if c.State != sla.ClockRunning {
			t.Fatalf("state %s, want running", c.State)
		}

		// Monday (holiday) noon: nothing is recorded yet.
		e.at(time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC))
		if n := e.recorded(tk.ID, sla.KindWarning); n != 0 {
			t.Fatalf("warning recorded on a holiday: %d", n)
		}
		e.at(due.Add(-time.Hour))
		if n := e.recorded(tk.ID, sla.KindWarning); n != 1 {
			t.Fatalf("warnings recorded at the warning point: %d, want 1", n)
		}
		e.at(due)
		c = e.clock(tk.ID, sla.Resolution)
		wantTime(t, "breached_at", c.BreachedAt, due)
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches recorded: %d, want 1", n)
		}
		var sawBreach bool
		for _, h := range e.history(tk.ID) {
			if h.Kind == tickets.KindSLA && strings.Contains(h.Note, "breached") {
				sawBreach = true
			}
		}
		if !sawBreach {
			t.Fatal("the ticket history has no SLA breach entry")
		}
	})
}

func TestPauseWhileWaitingForCustomer(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "24x7", Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(2)}}})
		tk := e.create(tickets.NewTicket{})
		t0 := e.clk.Now()
		wantTime(t, "due_at", e.clock(tk.ID, sla.Resolution).DueAt, t0.Add(2*time.Hour))

		e.at(t0.Add(30 * time.Minute))
		e.fire(e.agent, tk.ID, "open", nil)
		e.fire(e.agent, tk.ID, "wait_customer", nil)
		c := e.clock(tk.ID, sla.Resolution)
		if c.State != sla.ClockPaused || c.DueAt != nil {
			t.Fatalf("waiting for the customer: state %s due %v, want paused with no due time", c.State, c.DueAt)
		}
		if c.Elapsed != 30*time.Minute {
			t.Fatalf("elapsed while paused = %s, want 30m", c.Elapsed)
		}
		// Three hours of waiting: past the original due time, no breach.
		e.at(t0.Add(3*time.Hour + 30*time.Minute))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 0 {
			t.Fatalf("a paused clock breached")
		}
		e.fire(e.agent, tk.ID, "customer_replied", nil)
		c = e.clock(tk.ID, sla.Resolution)
		// 30m counted, 1h30m left from now.
		wantTime(t, "due_at after resuming", c.DueAt, t0.Add(5*time.Hour))
		if c.State != sla.ClockRunning {
			t.Fatalf("state %s after resuming, want running", c.State)
		}
		e.at(t0.Add(5 * time.Hour))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches after the moved due time: %d, want 1", n)
		}
	})
}

func TestNextResponseRestartsOnRequesterReply(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "responses", Targets: []sla.Target{
			{Metric: sla.FirstResponse, Within: hours(1)},
			{Metric: sla.NextResponse, Within: hours(0.5)},
		}})
		tk := e.create(tickets.NewTicket{})
		t0 := e.clk.Now()
		e.noClock(tk.ID, sla.NextResponse)
		// A requester reply before the first response does not start it.
		e.at(t0.Add(5 * time.Minute))
		e.reply(e.cust, tk.ID, "any news?")
		e.noClock(tk.ID, sla.NextResponse)

		e.at(t0.Add(10 * time.Minute))
		e.reply(e.agent, tk.ID, "Looking into it")
		fr := e.clock(tk.ID, sla.FirstResponse)
		wantTime(t, "first response met_at", fr.MetAt, t0.Add(10*time.Minute))
		if fr.State != sla.ClockStopped || fr.BreachedAt != nil {
			t.Fatalf("first response after being met: %+v", fr)
		}

		e.at(t0.Add(20 * time.Minute))
		e.reply(e.cust, tk.ID, "It is urgent")
		nr := e.clock(tk.ID, sla.NextResponse)
		if nr.Cycle != 1 {
			t.Fatalf("cycle %d, want 1", nr.Cycle)
		}
		wantTime(t, "next response due", nr.DueAt, t0.Add(50*time.Minute))

		e.at(t0.Add(30 * time.Minute))
		e.reply(e.agent, tk.ID, "Replacement card sent")
		wantTime(t, "next response met", e.clock(tk.ID, sla.NextResponse).MetAt, t0.Add(30*time.Minute))

		// The next requester reply restarts the clock: a new cycle, which
		// then breaches on its own.
		e.at(t0.Add(60 * time.Minute))
		e.reply(e.cust, tk.ID, "Still nothing")
		nr = e.clock(tk.ID, sla.NextResponse)
		if nr.Cycle != 2 || nr.MetAt != nil {
			t.Fatalf("after a second requester reply: cycle %d met %v, want cycle 2 unmet", nr.Cycle, nr.MetAt)
		}
		wantTime(t, "second cycle due", nr.DueAt, t0.Add(90*time.Minute))
		e.at(t0.Add(91 * time.Minute))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches: %d, want 1 (cycle 2 only)", n)
		}
	})
}

func TestPolicyChangeRecomputesFromHistory(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		std := e.policy(sla.Policy{Name: "standard", Position: 10, Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(8)}}})
		e.policy(sla.Policy{Name: "urgent", Position: 1, Match: sla.Match{Priority: []string{"P1"}},
			Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1)}}})
		tk := e.create(tickets.NewTicket{Priority: "P3"})
		t0 := e.clk.Now()
		wantTime(t, "standard due", e.clock(tk.ID, sla.Resolution).DueAt, t0.Add(8*time.Hour))

		// Raising the priority 30 minutes in: the urgent policy's clock runs
		// from creation, not from the change.
		e.at(t0.Add(30 * time.Minute))
		p1 := "P1"
		if _, err := e.tk.Update(ctx, e.agent, tk.ID, 0, tickets.Patch{Priority: &p1}); err != nil {
			t.Fatal(err)
		}
		e.drain()
		c := e.clock(tk.ID, sla.Resolution)
		wantTime(t, "urgent due", c.DueAt, t0.Add(time.Hour))

		// A policy edit that makes the standard target 2h, on another ticket
		// created at t0: three hours in, it is breached as of t0+2h, once.
		other := e.create(tickets.NewTicket{Priority: "P4"})
		t1 := e.clk.Now()
		e.clk.Set(t1.Add(3 * time.Hour)) // no timers fire: the change must catch it
		std.Targets[0].Within = hours(2)
		if _, err := e.svc.UpdatePolicy(ctx, std.ID, std.Version, std); err != nil {
			t.Fatal(err)
		}
		e.drain()
		oc := e.clock(other.ID, sla.Resolution)
		wantTime(t, "breached_at after the policy change", oc.BreachedAt, t1.Add(2*time.Hour))
		if n := e.recorded(other.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches: %d, want 1", n)
		}
		// A stale version is refused.
		if _, err := e.svc.UpdatePolicy(ctx, std.ID, std.Version, std); err != accounts.ErrVersionConflict {
			t.Fatalf("stale update: %v, want version conflict", err)
		}
	})
}

func TestBreachEscalatesToDepartmentLead(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		lead := e.user("lead", accounts.RoleDepartmentMember)
		member := e.user("member", accounts.RoleDepartmentMember)
		dept, err := e.acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Cards", LeadID: &lead.ID, MemberIDs: []int64{lead.ID, member.ID}})
		if err != nil {
			t.Fatal(err)
		}
		e.policy(sla.Policy{Name: "cards", Match: sla.Match{DepartmentID: []int64{dept.ID}}, Targets: []sla.Target{{
			Metric: sla.Resolution, Within: hours(2), WarnPercent: 75,
			OnWarning: []sla.Action{{Action: sla.ActionRaisePriority}},
			OnBreach:  []sla.Action{{Action: sla.ActionEscalate, Kind: "hierarchical"}},
		}}})
		tk := e.create(tickets.NewTicket{DepartmentID: &dept.ID, AssigneeID: &member.ID, Priority: "P3"})
		t0 := e.clk.Now()
		e.fire(e.reload(member), tk.ID, "pick_up", nil)

		e.at(t0.Add(90 * time.Minute))
		got, err := e.tk.Get(ctx, e.admin, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Priority != "P2" {
			t.Fatalf("priority after the warning: %s, want P2", got.Priority)
		}
		e.at(t0.Add(2 * time.Hour))
		got, err = e.tk.Get(ctx, e.admin, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AssigneeID == nil || *got.AssigneeID != lead.ID {
			t.Fatalf("assignee after the breach: %v, want the lead %d", got.AssigneeID, lead.ID)
		}
		escs, err := e.tk.Escalations(ctx, e.admin, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(escs) != 1 || escs[0].Kind != tickets.EscalationHierarchical || !strings.Contains(escs[0].Reason, "breach") {
			t.Fatalf("escalations: %+v, want one hierarchical escalation naming the breach", escs)
		}
		// Handling the same breach event again does not escalate twice.
		e.seenID = 0
		e.drain()
		if escs, _ = e.tk.Escalations(ctx, e.admin, tk.ID); len(escs) != 1 {
			t.Fatalf("escalations after redelivery: %d, want 1", len(escs))
		}
	})
}

func TestSweepRecordsBreachMissedWhileWorkerDown(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "fast", Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1), WarnBefore: hours(0.25)}}})
		var ids []int64
		for range 5 {
			ids = append(ids, e.create(tickets.NewTicket{}).ID)
		}
		t0 := e.clk.Now()
		// The worker is down: no timer fires. Two hours later a new worker
		// starts and several replicas sweep at once.
		e.clk.Set(t0.Add(2 * time.Hour))
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.svc.Sweep(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		e.fireDue() // the stale timers fire too, late
		if n, err := e.svc.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("second sweep visited %d (err %v), want 0", n, err)
		}
		for _, id := range ids {
			if n := e.recorded(id, sla.KindBreach); n != 1 {
				t.Fatalf("ticket %d: %d breaches recorded, want exactly 1", id, n)
			}
			// The warning point passed together with the breach: only the
			// breach is recorded.
			if n := e.recorded(id, sla.KindWarning); n != 0 {
				t.Fatalf("ticket %d: %d warnings, want 0", id, n)
			}
			wantTime(t, "breached_at", e.clock(id, sla.Resolution).BreachedAt, t0.Add(time.Hour))
		}
	})
}

func TestResolvedInTimeIsMetNotBreached(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "24x7", Targets: []sla.Target{
			{Metric: sla.FirstResponse, Within: hours(1)},
			{Metric: sla.Resolution, Within: hours(4)},
		}})
		tk := e.create(tickets.NewTicket{})
		t0 := e.clk.Now()
		e.at(t0.Add(time.Hour + time.Minute))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("first response breaches: %d, want 1", n)
		}
		e.at(t0.Add(2 * time.Hour))
		e.fire(e.agent, tk.ID, "resolve", map[string]string{"resolution": "Card reissued", "no_article_reason": "one-off"})
		c := e.clock(tk.ID, sla.Resolution)
		wantTime(t, "resolution met_at", c.MetAt, t0.Add(2*time.Hour))
		if c.State != sla.ClockStopped || c.BreachedAt != nil {
			t.Fatalf("resolved in time: %+v", c)
		}
		e.at(t0.Add(10 * time.Hour))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches after resolving in time: %d, want still 1", n)
		}
	})
}

// With a timer horizon (the default), Recompute arms only instants that
// are near; each sweep arms the ones that have come within reach since,
// once. Every warning and breach is still recorded once, by its timer.
func TestTimerHorizon(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnvWith(t, db)
		e.policy(sla.Policy{Name: "urgent", Position: 1, Match: sla.Match{Priority: []string{"P1"}},
			Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1.0 / 30)}}}) // 2 minutes
		e.policy(sla.Policy{Name: "standard", Position: 2,
			Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1), WarnBefore: hours(0.25)}}})
		pending := func() []string {
			e.timer.mu.Lock()
			defer e.timer.mu.Unlock()
			var ids []string
			for id := range e.timer.pending {
				ids = append(ids, id)
			}
			return ids
		}
		counts := func() (int, int) {
			e.timer.mu.Lock()
			defer e.timer.mu.Unlock()
			return e.timer.scheduled, e.timer.cancelled
		}
		sweep := func(want int) {
			t.Helper()
			if n, err := e.svc.Sweep(ctx); err != nil || n != want {
				t.Fatalf("sweep visited %d (err %v), want %d", n, err, want)
			}
		}
		t0 := e.clk.Now()
		urgent := e.create(tickets.NewTicket{Priority: "P1"})
		tk := e.create(tickets.NewTicket{Priority: "P3"})
		// The urgent instant is near: armed at once. The standard warning
		// (t0+45m) is not.
		if got, want := pending(), []string{sla.TimerID(urgent.ID, sla.Resolution, t0.Add(2*time.Minute))}; !slices.Equal(got, want) {
			t.Fatalf("armed at creation: %v, want %v", got, want)
		}
		e.at(t0.Add(2 * time.Minute))
		if n := e.recorded(urgent.ID, sla.KindBreach); n != 1 {
			t.Fatalf("urgent breaches: %d, want 1", n)
		}
		e.clk.Set(t0.Add(30 * time.Minute))
		sweep(0)
		if got := pending(); len(got) != 0 {
			t.Fatalf("armed 15 minutes ahead: %v", got)
		}
		e.clk.Set(t0.Add(44 * time.Minute))
		sweep(0)
		warn := sla.TimerID(tk.ID, sla.Resolution, t0.Add(45*time.Minute))
		if got := pending(); !slices.Equal(got, []string{warn}) {
			t.Fatalf("armed a minute before the warning: %v, want %s", got, warn)
		}
		scheduled, _ := counts()
		sweep(0)
		if again, _ := counts(); again != scheduled {
			t.Fatalf("a second sweep armed %d timers again", again-scheduled)
		}
		e.at(t0.Add(45 * time.Minute))
		if n := e.recorded(tk.ID, sla.KindWarning); n != 1 {
			t.Fatalf("warnings: %d, want 1", n)
		}
		if got := pending(); len(got) != 0 {
			t.Fatalf("the due instant 15 minutes ahead was armed: %v", got)
		}
		e.clk.Set(t0.Add(58*time.Minute + 30*time.Second))
		sweep(0)
		e.at(t0.Add(time.Hour))
		if n := e.recorded(tk.ID, sla.KindBreach); n != 1 {
			t.Fatalf("breaches: %d, want 1", n)
		}
		// No timer was ever armed that had to be cancelled.
		if _, cancelled := counts(); cancelled != 0 {
			t.Fatalf("%d cancels", cancelled)
		}
		// A clock whose instant passed between sweeps with no timer (a
		// process restart lost the in-memory mark and Redis) is recorded
		// by the next sweep, once.
		late := e.create(tickets.NewTicket{Priority: "P3"})
		t1 := e.clk.Now()
		e.clk.Set(t1.Add(2 * time.Hour))
		sweep(1)
		sweep(0)
		if n := e.recorded(late.ID, sla.KindBreach); n != 1 {
			t.Fatalf("late ticket breaches: %d, want 1", n)
		}
		wantTime(t, "breached_at", e.clock(late.ID, sla.Resolution).BreachedAt, t1.Add(time.Hour))
	})
}
