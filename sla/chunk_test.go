package sla_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// TestChunkedRecomputeMatchesOneByOne: RecomputeAll and the sweep recompute
// tickets in chunks, one transaction each; recomputing every ticket alone
// afterwards must find nothing left to change. The policy change below makes
// a chunk create clocks (a new target), rewrite them (breaches), drop one
// (a removed target) and drop all of a ticket's (no policy matches), for
// more tickets than one chunk holds.
func TestChunkedRecomputeMatchesOneByOne(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		std := e.policy(sla.Policy{Name: "standard", Position: 10, Targets: []sla.Target{
			{Metric: sla.Resolution, Within: hours(8), WarnBefore: hours(1)},
			{Metric: sla.NextResponse, Within: hours(4)},
		}})
		e.policy(sla.Policy{Name: "urgent", Position: 1, Match: sla.Match{Priority: []string{"P1"}},
			Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1)}}})
		prios := []string{"P1", "P2", "P3", "P4"}
		var ids []int64
		for i := range 70 {
			tk := e.create(tickets.NewTicket{Priority: prios[i%4]})
			ids = append(ids, tk.ID)
			if i%3 == 0 {
				e.reply(e.cust, tk.ID, "Any news?")
			}
			if i%5 == 0 {
				e.reply(e.agent, tk.ID, "Looking into it.")
			}
		}
		// Three hours on, no timer fired; the standard policy now leaves P4
		// out, promises a first response, drops next response and shortens
		// resolution to 2 h: every P2/P3 ticket is breached as of the change.
		e.clk.Advance(3 * time.Hour)
		std.Match = sla.Match{Priority: []string{"P2", "P3"}}
		std.Targets = []sla.Target{
			{Metric: sla.Resolution, Within: hours(2)},
			{Metric: sla.FirstResponse, Within: hours(1)},
		}
		if _, err := e.svc.UpdatePolicy(ctx, std.ID, std.Version, std); err != nil {
			t.Fatal(err)
		}
		e.drain()

		before, err := e.svc.ClocksFor(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		hist, events := e.count("ticket_history", "kind = 'sla'"), e.count("sla_events", "1 = 1")
		for i, id := range ids {
			switch prios[i%4] {
			case "P4":
				if len(before[id]) != 0 {
					t.Fatalf("P4 ticket %d keeps %d clocks; no policy matches it", id, len(before[id]))
				}
			case "P2", "P3":
				e.clock(id, sla.FirstResponse)
				e.noClock(id, sla.NextResponse)
				want := 2 // resolution and first response
				if i%5 == 0 {
					want = 1 // the agent answered within the hour
				}
				if n := e.recorded(id, sla.KindBreach); n != want {
					t.Fatalf("ticket %d: %d breaches, want %d", id, n, want)
				}
			case "P1":
				c := e.clock(id, sla.Resolution)
				wantTime(t, "P1 breach", c.BreachedAt, c.StartedAt.Add(time.Hour))
			}
		}

		for _, id := range ids {
			if err := e.svc.Recompute(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		after, err := e.svc.ClocksFor(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !reflect.DeepEqual(before[id], after[id]) {
				t.Fatalf("ticket %d: chunked recompute stored\n%+v\none by one stores\n%+v", id, before[id], after[id])
			}
		}
		if h, ev := e.count("ticket_history", "kind = 'sla'"), e.count("sla_events", "1 = 1"); h != hist || ev != events {
			t.Fatalf("recomputing alone added %d history entries and %d events; the chunks left nothing to do", h-hist, ev-events)
		}
	})
}

func (e *env) count(table, where string) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Table(table).Where(where).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestConcurrentFiringsRecordOnce: timers that fire together are recomputed
// in shared chunks; every firing returns once its ticket is recomputed, and
// each breach is recorded once, even for a ticket whose timer fires twice.
func TestConcurrentFiringsRecordOnce(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "fast", Targets: []sla.Target{{Metric: sla.Resolution, Within: hours(1)}}})
		var ids []int64
		for range 60 {
			ids = append(ids, e.create(tickets.NewTicket{}).ID)
		}
		due := e.clock(ids[0], sla.Resolution).DueAt
		e.clk.Advance(2 * time.Hour)
		errs := make(chan error, 2*len(ids))
		for i, id := range ids {
			go func() { errs <- e.svc.Fire(ctx, id, *due) }()
			if i%4 == 0 {
				go func() { errs <- e.svc.Fire(ctx, id, *due) }()
			}
		}
		for range len(ids) + (len(ids)+3)/4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			if n := e.recorded(id, sla.KindBreach); n != 1 {
				t.Fatalf("ticket %d: %d breaches recorded, want 1", id, n)
			}
			if c := e.clock(id, sla.Resolution); c.BreachedAt == nil {
				t.Fatalf("ticket %d: clock not marked breached", id)
			}
		}
	})
}
