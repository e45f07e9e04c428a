package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFireHappyPaths(t *testing.T) {
	ctx := context.Background()
	support := builtin(t, "support")

	res, err := support.Fire(ctx, "new", "pick_up", agent())
	if err != nil {
		t.Fatal(err)
	}
	want := Result{From: "new", To: "in_progress", Category: CategoryOpen, SLA: SLARunning, Actions: []Action{{Type: ActionAssignActor}}}
	if !equalResult(res, want) {
		t.Fatalf("pick_up: %+v, want %+v", res, want)
	}

	res, err = support.Fire(ctx, "pending_customer", "customer_replied", requester())
	if err != nil || res.To != "open" || res.Category != CategoryOpen {
		t.Fatalf("customer_replied by requester: %+v, %v", res, err)
	}

	s := withFields(agent(), "resolution", "restarted the router")
	s.LinkedArticles = 2
	res, err = support.Fire(ctx, "escalated", "resolve", s)
	if err != nil || res.To != "resolved" || res.SLA != SLAStopped || res.Category != CategoryResolved {
		t.Fatalf("resolve with a linked article: %+v, %v", res, err)
	}
	// no_article_reason stands in for a linked article.
	s = withFields(agent(), "resolution", "fixed", NoArticleReasonField, "one-off outage")
	if _, err := support.Fire(ctx, "open", "resolve", s); err != nil {
		t.Fatalf("resolve with no_article_reason: %v", err)
	}

	res, err = support.Fire(ctx, "resolved", "close", requester())
	if err != nil || res.To != "closed" || res.Category != CategoryClosed {
		t.Fatalf("close by requester: %+v, %v", res, err)
	}

	// A whole change request, the approval by an admin.
	cr := builtin(t, "change_request")
	worker := withFields(agent(), "resolution", "done", "reason", "x")
	worker.HasAssignee = true
	steps := []struct {
		event string
		s     Subject
		to    string
	}{
		{"submit_for_approval", worker, "awaiting_approval"},
		{"approve", admin(), "approved"},
		{"start_implementation", worker, "implementing"},
		{"complete", worker, "done"},
	}
	state := cr.Initial
	for _, st := range steps {
		res, err := cr.Fire(ctx, state, st.event, st.s)
		if err != nil || res.From != state || res.To != st.to {
			t.Fatalf("%s from %s: %+v, %v", st.event, state, res, err)
		}
		state = res.To
	}

	art := builtin(t, "article")
	editor := Subject{Roles: []string{RoleKnowledgeEditor}}
	state = art.Initial
	for _, ev := range []string{"submit", "approve", "archive", "restore"} {
		res, err := art.Fire(ctx, state, ev, editor)
		if err != nil {
			t.Fatalf("article %s from %s: %v", ev, state, err)
		}
		state = res.To
	}
	if state != "draft" {
		t.Fatalf("article ended in %s", state)
	}
}

func equalResult(a, b Result) bool {
	return a.From == b.From && a.To == b.To && a.Category == b.Category && a.SLA == b.SLA && slices.Equal(a.Actions, b.Actions)
}

func TestFireReturnsActionsCopy(t *testing.T) {
	d := builtin(t, "support")
	res, err := d.Fire(context.Background(), "new", "pick_up", agent())
	if err != nil {
		t.Fatal(err)
	}
	res.Actions[0].Type = "mutated"
	if ev, _ := d.Event("pick_up"); ev.Actions[0].Type != ActionAssignActor {
		t.Fatal("Result.Actions aliases the definition")
	}
}

func TestFireGuardErrors(t *testing.T) {
	ctx := context.Background()
	support := builtin(t, "support")
	cr := builtin(t, "change_request")

	perm := small()
	perm.Events[0].Guards = Guards{Permissions: []string{"tickets:approve", "tickets:close"}}
	perm.Events[1].Guards = Guards{DepartmentRequired: true}

	cases := []struct {
		name       string
		d          *Definition
		from, ev   string
		s          Subject
		kind       GuardKind
		msg        string
		roles      []string
		permission string
		fields     []string
	}{
		{"requester may not open", support, "new", "open", requester(),
			GuardForbidden, `"open" needs one of the roles admin, agent, department_member`, []string{"admin", "agent", "department_member"}, "", nil},
		{"forbidden beats missing fields", support, "open", "resolve", requester(),
			GuardForbidden, `"resolve" needs one of the roles`, []string{"admin", "agent", "department_member"}, "", nil},
		{"stranger may not close", support, "resolved", "close", Subject{Roles: []string{RoleKnowledgeEditor}},
			GuardForbidden, `"close" needs the ticket's requester or one of the roles admin, agent, department_member`, []string{"admin", "agent", "department_member"}, "", nil},
		{"agent may not approve", cr, "awaiting_approval", "approve", agent(),
			GuardForbidden, `"approve" needs one of the roles admin`, []string{"admin"}, "", nil},
		{"nil Can has no permissions", perm, "new", "start", agent(),
			GuardForbidden, `"start" needs the permission tickets:approve`, nil, "tickets:approve", nil},
		{"every permission is needed", perm, "new", "start", Subject{Can: func(p string) bool { return p == "tickets:approve" }},
			GuardForbidden, `"start" needs the permission tickets:close`, nil, "tickets:close", nil},
		{"missing resolution", support, "open", "resolve", func() Subject { s := agent(); s.LinkedArticles = 1; return s }(),
			GuardMissingFields, `"resolve" needs the field resolution`, nil, "", []string{"resolution"}},
		{"blank reason", support, "open", "cancel", withFields(agent(), "reason", "  \t"),
			GuardMissingFields, `"cancel" needs the field reason`, nil, "", []string{"reason"}},
		{"no assignee", cr, "approved", "start_implementation", agent(),
			GuardPrecondition, `assign the ticket before firing "start_implementation"`, nil, "", nil},
		{"no department", perm, "open", "finish", agent(),
			GuardPrecondition, `route the ticket to a department before firing "finish"`, nil, "", nil},
		{"no knowledge beats missing fields", support, "open", "resolve", agent(),
			GuardPrecondition, `link a knowledge article or give no_article_reason before firing "resolve"`, nil, "", []string{NoArticleReasonField}},
		{"reopen too late", support, "resolved", "reopen", func() Subject { s := requester(); s.Now = t0.Add(168*time.Hour + time.Second); return s }(),
			GuardPrecondition, `"reopen" is only possible within 168h0m0s of resolution`, nil, "", nil},
		{"unknown entry time fails closed", support, "resolved", "reopen", func() Subject { s := requester(); s.StateEnteredAt = time.Time{}; return s }(),
			GuardPrecondition, `within 168h0m0s`, nil, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.d.Fire(ctx, tc.from, tc.ev, tc.s)
			ge := guardError(t, err)
			if ge.Event != tc.ev || ge.Kind != tc.kind || !slices.Equal(ge.Roles, tc.roles) ||
				ge.Permission != tc.permission || !slices.Equal(ge.Fields, tc.fields) {
				t.Fatalf("got %+v", ge)
			}
			if !strings.Contains(ge.Message, tc.msg) || ge.Error() != ge.Message {
				t.Fatalf("message %q, want it to contain %q", ge.Message, tc.msg)
			}
		})
	}
}

func TestFireMissingFieldsListsAll(t *testing.T) {
	d := small()
	d.Events[0].Guards.RequireFields = []string{"reason", "comment", "reason"}
	_, err := d.Fire(context.Background(), "new", "start", agent())
	ge := guardError(t, err)
	if ge.Kind != GuardMissingFields || !slices.Equal(ge.Fields, []string{"reason", "comment"}) ||
		ge.Message != `"start" needs the fields reason, comment` {
		t.Fatalf("got %+v", ge)
	}
}

func TestReopenWindow(t *testing.T) {
	d := builtin(t, "support")
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{
		{0, true},
		{167 * time.Hour, true},
		{168 * time.Hour, true}, // the window is inclusive
		{168*time.Hour + time.Nanosecond, false},
		{30 * 24 * time.Hour, false},
	} {
		s := requester()
		s.StateEnteredAt, s.Now = t0, t0.Add(tc.after)
		_, err := d.Fire(context.Background(), "resolved", "reopen", s)
		if (err == nil) != tc.ok {
			t.Errorf("reopen %v after resolution: err = %v, want ok=%v", tc.after, err, tc.ok)
		}
		listed := slices.Contains(optionNames(d.Available("resolved", s)), "reopen")
		if listed != tc.ok {
			t.Errorf("reopen %v after resolution: listed=%v, want %v", tc.after, listed, tc.ok)
		}
	}
}

func TestFireNotAllowed(t *testing.T) {
	ctx := context.Background()
	d := builtin(t, "support")
	_, err := d.Fire(ctx, "open", "close", agent())
	var na *NotAllowedError
	if !errors.As(err, &na) {
		t.Fatalf("want *NotAllowedError, got %T %v", err, err)
	}
	wantAllowed := []string{"pick_up", "wait_customer", "escalate", "resolve", "cancel"}
	if na.Event != "close" || na.State != "open" || !slices.Equal(na.Allowed, wantAllowed) {
		t.Fatalf("got %+v", na)
	}
	if want := `event "close" is not allowed from state "open"; allowed now: pick_up, wait_customer, escalate, resolve, cancel`; err.Error() != want {
		t.Fatalf("Error() = %q\nwant      %q", err, want)
	}

	// Unknown events, and a requester with nothing to do.
	_, err = d.Fire(ctx, "new", "teleport", requester())
	if !errors.As(err, &na) || na.Event != "teleport" || len(na.Allowed) != 0 {
		t.Fatalf("got %T %v", err, err)
	}
	if want := `event "teleport" is not allowed from state "new"; no events are allowed now`; err.Error() != want {
		t.Fatalf("Error() = %q", err)
	}
	if _, err := d.Fire(ctx, "new", "", agent()); !errors.As(err, &na) {
		t.Fatalf("empty event: %T %v", err, err)
	}
}

func TestFireUnknownStateAndContext(t *testing.T) {
	d := builtin(t, "support")
	if _, err := d.Fire(context.Background(), "limbo", "open", agent()); !errors.Is(err, ErrUnknownState) {
		t.Fatalf("unknown current state: %v", err)
	}
	if _, err := d.Fire(context.Background(), "", "open", agent()); !errors.Is(err, ErrUnknownState) {
		t.Fatalf("empty current state: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Fire(ctx, "new", "open", agent()); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
	var nilDef *Definition
	if _, err := nilDef.Fire(context.Background(), "new", "open", agent()); err == nil {
		t.Fatal("nil definition fired")
	}
	if opts := nilDef.Available("new", agent()); opts != nil {
		t.Fatalf("nil definition has options %v", opts)
	}
}

func TestFireSelfLoop(t *testing.T) {
	d := small()
	d.Events = append(d.Events, Event{Name: "touch", From: []string{"open"}, To: "open",
		Actions: []Action{{Type: ActionSetPriority, Priority: "P1"}}})
	if err := d.Validate(testOpts); err != nil {
		t.Fatal(err)
	}
	res, err := d.Fire(context.Background(), "open", "touch", agent())
	if err != nil || res.From != "open" || res.To != "open" || len(res.Actions) != 1 {
		t.Fatalf("self loop: %+v, %v", res, err)
	}
}

func TestFireConcurrentOnOneDefinition(t *testing.T) {
	d := builtin(t, "support")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := d.Fire(context.Background(), "new", "pick_up", agent()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestStateAndEventLookups(t *testing.T) {
	d := builtin(t, "support")
	if st, ok := d.State("pending_customer"); !ok || st.SLA != SLAPaused || st.Category != CategoryPending {
		t.Fatalf("State: %+v %v", st, ok)
	}
	if _, ok := d.State("limbo"); ok {
		t.Fatal("found limbo")
	}
	ev, ok := d.Event("reopen")
	if !ok || ev.Guards.Within != "168h" || !ev.Guards.RequesterOnly || ev.To != "open" {
		t.Fatalf("Event: %+v %v", ev, ok)
	}
	ev.From[0] = "mutated"
	if again, _ := d.Event("reopen"); again.From[0] != "resolved" {
		t.Fatal("Event returns shared slices")
	}
	if _, ok := d.Event("open"); !ok {
		t.Fatal("no open event")
	}
}

func BenchmarkFire(b *testing.B) {
	d := builtin(b, "support")
	s := agent()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Fire(ctx, "new", "pick_up", s); err != nil {
			b.Fatal(err)
		}
	}
}
