package tickets_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Fire calls that arrive together share transactions; each must still get
// the outcome it would have had alone. Per ticket, two "open" calls race on
// one version (one wins, one gets 409) and calls on a missing ticket get
// 404, both answered inside the batch. Every ticket then holds exactly the
// winner's change: one state history row, one transitioned event carrying
// the winner's request ID, and the answer the winner got is what Get
// returns. Then an event not allowed from the state fails the batch it is
// in, and that batch's other calls run again alone and land once.
func TestConcurrentFiresBatched(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		const n = 30
		tks := make([]tickets.Ticket, n)
		for i := range tks {
			tks[i] = e.create(e.agent, tickets.NewTicket{Subject: fmt.Sprintf("batch %d", i)})
		}
		type call struct {
			ticket  int // index into tks; -1: a ticket that does not exist
			event   string
			comment string
			rid     string
			got     tickets.Ticket
			err     error
		}
		var calls []*call
		for i := range tks {
			for j := range 2 {
				calls = append(calls, &call{ticket: i, event: "open", rid: fmt.Sprintf("open-%d-%d", i, j)})
			}
			if i%3 == 0 {
				calls = append(calls, &call{ticket: -1, event: "open"})
			}
		}
		together(len(calls), func(i int) {
			c := calls[i]
			id, version := int64(999999999), 0
			if c.ticket >= 0 {
				id, version = tks[c.ticket].ID, tks[c.ticket].Version
			}
			cctx := outbox.WithRequestID(ctx, c.rid)
			c.got, c.err = e.svc.Fire(cctx, e.agent, id, version, tickets.Transition{Event: c.event, Comment: c.comment})
		})

		winners := map[int]*call{}
		for _, c := range calls {
			switch {
			case c.ticket < 0:
				if !errors.Is(c.err, accounts.ErrNotFound) {
					t.Fatalf("missing ticket: %v", c.err)
				}
			case c.err == nil:
				if winners[c.ticket] != nil {
					t.Fatalf("ticket %d: two winners", c.ticket)
				}
				winners[c.ticket] = c
			case !errors.Is(c.err, accounts.ErrVersionConflict):
				t.Fatalf("ticket %d: %v", c.ticket, c.err)
			}
		}
		for i, tk := range tks {
			w := winners[i]
			if w == nil {
				t.Fatalf("ticket %d: no winner", i)
			}
			got, err := e.svc.Get(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != "open" || got.Version != tk.Version+1 {
				t.Fatalf("ticket %d: %s v%d, want open v%d", i, got.Status, got.Version, tk.Version+1)
			}
			if w.got.Status != got.Status || w.got.Version != got.Version || !w.got.UpdatedAt.Equal(got.UpdatedAt) {
				t.Fatalf("ticket %d: the winner was answered %s v%d %v, Get says %s v%d %v", i,
					w.got.Status, w.got.Version, w.got.UpdatedAt, got.Status, got.Version, got.UpdatedAt)
			}
			hist, err := e.svc.History(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			states := 0
			for _, h := range hist {
				if h.Kind == tickets.KindState {
					states++
					if h.From != "new" || h.To != "open" || h.Event != "open" {
						t.Fatalf("ticket %d: history %+v", i, h)
					}
				}
			}
			if states != 1 {
				t.Fatalf("ticket %d: %d state changes in the history, want 1", i, states)
			}
			var rids []string
			for _, r := range e.outbox() {
				if r.EventType == tickets.EventTicketTransitioned && r.AggregateID == strconv.FormatInt(tk.ID, 10) {
					rids = append(rids, r.RequestID)
				}
			}
			if len(rids) != 1 || rids[0] != w.rid {
				t.Fatalf("ticket %d: transitioned events with request IDs %v, want [%s]", i, rids, w.rid)
			}
		}
		batches, batched, failed := tickets.FireBatchStats(e.svc)
		t.Logf("%d calls: %d batches held %d of them; %d batches failed and ran alone", len(calls), batches, batched, failed)
		if batches == 0 || failed != 0 {
			t.Fatalf("%d shared transactions, %d failed; want some, none failed (404 and 409 are answered inside a batch)", batches, failed)
		}

		// A workflow refusal fails its batch; the batch's other calls run
		// again alone and still land once.
		errs := make([]error, 2*n)
		together(len(errs), func(i int) {
			tk := tks[i/2]
			if i%2 == 0 {
				_, errs[i] = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version+1, tickets.Transition{Event: "wait_customer"})
			} else {
				_, errs[i] = e.svc.Fire(ctx, e.agent, tk.ID, 0, tickets.Transition{Event: "open"}) // only from new
			}
		})
		for i, err := range errs {
			var na *workflow.NotAllowedError
			if i%2 == 0 && err != nil || i%2 == 1 && !errors.As(err, &na) {
				t.Fatalf("call %d: %T %v", i, err, err)
			}
		}
		for i, tk := range tks {
			got, err := e.svc.Get(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != "pending_customer" || got.Version != tk.Version+2 {
				t.Fatalf("ticket %d: %s v%d, want pending_customer v%d", i, got.Status, got.Version, tk.Version+2)
			}
			if evs := e.eventsOf(tk.ID); countOf(evs, tickets.EventTicketTransitioned) != 2 {
				t.Fatalf("ticket %d: events %v", i, evs)
			}
		}
		_, _, failed2 := tickets.FireBatchStats(e.svc)
		if failed2 == failed {
			t.Fatal("no batch failed: the refusals never shared a transaction")
		}
	})
}

// A call with a comment in a batch stores the comment and its history
// with the transition, as it does alone.
func TestBatchedFireWithComment(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		const n = 12
		tks := make([]tickets.Ticket, n)
		for i := range tks {
			tks[i] = e.fire(e.agent, e.create(e.agent, tickets.NewTicket{Subject: fmt.Sprintf("comment %d", i)}).ID, "open", nil)
		}
		errs := make([]error, n)
		together(n, func(i int) {
			tk := tks[i]
			_, errs[i] = e.svc.Fire(ctx, e.agent, tk.ID, tk.Version, tickets.Transition{Event: "wait_customer", Comment: fmt.Sprintf("please send the receipt %d", i)})
		})
		for i, tk := range tks {
			if errs[i] != nil {
				t.Fatalf("ticket %d: %v", i, errs[i])
			}
			cs, err := e.svc.Comments(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || cs[0].Body != fmt.Sprintf("please send the receipt %d", i) || cs[0].Internal {
				t.Fatalf("ticket %d: comments %+v", i, cs)
			}
			got, err := e.svc.Get(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != "pending_customer" {
				t.Fatalf("ticket %d: %s", i, got.Status)
			}
			if evs := e.eventsOf(tk.ID); countOf(evs, tickets.EventCommentAdded) != 1 || countOf(evs, tickets.EventTicketTransitioned) != 2 {
				t.Fatalf("ticket %d: events %v", i, evs)
			}
		}
	})
}

// together runs fn(0..n-1) on n goroutines released at once, and waits
// for all of them: concurrent callers, as a busy server has.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// Auto-assignment inside a batch counts the loads the batch's earlier calls
// gave: 40 tickets routed to a least-loaded department by concurrent
// "open" calls fill its 4 members up to their capacity of 5, no more.
func TestBatchedFiresAutoAssignWithinCapacity(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		var members []int64
		for i := range 4 {
			members = append(members, e.user(fmt.Sprint("m", i), accounts.RoleDepartmentMember).ID)
		}
		d := e.dept(accounts.NewDepartment{Name: "Queue", MemberIDs: members, AutoAssign: accounts.AutoAssignLeastLoaded, MemberCapacity: 5})
		def := workflow.Builtin()[0]
		for i := range def.Events {
			if def.Events[i].Name == "open" {
				def.Events[i].Actions = []workflow.Action{{Type: workflow.ActionAssignDepartment, DepartmentID: d.ID}}
			}
		}
		if _, err := e.svc.PublishWorkflow(ctx, e.admin, def); err != nil {
			t.Fatal(err)
		}
		tks := make([]tickets.Ticket, 40)
		for i := range tks {
			tks[i] = e.create(e.cust, tickets.NewTicket{Subject: fmt.Sprint("route ", i)})
		}
		b0, _, _ := tickets.FireBatchStats(e.svc)
		got := make([]tickets.Ticket, len(tks))
		errs := make([]error, len(tks))
		together(len(tks), func(i int) {
			got[i], errs[i] = e.svc.Fire(ctx, e.agent, tks[i].ID, tks[i].Version, tickets.Transition{Event: "open"})
		})
		counts := map[int64]int{}
		none := 0
		for i := range tks {
			if errs[i] != nil {
				t.Fatalf("ticket %d: %v", i, errs[i])
			}
			stored, err := e.svc.Get(ctx, e.agent, tks[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !tickets.EqID(stored.AssigneeID, got[i].AssigneeID) || stored.DepartmentID == nil || *stored.DepartmentID != d.ID {
				t.Fatalf("ticket %d: answered assignee %v, stored %v in department %v", i, got[i].AssigneeID, stored.AssigneeID, stored.DepartmentID)
			}
			if stored.AssigneeID == nil {
				none++
			} else {
				counts[*stored.AssigneeID]++
			}
		}
		for _, m := range members {
			if counts[m] != 5 {
				t.Errorf("member %d has %d tickets, want 5 (%v)", m, counts[m], counts)
			}
		}
		if none != 20 {
			t.Errorf("%d unassigned, want 20", none)
		}
		if b1, _, _ := tickets.FireBatchStats(e.svc); b1 == b0 {
			t.Fatal("no two calls shared a transaction")
		}
	})
}

// Concurrent creates share transactions (one INSERT per ticket, the rest
// together): every ticket comes back as stored, with its tags, its created
// history row, its outbox event carrying its own request ID, and a search
// document that finds it.
func TestConcurrentCreatesBatched(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		const n = 48
		got := make([]tickets.Ticket, n)
		errs := make([]error, n)
		together(n, func(i int) {
			cctx := outbox.WithRequestID(ctx, fmt.Sprint("create-", i))
			subject := fmt.Sprintf("Card zq%dx never arrived", i)
			if i%2 == 1 {
				subject = fmt.Sprintf("退款 zq%dx 还没到账", i)
			}
			got[i], errs[i] = e.svc.Create(cctx, e.agent, tickets.NewTicket{Subject: subject, Description: "batched create",
				Tags: []string{fmt.Sprint("t", i%3), "batch"}})
		})
		seen := map[int64]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			tk := got[i]
			if seen[tk.ID] {
				t.Fatalf("id %d answered twice", tk.ID)
			}
			seen[tk.ID] = true
			stored, err := e.svc.Get(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Subject != tk.Subject || stored.Status != "new" || stored.Version != 1 ||
				fmt.Sprint(stored.Tags) != fmt.Sprint(tk.Tags) || fmt.Sprint(stored.Tags) != fmt.Sprint([]string{"batch", fmt.Sprint("t", i%3)}) {
				t.Fatalf("create %d: answered %+v, stored %+v", i, tk, stored)
			}
			hist, err := e.svc.History(ctx, e.agent, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].Kind != tickets.KindCreated || hist[0].To != "new" {
				t.Fatalf("create %d: history %+v", i, hist)
			}
			var rids []string
			for _, r := range e.outbox() {
				if r.AggregateType == "ticket" && r.AggregateID == strconv.FormatInt(tk.ID, 10) {
					rids = append(rids, r.EventType+" "+r.RequestID)
				}
			}
			if len(rids) != 1 || rids[0] != tickets.EventTicketCreated+" "+fmt.Sprint("create-", i) {
				t.Fatalf("create %d: events %v", i, rids)
			}
			p, err := e.svc.List(ctx, e.agent, tickets.Filter{Q: fmt.Sprintf("zq%dx", i)}, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 1 || p.Items[0].ID != tk.ID {
				t.Fatalf("create %d: search zq%dx found %d tickets", i, i, len(p.Items))
			}
		}
		batches, batched, failed := tickets.CreateBatchStats(e.svc)
		t.Logf("%d creates: %d batches held %d of them; %d failed", n, batches, batched, failed)
		if batches == 0 || failed != 0 {
			t.Fatalf("%d shared transactions, %d failed; want some, none failed", batches, failed)
		}
	})
}
