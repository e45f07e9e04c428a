package tickets_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

func TestEscalationStory(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		front := e.dept(accounts.NewDepartment{Name: "Front line", MemberIDs: []int64{e.agent.ID}})
		biller := e.user("biller", accounts.RoleDepartmentMember)
		billing := e.dept(accounts.NewDepartment{Name: "Billing", Tier: 2, MemberIDs: []int64{biller.ID}})
		biller = e.reload(biller)

		tk := e.create(e.agent, tickets.NewTicket{Subject: "Double charge", Description: "charged twice for March",
			RequesterID: e.cust.ID, DepartmentID: &front.ID})
		if _, err := e.svc.Get(ctx, biller, tk.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatal("billing sees the ticket before escalation")
		}
		e.clk.Advance(time.Minute)

		// Escalating needs a reason.
		_, _, err := e.svc.Escalate(ctx, e.agent, tk.ID, 0, tickets.EscalationRequest{Kind: tickets.EscalationFunctional, ToDepartmentID: &billing.ID})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"reason"}) {
			t.Fatalf("%v", f)
		}
		if _, _, err := e.svc.Escalate(ctx, e.cust, tk.ID, 0, tickets.EscalationRequest{ToDepartmentID: &billing.ID, Reason: "x"}); !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("requester escalates: %v", err)
		}
		esc, tk2, err := e.svc.Escalate(ctx, e.agent, tk.ID, tk.Version, tickets.EscalationRequest{Kind: tickets.EscalationFunctional,
			Tier: ptr(2), Reason: "refunds are done by billing"})
		if err != nil {
			t.Fatal(err)
		}
		if tk2.Status != "escalated" || *tk2.DepartmentID != billing.ID || tk2.AssigneeID != nil || tk2.Version != tk.Version+1 {
			t.Fatalf("after escalation %+v", tk2)
		}
		if *esc.FromDepartmentID != front.ID || *esc.ToDepartmentID != billing.ID || esc.Tier != 2 || esc.ByID != e.agent.ID ||
			esc.Reason != "refunds are done by billing" || esc.Kind != "functional" {
			t.Fatalf("escalation %+v", esc)
		}
		escs, _ := e.svc.Escalations(ctx, biller, tk.ID)
		if len(escs) != 1 || escs[0].ID != esc.ID {
			t.Fatalf("escalations %+v", escs)
		}
		// The billing member finds it in the department queue.
		page, err := e.svc.List(ctx, biller, tickets.Filter{DepartmentID: &billing.ID}, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != tk.ID {
			t.Fatalf("billing queue %+v %v", page, err)
		}
		opts, _, err := e.svc.Transitions(ctx, biller, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]workflow.Option{}
		for _, o := range opts {
			names[o.Event] = o
		}
		if _, ok := names["pick_up"]; !ok {
			t.Fatalf("options %+v", opts)
		}
		if !eqStrings(names["resolve"].RequireFields, []string{"resolution", "no_article_reason"}) {
			t.Fatalf("resolve needs %v", names["resolve"].RequireFields)
		}

		e.clk.Advance(time.Minute)
		tk3 := e.fire(biller, tk.ID, "pick_up", nil)
		if tk3.Status != "in_progress" || tk3.AssigneeID == nil || *tk3.AssigneeID != biller.ID {
			t.Fatalf("after pick_up %+v", tk3)
		}
		if _, err := e.svc.AddComment(ctx, biller, tk.ID, tickets.NewComment{Body: "refund issued", Internal: true}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		var ge *workflow.GuardError
		_, err = e.svc.Fire(ctx, biller, tk.ID, 0, tickets.Transition{Event: "resolve"})
		if !errors.As(err, &ge) || ge.Kind != workflow.GuardPrecondition {
			t.Fatalf("resolve without a link: %v", err)
		}
		_, err = e.svc.Fire(ctx, biller, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: map[string]string{"no_article_reason": "one-off"}})
		if !errors.As(err, &ge) || ge.Kind != workflow.GuardMissingFields || !eqStrings(ge.Fields, []string{"resolution"}) {
			t.Fatalf("resolve without resolution: %v", err)
		}
		_, err = e.svc.Fire(ctx, biller, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: map[string]string{"resolution": "refunded"}})
		if !errors.As(err, &ge) || ge.Kind != workflow.GuardPrecondition {
			t.Fatalf("resolve without link or reason: %v", err)
		}
		done, err := e.svc.Fire(ctx, biller, tk.ID, 0, tickets.Transition{Event: "resolve", Comment: "Your refund is on its way",
			Fields: map[string]string{"resolution": "refunded the duplicate charge", "no_article_reason": "one-off billing error"}})
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != "resolved" || done.StatusCategory != workflow.CategoryResolved || done.ResolvedAt == nil ||
			!done.ResolvedAt.Equal(e.clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("resolved %+v", done)
		}
		// The requester sees the public reply of the resolution.
		cs, _ := e.svc.Comments(ctx, e.cust, tk.ID)
		if len(cs) != 1 || cs[0].Body != "Your refund is on its way" {
			t.Fatalf("requester comments %+v", cs)
		}

		h, err := e.svc.History(ctx, biller, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		type step struct {
			kind, field, from, to string
			actor                 *int64
		}
		want := []step{
			{"created", "status", "", "new", &e.agent.ID},
			{"escalation", "department_id", fmt.Sprint(front.ID), fmt.Sprint(billing.ID), &e.agent.ID},
			{"assignment", "department_id", fmt.Sprint(front.ID), fmt.Sprint(billing.ID), &e.agent.ID},
			{"state", "status", "new", "escalated", &e.agent.ID},
			{"state", "status", "escalated", "in_progress", &biller.ID},
			{"assignment", "assignee_id", "", fmt.Sprint(biller.ID), &biller.ID},
			{"comment", "comment", "", "", &biller.ID},
			{"state", "status", "in_progress", "resolved", &biller.ID},
			{"comment", "comment", "", "", &biller.ID},
		}
		if len(h) != len(want) {
			for _, x := range h {
				t.Logf("%+v", x)
			}
			t.Fatalf("%d history entries, want %d", len(h), len(want))
		}
		for i, w := range want {
			x := h[i]
			if x.Kind != w.kind || x.Field != w.field || (w.kind != "comment" && (x.From != w.from || x.To != w.to)) ||
				x.ActorID == nil || *x.ActorID != *w.actor {
				t.Errorf("history[%d] = %+v, want %+v", i, x, w)
			}
		}
		if h[1].Note != "refunds are done by billing" || h[7].Event != "resolve" || h[7].Note != "refunded the duplicate charge\nno article linked: one-off billing error" {
			t.Errorf("notes: %q / %q %q", h[1].Note, h[7].Event, h[7].Note)
		}
		ev := e.eventsOf(tk.ID)
		want2 := []string{"ticket:created", "ticket:assigned", // create
			"ticket:updated", "ticket:escalated", "ticket:transitioned", "ticket:assigned", // escalate
			"ticket:updated", "ticket:transitioned", "ticket:assigned", // pick_up
			"comment:added",                                          // note
			"ticket:updated", "ticket:transitioned", "comment:added"} // resolve
		if !eqStrings(ev, want2) {
			t.Fatalf("events\n got %v\nwant %v", ev, want2)
		}
	})
}

func TestHierarchicalEscalationToLead(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		lead := e.user("lead", accounts.RoleDepartmentMember)
		lead2 := e.user("lead2", accounts.RoleDepartmentMember)
		ops := e.dept(accounts.NewDepartment{Name: "Ops", LeadID: &lead.ID, MemberIDs: []int64{e.agent.ID}})
		noLead := e.dept(accounts.NewDepartment{Name: "Nobody leads", MemberIDs: []int64{e.agent.ID}})
		infra := e.dept(accounts.NewDepartment{Name: "Infra", LeadID: &lead2.ID})

		tk := e.create(e.agent, tickets.NewTicket{Subject: "Outage", DepartmentID: &ops.ID, AssigneeID: &e.agent.ID})
		esc, tk2, err := e.svc.Escalate(ctx, e.agent, tk.ID, 0, tickets.EscalationRequest{Kind: tickets.EscalationHierarchical, Reason: "customer threatens to leave"})
		if err != nil {
			t.Fatal(err)
		}
		if *tk2.AssigneeID != lead.ID || *tk2.DepartmentID != ops.ID || tk2.Status != "escalated" {
			t.Fatalf("%+v", tk2)
		}
		if *esc.FromAssigneeID != e.agent.ID || *esc.ToAssigneeID != lead.ID || esc.Kind != "hierarchical" {
			t.Fatalf("%+v", esc)
		}
		// The lead now sees it (assigned), and may escalate to another lead by naming the department.
		lead = e.reload(lead)
		if _, err := e.svc.Get(ctx, lead, tk.ID); err != nil {
			t.Fatal(err)
		}
		_, tk3, err := e.svc.Escalate(ctx, e.agent, tk.ID, 0, tickets.EscalationRequest{Kind: tickets.EscalationHierarchical, ToDepartmentID: &infra.ID, Reason: "needs infra"})
		if err != nil || *tk3.AssigneeID != lead2.ID || *tk3.DepartmentID != infra.ID || tk3.Status != "escalated" {
			t.Fatalf("%+v %v", tk3, err)
		}
		// No lead: a validation error, nothing written.
		other := e.create(e.agent, tickets.NewTicket{Subject: "x", DepartmentID: &noLead.ID})
		before := e.outboxCount()
		_, _, err = e.svc.Escalate(ctx, e.agent, other.ID, 0, tickets.EscalationRequest{Kind: tickets.EscalationHierarchical, Reason: "help"})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"department_id"}) {
			t.Fatalf("%v", f)
		}
		_, _, err = e.svc.Escalate(ctx, e.agent, other.ID, 0, tickets.EscalationRequest{Kind: "sideways", Reason: "help"})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"kind"}) {
			t.Fatalf("%v", f)
		}
		_, _, err = e.svc.Escalate(ctx, e.agent, other.ID, 0, tickets.EscalationRequest{Kind: tickets.EscalationFunctional, Tier: ptr(7), Reason: "help"})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"tier"}) {
			t.Fatalf("%v", f)
		}
		if e.outboxCount() != before {
			t.Fatal("failed escalations wrote events")
		}
		escs, _ := e.svc.Escalations(ctx, e.agent, other.ID)
		if len(escs) != 0 {
			t.Fatal("failed escalation recorded")
		}
	})
}

func TestWorkflowErrorsPassThrough(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		tk := e.create(e.cust, tickets.NewTicket{Subject: "Help"})
		_, err := e.svc.Fire(ctx, e.agent, tk.ID, 0, tickets.Transition{Event: "close"})
		var na *workflow.NotAllowedError
		if !errors.As(err, &na) || na.State != "new" || len(na.Allowed) == 0 {
			t.Fatalf("%v", err)
		}
		for _, want := range []string{"open", "pick_up", "resolve", "cancel"} {
			found := false
			for _, a := range na.Allowed {
				found = found || a == want
			}
			if !found {
				t.Errorf("allowed %v lacks %s", na.Allowed, want)
			}
		}
		_, err = e.svc.Fire(ctx, e.cust, tk.ID, 0, tickets.Transition{Event: "resolve", Fields: map[string]string{"resolution": "x", "no_article_reason": "y"}})
		var ge *workflow.GuardError
		if !errors.As(err, &ge) || ge.Kind != workflow.GuardForbidden {
			t.Fatalf("requester resolving: %v", err)
		}
		opts, _, _ := e.svc.Transitions(ctx, e.cust, tk.ID)
		if len(opts) != 0 {
			t.Fatalf("requester options %+v", opts)
		}
		got, _ := e.svc.Get(ctx, e.cust, tk.ID)
		if got.Version != 1 || got.Status != "new" {
			t.Fatal("refused transition changed the ticket")
		}
		if ev := e.eventsOf(tk.ID); len(ev) != 1 {
			t.Fatalf("refused transitions wrote %v", ev)
		}
	})
}

func TestReopenWindow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		resolve := func() tickets.Ticket {
			tk := e.create(e.cust, tickets.NewTicket{Subject: "Help"})
			return e.fire(e.agent, tk.ID, "resolve", map[string]string{"resolution": "fixed", "no_article_reason": "trivial"})
		}
		a := resolve()
		e.clk.Advance(167 * time.Hour)
		re, err := e.svc.Fire(ctx, e.cust, a.ID, a.Version, tickets.Transition{Event: "reopen", Comment: "still broken"})
		if err != nil {
			t.Fatal(err)
		}
		if re.Status != "open" || re.ResolvedAt != nil || re.ClosedAt != nil {
			t.Fatalf("%+v", re)
		}
		b := resolve()
		e.clk.Advance(169 * time.Hour)
		_, err = e.svc.Fire(ctx, e.cust, b.ID, 0, tickets.Transition{Event: "reopen"})
		var ge *workflow.GuardError
		if !errors.As(err, &ge) || ge.Kind != workflow.GuardPrecondition {
			t.Fatalf("late reopen: %v", err)
		}
		closed := e.fire(e.cust, b.ID, "close", nil)
		if closed.ClosedAt == nil || closed.ResolvedAt == nil || closed.StatusCategory != workflow.CategoryClosed {
			t.Fatalf("%+v", closed)
		}
	})
}

func TestConcurrentChangesOneWins(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		for round := range 3 {
			tk := e.create(e.agent, tickets.NewTicket{Subject: "race"})
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch i % 2 {
					case 0:
						_, errs[i] = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version, tickets.Transition{Event: "open"})
					default:
						_, errs[i] = e.svc.Update(ctx, e.agent, tk.ID, tk.Version, tickets.Patch{Priority: ptr(fmt.Sprintf("P%d", i%4+1))})
					}
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, accounts.ErrVersionConflict):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d winners (%v)", round, wins, errs)
			}
			got, _ := e.svc.Get(ctx, e.agent, tk.ID)
			if got.Version != tk.Version+1 {
				t.Fatalf("version %d", got.Version)
			}
		}
		// Version 0 means no precondition: every change lands.
		tk := e.create(e.agent, tickets.NewTicket{Subject: "no precondition"})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.svc.Update(ctx, e.agent, tk.ID, 0, tickets.Patch{Category: ptr(fmt.Sprint("c", i))}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, _ := e.svc.Get(ctx, e.agent, tk.ID)
		if got.Version != 5 {
			t.Fatalf("version %d, want 5", got.Version)
		}
		if _, err := e.svc.Update(ctx, e.agent, tk.ID, 1, tickets.Patch{Category: ptr("late")}); !errors.Is(err, accounts.ErrVersionConflict) {
			t.Fatalf("stale version: %v", err)
		}
		if _, err := e.svc.Update(ctx, e.agent, 999999, 0, tickets.Patch{Category: ptr("x")}); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("missing ticket: %v", err)
		}
	})
}

func TestRequesterReplyResumesTicket(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		tk := e.create(e.cust, tickets.NewTicket{Subject: "Login fails"})
		e.fire(e.agent, tk.ID, "open", nil)
		waiting := e.fire(e.agent, tk.ID, "wait_customer", nil)
		if waiting.Status != "pending_customer" || waiting.StatusCategory != workflow.CategoryPending {
			t.Fatalf("%+v", waiting)
		}
		// A staff reply does not resume it; the requester's does.
		if _, err := e.svc.AddComment(ctx, e.agent, tk.ID, tickets.NewComment{Body: "Which browser?"}); err != nil {
			t.Fatal(err)
		}
		got, _ := e.svc.Get(ctx, e.cust, tk.ID)
		if got.Status != "pending_customer" || got.Version != waiting.Version {
			t.Fatalf("staff reply moved it: %+v", got)
		}
		e.clk.Advance(time.Hour)
		if _, err := e.svc.AddComment(ctx, e.cust, tk.ID, tickets.NewComment{Body: "Firefox 140"}); err != nil {
			t.Fatal(err)
		}
		got, _ = e.svc.Get(ctx, e.cust, tk.ID)
		if got.Status != "open" || got.Version != waiting.Version+1 || !got.StateEnteredAt.Equal(e.clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("after reply %+v", got)
		}
		h, _ := e.svc.History(ctx, e.agent, tk.ID)
		last := h[len(h)-1]
		if last.Kind != "state" || last.Event != "customer_replied" || *last.ActorID != e.cust.ID {
			t.Fatalf("%+v", last)
		}
		// Replying again in "open" just adds the comment.
		if _, err := e.svc.AddComment(ctx, e.cust, tk.ID, tickets.NewComment{Body: "any news?"}); err != nil {
			t.Fatal(err)
		}
	})
}
