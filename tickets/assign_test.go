package tickets_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

func TestConcurrentAutoAssignment(t *testing.T) {
	cases := []struct {
		mode       string
		capacity   int
		assigned   int // per member
		unassigned int
	}{
		{accounts.AutoAssignLeastLoaded, 10, 10, 0},
		{accounts.AutoAssignRoundRobin, 10, 10, 0},
		{accounts.AutoAssignRoundRobin, 0, 10, 0},
		{accounts.AutoAssignLeastLoaded, 5, 5, 20},
		{accounts.AutoAssignRoundRobin, 5, 5, 20},
	}
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		var members []int64
		for i := range 4 {
			members = append(members, e.user(fmt.Sprint("m", i), accounts.RoleDepartmentMember).ID)
		}
		for ci, c := range cases {
			d := e.dept(accounts.NewDepartment{Name: fmt.Sprintf("Queue %d", ci), MemberIDs: members, AutoAssign: c.mode, MemberCapacity: c.capacity})
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := e.svc.Create(ctx, e.agent, tickets.NewTicket{Subject: "queue", DepartmentID: &d.ID})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			counts := map[int64]int{}
			none := 0
			cursor := ""
			for {
				p, err := e.svc.List(ctx, e.agent, tickets.Filter{DepartmentID: &d.ID}, cursor, 200)
				if err != nil {
					t.Fatal(err)
				}
				for _, tk := range p.Items {
					if tk.AssigneeID == nil {
						none++
					} else {
						counts[*tk.AssigneeID]++
					}
				}
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			for _, m := range members {
				if counts[m] != c.assigned {
					t.Errorf("%s cap %d: member %d has %d, want %d (%v)", c.mode, c.capacity, m, counts[m], c.assigned, counts)
				}
			}
			if none != c.unassigned {
				t.Errorf("%s cap %d: %d unassigned, want %d", c.mode, c.capacity, none, c.unassigned)
			}
			// Close everything so the next case starts with empty loads.
			for _, m := range members {
				db.Exec("UPDATE tickets SET status = 'closed', status_category = 'closed' WHERE assignee_id = ?", m)
			}
		}
	})
}

func TestAutoAssignOrderAndRouting(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		a := e.user("a", accounts.RoleDepartmentMember)
		b := e.user("b", accounts.RoleDepartmentMember)
		c := e.user("c", accounts.RoleDepartmentMember)
		rr := e.dept(accounts.NewDepartment{Name: "RR", MemberIDs: []int64{a.ID, b.ID, c.ID}, AutoAssign: accounts.AutoAssignRoundRobin})
		var got []int64
		for range 4 {
			tk := e.create(e.agent, tickets.NewTicket{DepartmentID: &rr.ID})
			got = append(got, *tk.AssigneeID)
		}
		if fmt.Sprint(got) != fmt.Sprint([]int64{a.ID, b.ID, c.ID, a.ID}) {
			t.Fatalf("round robin order %v", got)
		}
		// Deactivated members are skipped.
		if _, err := e.acc.UpdateUser(ctx, b.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		tk := e.create(e.agent, tickets.NewTicket{DepartmentID: &rr.ID})
		if *tk.AssigneeID != c.ID {
			t.Fatalf("after a: %d, want c", *tk.AssigneeID)
		}
		h, _ := e.svc.History(ctx, e.agent, tk.ID)
		if len(h) != 2 || h[1].Kind != "assignment" || h[1].ActorID != nil || h[1].To != fmt.Sprint(c.ID) {
			t.Fatalf("history %+v", h)
		}

		// Least loaded picks the member with the fewest open tickets, ties by id.
		ll := e.dept(accounts.NewDepartment{Name: "LL", MemberIDs: []int64{a.ID, c.ID}, AutoAssign: accounts.AutoAssignLeastLoaded})
		// a has 2 open, c has 2 open: a (lower id). Then c.
		t1 := e.create(e.agent, tickets.NewTicket{DepartmentID: &ll.ID})
		t2 := e.create(e.agent, tickets.NewTicket{DepartmentID: &ll.ID})
		if *t1.AssigneeID != a.ID || *t2.AssigneeID != c.ID {
			t.Fatalf("least loaded %d %d", *t1.AssigneeID, *t2.AssigneeID)
		}

		// Moving a ticket to a department with Update auto-assigns there,
		// dropping an assignee who is not a member.
		plain := e.create(e.agent, tickets.NewTicket{AssigneeID: &e.agent.ID})
		before := e.outboxCount()
		moved, err := e.svc.Update(ctx, e.agent, plain.ID, plain.Version, tickets.Patch{DepartmentID: &ll.ID, Subject: ptr("Moved"), Tags: &[]string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		if *moved.DepartmentID != ll.ID || moved.AssigneeID == nil || *moved.AssigneeID == e.agent.ID || moved.Subject != "Moved" || moved.Version != plain.Version+1 {
			t.Fatalf("%+v", moved)
		}
		ev := e.eventsOf(plain.ID)
		if e.outboxCount() != before+2 || ev[len(ev)-2] != tickets.EventTicketUpdated || ev[len(ev)-1] != tickets.EventTicketAssigned {
			t.Fatalf("events %v", ev)
		}
		// A requester may not edit; nobody may assign a non-member.
		if _, err := e.svc.Update(ctx, e.agent, plain.ID, 0, tickets.Patch{AssigneeID: &e.agent.ID}); fieldsOf(t, err)[0] != "assignee_id" {
			t.Fatalf("%v", err)
		}
		// An update that changes nothing writes nothing.
		before = e.outboxCount()
		same, err := e.svc.Update(ctx, e.agent, plain.ID, 0, tickets.Patch{Subject: ptr("Moved")})
		if err != nil || same.Version != moved.Version || e.outboxCount() != before {
			t.Fatalf("no-op update: %+v %v", same, err)
		}
	})
}

func TestAssignDepartmentAction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m := e.user("m", accounts.RoleDepartmentMember)
		triage := e.dept(accounts.NewDepartment{Name: "Triage", MemberIDs: []int64{m.ID}, AutoAssign: accounts.AutoAssignRoundRobin})
		def := workflow.Builtin()[0]
		for i := range def.Events {
			if def.Events[i].Name == "open" {
				def.Events[i].Actions = []workflow.Action{{Type: workflow.ActionAssignDepartment, DepartmentID: triage.ID},
					{Type: workflow.ActionSetPriority, Priority: "P2"}}
			}
		}
		if _, err := e.svc.PublishWorkflow(ctx, e.admin, def); err != nil {
			t.Fatal(err)
		}
		tk := e.create(e.cust, tickets.NewTicket{Subject: "route me"})
		got := e.fire(e.agent, tk.ID, "open", nil)
		if *got.DepartmentID != triage.ID || *got.AssigneeID != m.ID || got.Priority != "P2" || got.Status != "open" {
			t.Fatalf("%+v", got)
		}
		h, _ := e.svc.History(ctx, e.agent, tk.ID)
		var kinds []string
		for _, x := range h {
			kinds = append(kinds, x.Kind+":"+x.Field)
		}
		want := []string{"created:status", "state:status", "assignment:department_id", "assignment:assignee_id", "field:priority"}
		if !eqStrings(kinds, want) {
			t.Fatalf("history %v", kinds)
		}
	})
}
