package sla_test

import (
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/sla/ticketsactor"
	"github.com/loopdesk/loopdesk/tickets"
)

// withNotifier rebuilds e's engine with an actor that notifies through a
// real notify service (no mail transport), before anything is created.
func withNotifier(e *env) *notify.Service {
	n := notify.New(e.db, e.acc, notify.WithClock(e.clk.Now))
	e.svc = sla.New(e.db, e.tk, sla.WithClock(e.clk.Now), sla.WithTimer(e.timer), sla.WithTimerHorizon(0),
		sla.WithActor(ticketsactor.Actor{Tickets: e.tk, Notifier: n}))
	return n
}

func notificationsOf(t *testing.T, n *notify.Service, u accounts.User) []notify.Notification {
	t.Helper()
	ns, err := n.List(ctx, u.ID, notify.Filter{}, accounts.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestBreachNotifiesAssigneeAndDepartmentLead(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		n := withNotifier(e)
		lead := e.user("lead", accounts.RoleDepartmentMember)
		member := e.user("member", accounts.RoleDepartmentMember)
		dept, err := e.acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Cards", LeadID: &lead.ID, MemberIDs: []int64{lead.ID, member.ID}})
		if err != nil {
			t.Fatal(err)
		}
		e.policy(sla.Policy{Name: "cards", Match: sla.Match{DepartmentID: []int64{dept.ID}}, Targets: []sla.Target{{
			Metric: sla.Resolution, Within: hours(2), WarnPercent: 75,
			OnWarning: []sla.Action{{Action: sla.ActionNotify, To: []string{sla.RecipientAssignee}}},
			OnBreach:  []sla.Action{{Action: sla.ActionNotify, To: []string{sla.RecipientAssignee, sla.RecipientDepartmentLead}}},
		}}})
		tk := e.create(tickets.NewTicket{Subject: "Card not arrived", DepartmentID: &dept.ID, AssigneeID: &member.ID, Priority: "P3"})
		t0 := e.clk.Now()
		e.fire(e.reload(member), tk.ID, "pick_up", nil)

		e.at(t0.Add(90 * time.Minute))
		if ns := notificationsOf(t, n, member); len(ns) != 1 || ns[0].Kind != notify.KindSLAWarning {
			t.Fatalf("assignee after the warning: %+v, want one sla.warning", ns)
		}
		if ns := notificationsOf(t, n, lead); len(ns) != 0 {
			t.Fatalf("lead after the warning: %+v, want none", ns)
		}

		e.at(t0.Add(2 * time.Hour))
		for _, u := range []accounts.User{member, lead} {
			ns := notificationsOf(t, n, u)
			if len(ns) == 0 || ns[0].Kind != notify.KindSLABreach {
				t.Fatalf("%s after the breach: %+v, want an sla.breach first", u.Name, ns)
			}
			b := ns[0]
			if b.TicketID != tk.ID || b.UserID == nil || *b.UserID != u.ID || b.Email != u.Email ||
				!strings.Contains(b.Subject, "Card not arrived") || !strings.Contains(b.Body, "SLA breach") || b.ReadAt != nil {
				t.Fatalf("%s's breach notification: %+v", u.Name, b)
			}
		}
		// Handling the same events again notifies nobody twice.
		e.seenID = 0
		e.drain()
		if got, want := len(notificationsOf(t, n, member)), 2; got != want {
			t.Fatalf("assignee has %d notifications after redelivery, want %d", got, want)
		}
		if got := len(notificationsOf(t, n, lead)); got != 1 {
			t.Fatalf("lead has %d notifications after redelivery, want 1", got)
		}
	})
}
