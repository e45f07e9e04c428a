package tickets_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

func TestBuiltinWorkflowsIdempotentAndConcurrent(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		acc := accounts.New(db)
		// Several replicas at start, then each once more.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- tickets.New(db, acc).EnsureBuiltinWorkflows(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		svc := tickets.New(db, acc)
		for range 2 {
			if err := svc.EnsureBuiltinWorkflows(ctx); err != nil {
				t.Fatal(err)
			}
		}
		list, err := svc.ListWorkflows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, w := range list {
			keys = append(keys, w.Key)
			if w.LatestVersion != 1 {
				t.Errorf("%s: latest version %d, want 1", w.Key, w.LatestVersion)
			}
		}
		if !eqStrings(keys, []string{"article", "change_request", "support"}) {
			t.Fatalf("keys %v", keys)
		}
		var n int64
		db.Table("workflow_definitions").Count(&n)
		if n != 3 {
			t.Fatalf("%d stored versions, want 3", n)
		}
		d, err := svc.GetWorkflow(ctx, "support", 0)
		if err != nil || d.Version != 1 || d.Initial != "new" {
			t.Fatalf("GetWorkflow: %+v %v", d, err)
		}
		if _, err := svc.GetWorkflow(ctx, "support", 7); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("missing version: %v", err)
		}
	})
}

func TestPublishInvalidWorkflowListsProblems(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		def := workflow.Builtin()[0]
		def.Initial = "nowhere"
		def.Events[0].Guards.Roles = []string{"wizard"}
		def.Events[1].Guards.Permissions = []string{"tickets:teleport"}
		def.Events[2].Actions = []workflow.Action{{Type: workflow.ActionAssignDepartment, DepartmentID: 999}}
		_, err := e.svc.PublishWorkflow(ctx, e.admin, def)
		var ve *workflow.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("want *workflow.ValidationError, got %v", err)
		}
		paths := map[string]bool{}
		for _, p := range ve.Problems {
			paths[p.Path] = true
		}
		for _, want := range []string{"initial", "events[0].guards.roles[0]", "events[1].guards.permissions[0]"} {
			if !paths[want] {
				t.Errorf("no problem at %s in %v", want, ve.Problems)
			}
		}
		// Unknown departments are checked once the definition itself is valid.
		def = workflow.Builtin()[0]
		def.Events[2].Actions = []workflow.Action{{Type: workflow.ActionAssignDepartment, DepartmentID: 999}}
		_, err = e.svc.PublishWorkflow(ctx, e.admin, def)
		if !errors.As(err, &ve) || ve.Problems[0].Path != "events[2].actions[0].department_id" {
			t.Fatalf("unknown department: %v", err)
		}
		_, err = e.svc.PublishWorkflow(ctx, e.agent, workflow.Builtin()[0])
		var fe *tickets.ForbiddenError
		if !errors.As(err, &fe) || fe.Permission != "workflows:write" || !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("agent publishing: %v", err)
		}
	})
}

// supportV2 is the support workflow with a triage state in place of "new".
func supportV2() *workflow.Definition {
	d := workflow.Builtin()[0]
	d.Name = "Support ticket v2"
	for i := range d.States {
		if d.States[i].Name == "new" {
			d.States[i].Name = "triage"
		}
	}
	d.Initial = "triage"
	for i := range d.Events {
		for k, f := range d.Events[i].From {
			if f == "new" {
				d.Events[i].From[k] = "triage"
			}
		}
	}
	return d
}

func TestPublishNewVersionAndMigrateTickets(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		fresh := e.create(e.agent, tickets.NewTicket{Subject: "new one"})
		opened := e.create(e.agent, tickets.NewTicket{Subject: "opened"})
		e.fire(e.agent, opened.ID, "open", nil)
		done := e.create(e.agent, tickets.NewTicket{Subject: "cancelled"})
		e.fire(e.agent, done.ID, "cancel", map[string]string{"reason": "duplicate"})

		v2, err := e.svc.PublishWorkflow(ctx, e.admin, supportV2())
		if err != nil {
			t.Fatal(err)
		}
		if v2.Version != 2 {
			t.Fatalf("version %d", v2.Version)
		}
		later := e.create(e.agent, tickets.NewTicket{Subject: "after v2"})
		if later.WorkflowVersion != 2 || later.Status != "triage" {
			t.Fatalf("new ticket on %d/%s", later.WorkflowVersion, later.Status)
		}
		got, _ := e.svc.Get(ctx, e.agent, opened.ID)
		if got.WorkflowVersion != 1 {
			t.Fatalf("existing ticket moved to %d by publishing", got.WorkflowVersion)
		}

		// Every state in use must be mapped, to a state that exists.
		before := e.outboxCount()
		_, err = e.svc.MigrateTickets(ctx, e.admin, "support", 1, 2, map[string]string{"open": "nope"})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"state_map.new", "state_map.open"}) {
			t.Fatalf("problems %v", f)
		}
		if _, err := e.svc.MigrateTickets(ctx, e.agent, "support", 1, 2, nil); !errors.Is(err, tickets.ErrForbidden) {
			t.Fatalf("agent migrating: %v", err)
		}
		if e.outboxCount() != before {
			t.Fatal("failed migration wrote events")
		}

		n, err := e.svc.MigrateTickets(ctx, e.admin, "support", 1, 2, map[string]string{"new": "triage", "open": "open"})
		if err != nil || n != 2 {
			t.Fatalf("migrated %d, %v", n, err)
		}
		for id, want := range map[int64]string{fresh.ID: "triage", opened.ID: "open"} {
			tk, _ := e.svc.Get(ctx, e.agent, id)
			if tk.WorkflowVersion != 2 || tk.Status != want || tk.Version < 2 {
				t.Errorf("ticket %d: v%d %s version %d", id, tk.WorkflowVersion, tk.Status, tk.Version)
			}
			h, _ := e.svc.History(ctx, e.agent, id)
			last := h[len(h)-1]
			if last.Kind != tickets.KindMigration || last.From != "support@1" || last.To != "support@2" || *last.ActorID != e.admin.ID {
				t.Errorf("history %+v", last)
			}
			ev := e.eventsOf(id)
			if ev[len(ev)-1] != tickets.EventTicketMigrated {
				t.Errorf("events %v", ev)
			}
		}
		closed, _ := e.svc.Get(ctx, e.agent, done.ID)
		if closed.WorkflowVersion != 1 {
			t.Fatal("closed ticket migrated")
		}
		// Migrated tickets work on the new version.
		e.fire(e.agent, fresh.ID, "open", nil)
	})
}

func TestCreateRejectsArticleType(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		_, err := e.svc.Create(ctx, e.agent, tickets.NewTicket{Subject: "x", Type: "article"})
		if f := fieldsOf(t, err); !eqStrings(f, []string{"type"}) || !strings.Contains(err.Error(), "article") {
			t.Fatalf("%v", err)
		}
		cr := e.create(e.agent, tickets.NewTicket{Type: "change_request"})
		if cr.Status != "submitted" || cr.Type != "change_request" {
			t.Fatalf("%+v", cr)
		}
	})
}

func TestConcurrentPublishTakesDistinctVersions(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		var wg sync.WaitGroup
		versions := make(chan int, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := tickets.New(db, e.acc).PublishWorkflow(ctx, e.admin, supportV2())
				if err != nil {
					t.Error(err)
					return
				}
				versions <- d.Version
			}()
		}
		wg.Wait()
		close(versions)
		seen := map[int]bool{}
		for v := range versions {
			if seen[v] || v < 2 || v > 5 {
				t.Fatalf("version %d twice or out of range", v)
			}
			seen[v] = true
		}
		if len(seen) != 4 {
			t.Fatalf("versions %v", seen)
		}
	})
}
