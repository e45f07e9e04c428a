package main

import (
	"context"
	"fmt"
	"time"

	"github.com/loopdesk/loopdesk/sla"
)

// seedDemoSLA adds a Shanghai business calendar and two policies: urgent
// tickets 24x7 with escalation to the department lead on breach, everything
// else in business hours. Existing ones (by name) are kept.
func seedDemoSLA(ctx context.Context, svc *sla.Service) error {
	cals, err := svc.Calendars(ctx)
	if err != nil {
		return err
	}
	var calID int64
	for _, c := range cals {
		if c.Name == "China office hours" {
			calID = c.ID
		}
	}
	if calID == 0 {
		c := sla.Calendar{Name: "China office hours", TimeZone: "Asia/Shanghai",
			Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"}}
		for d := time.Monday; d <= time.Friday; d++ {
			c.Hours[d] = []sla.Interval{{Start: 9 * 60, End: 12 * 60}, {Start: 13 * 60, End: 18 * 60}}
		}
		made, err := svc.CreateCalendar(ctx, c)
		if err != nil {
			return fmt.Errorf("demo calendar: %w", err)
		}
		calID = made.ID
	}
	have := map[string]bool{}
	ps, err := svc.Policies(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		have[p.Name] = true
	}
	d := func(v time.Duration) sla.Duration { return sla.Duration(v) }
	policies := []sla.Policy{
		{Name: "Urgent (P1) around the clock", Position: 1, Active: true, Match: sla.Match{Priority: []string{"P1"}},
			Targets: []sla.Target{
				{Metric: sla.FirstResponse, Within: d(30 * time.Minute), WarnPercent: 50,
					OnWarning: []sla.Action{{Action: sla.ActionNotify, To: []string{sla.RecipientAssignee}}}},
				{Metric: sla.NextResponse, Within: d(time.Hour)},
				{Metric: sla.Resolution, Within: d(4 * time.Hour), WarnBefore: d(time.Hour),
					OnWarning: []sla.Action{{Action: sla.ActionNotify, To: []string{sla.RecipientDepartmentLead}}},
					OnBreach:  []sla.Action{{Action: sla.ActionEscalate, Kind: "hierarchical"}}},
			}},
		{Name: "Standard, office hours", Position: 10, Active: true, CalendarID: &calID,
			Targets: []sla.Target{
				{Metric: sla.FirstResponse, Within: d(4 * time.Hour), WarnBefore: d(time.Hour)},
				{Metric: sla.NextResponse, Within: d(8 * time.Hour)},
				{Metric: sla.Resolution, Within: d(24 * time.Hour), WarnPercent: 80,
					OnBreach: []sla.Action{{Action: sla.ActionRaisePriority}, {Action: sla.ActionNotify, To: []string{sla.RecipientDepartmentLead}}}},
			}},
	}
	for _, p := range policies {
		if have[p.Name] {
			continue
		}
		if _, err := svc.CreatePolicy(ctx, p); err != nil {
			return fmt.Errorf("demo policy %s: %w", p.Name, err)
		}
	}
	return nil
}
