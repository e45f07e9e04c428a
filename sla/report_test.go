package sla_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// The report counts what the engine stored, the same on every database:
// a story of three tickets driven through the real engine.
func TestReportFromEngineClocks(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		e.policy(sla.Policy{Name: "responses", Targets: []sla.Target{
			{Metric: sla.FirstResponse, Within: hours(1)},
			{Metric: sla.NextResponse, Within: hours(0.5)},
			{Metric: sla.Resolution, Within: hours(8)},
		}})
		t0 := e.clk.Now()
		at := func(m int) { e.at(t0.Add(time.Duration(m) * time.Minute)) }
		a := e.create(tickets.NewTicket{Priority: "P1"})
		b := e.create(tickets.NewTicket{Priority: "P2"})
		at(10)
		e.reply(e.agent, a.ID, "on it") // first response met after 10m
		at(20)
		e.reply(e.cust, a.ID, "any news?") // next response, cycle 1
		at(30)
		e.reply(e.agent, a.ID, "soon")        // met after 10m
		at(60)                                // b's first response breaches now
		e.reply(e.cust, a.ID, "still broken") // cycle 2, due at 90
		at(91)                                // cycle 2 breaches
		at(100)
		e.reply(e.agent, a.ID, "sorry") // cycle 2 met late
		e.create(tickets.NewTicket{})   // P3, first response due at 160
		at(110)
		e.reply(e.cust, a.ID, "thanks, one more thing") // cycle 3
		at(115)
		e.reply(e.agent, a.ID, "done") // cycle 3 met after 5m
		at(120)
		e.reply(e.agent, b.ID, "late, sorry") // b's first response met late, after 2h
		if n := e.recorded(b.ID, sla.KindBreach); n != 1 {
			t.Fatalf("b breaches %d, want 1", n)
		}
		if nr := e.clock(a.ID, sla.NextResponse); nr.Cycle != 3 || nr.MetAt == nil || nr.BreachedAt != nil {
			t.Fatalf("a's next response clock %+v", nr)
		}

		rep, err := e.svc.Report(ctx, sla.ReportQuery{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if rep.GroupBy != sla.GroupByMetric || len(rep.Rows) != 3 {
			t.Fatalf("report %+v", rep)
		}
		mins := func(m float64) *time.Duration { d := time.Duration(m * float64(time.Minute)); return &d }
		pct := func(v float64) *float64 { return &v }
		wantRow(t, rep.Rows[0], sla.ReportRow{Metric: sla.FirstResponse, Tickets: 3, Clocks: 3, MetOnTime: 1, Breached: 1, Running: 1,
			CompliancePercent: pct(50), Met: 2, AvgToMet: mins(65), P50ToMet: mins(10), P90ToMet: mins(120)})
		wantRow(t, rep.Rows[1], sla.ReportRow{Metric: sla.NextResponse, Tickets: 1, Clocks: 3, MetOnTime: 2, Breached: 1,
			CompliancePercent: pct(66.67), Met: 1, AvgToMet: mins(5), P50ToMet: mins(5), P90ToMet: mins(5)})
		wantRow(t, rep.Rows[2], sla.ReportRow{Metric: sla.Resolution, Tickets: 3, Clocks: 3, Running: 3})

		rep, err = e.svc.Report(ctx, sla.ReportQuery{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour), GroupBy: sla.GroupByPriority})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range rep.Rows {
			keys = append(keys, r.Priority+"/"+string(r.Metric))
		}
		want := []string{"P1/first_response", "P1/next_response", "P1/resolution", "P2/first_response", "P2/resolution", "P3/first_response", "P3/resolution"}
		if !slices.Equal(keys, want) {
			t.Fatalf("rows %v, want %v", keys, want)
		}
		wantRow(t, rep.Rows[3], sla.ReportRow{Priority: "P2", Metric: sla.FirstResponse, Tickets: 1, Clocks: 1, Breached: 1,
			CompliancePercent: pct(0), Met: 1, AvgToMet: mins(120), P50ToMet: mins(120), P90ToMet: mins(120)})

		// A period before the tickets: the three metrics, all zero.
		rep, err = e.svc.Report(ctx, sla.ReportQuery{From: t0.Add(-48 * time.Hour), To: t0.Add(-24 * time.Hour)})
		if err != nil || len(rep.Rows) != 3 || rep.Rows[0].Tickets != 0 || rep.Rows[0].CompliancePercent != nil {
			t.Fatalf("empty period: %+v %v", rep, err)
		}

		for _, q := range []sla.ReportQuery{
			{From: t0, To: t0, GroupBy: sla.GroupByMetric},
			{From: t0, To: t0.Add(time.Hour), GroupBy: "team"},
			{To: t0},
			{From: t0, To: t0.AddDate(4, 0, 0)},
		} {
			var ve *accounts.ValidationError
			if _, err := e.svc.Report(ctx, q); !errors.As(err, &ve) {
				t.Errorf("%+v: want a validation error, got %v", q, err)
			}
		}
	})
}

func wantRow(t *testing.T, got, want sla.ReportRow) {
	t.Helper()
	eqD := func(a, b *time.Duration) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqF := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	if got.Priority != want.Priority || got.Metric != want.Metric || got.Tickets != want.Tickets || got.Clocks != want.Clocks ||
		got.MetOnTime != want.MetOnTime || got.Breached != want.Breached || got.Running != want.Running || got.Stopped != want.Stopped ||
		!eqF(got.CompliancePercent, want.CompliancePercent) || got.Met != want.Met ||
		!eqD(got.AvgToMet, want.AvgToMet) || !eqD(got.P50ToMet, want.P50ToMet) || !eqD(got.P90ToMet, want.P90ToMet) {
		t.Errorf("row\n got %s\nwant %s", describeRow(got), describeRow(want))
	}
}

func describeRow(r sla.ReportRow) string {
	d := func(p *time.Duration) string {
		if p == nil {
			return "-"
		}
		return p.String()
	}
	c := "-"
	if r.CompliancePercent != nil {
		c = fmt.Sprint(*r.CompliancePercent)
	}
	return fmt.Sprintf("%s %s tickets=%d clocks=%d ontime=%d breached=%d running=%d stopped=%d compliance=%s met=%d avg=%s p50=%s p90=%s",
		r.Priority, r.Metric, r.Tickets, r.Clocks, r.MetOnTime, r.Breached, r.Running, r.Stopped, c, r.Met,
		d(r.AvgToMet), d(r.P50ToMet), d(r.P90ToMet))
}
