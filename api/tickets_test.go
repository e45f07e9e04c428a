package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

type ticketJSON struct {
	ID              int64             `json:"id"`
	Subject         string            `json:"subject"`
	Description     string            `json:"description"`
	Status          string            `json:"status"`
	StatusCategory  string            `json:"status_category"`
	Priority        string            `json:"priority"`
	Type            string            `json:"type"`
	WorkflowVersion int               `json:"workflow_version"`
	Category        string            `json:"category"`
	Tags            []string          `json:"tags"`
	Channel         string            `json:"channel"`
	CustomFields    map[string]string `json:"custom_fields"`
	DepartmentID    *int64            `json:"department_id"`
	AssigneeID      *int64            `json:"assignee_id"`
	RequesterID     int64             `json:"requester_id"`
	Version         int               `json:"version"`
}

type optionJSON struct {
	Event         string   `json:"event"`
	Label         string   `json:"label"`
	To            string   `json:"to"`
	RequireFields []string `json:"require_fields"`
}

type transitionsJSON struct {
	State          string       `json:"state"`
	StatusCategory string       `json:"status_category"`
	Version        int          `json:"version"`
	Items          []optionJSON `json:"items"`
}

type ticketPage struct {
	Items      []ticketJSON `json:"items"`
	NextCursor string       `json:"next_cursor"`
}

func tpath(id int64, sub ...string) string {
	p := "/api/v1/tickets/" + itoa(id)
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// withWorkflows publishes the builtin workflows, as serve does at start.
func (e *env) withWorkflows() *env {
	e.t.Helper()
	if err := e.tix.EnsureBuiltinWorkflows(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return e
}

func (e *env) newTicket(tok string, body map[string]any, hdr ...string) ticketJSON {
	e.t.Helper()
	var t ticketJSON
	r := e.req("POST", "/api/v1/tickets", tok, body, hdr...).status(http.StatusCreated)
	r.json(&t)
	if r.Header().Get("Location") != tpath(t.ID) || r.Header().Get("ETag") != `"`+itoa(int64(t.Version))+`"` {
		e.t.Fatalf("create headers %v for %+v", r.Header(), t)
	}
	return t
}

// options returns the transitions listing and its event names.
func (e *env) options(tok string, id int64) (transitionsJSON, []string) {
	e.t.Helper()
	var tr transitionsJSON
	r := e.req("GET", tpath(id, "transitions"), tok, nil).status(200)
	r.json(&tr)
	if r.Header().Get("ETag") != `"`+itoa(int64(tr.Version))+`"` {
		e.t.Fatalf("transitions ETag %q, version %d", r.Header().Get("ETag"), tr.Version)
	}
	names := []string{}
	for _, o := range tr.Items {
		names = append(names, o.Event)
	}
	return tr, names
}

func (e *env) fire(tok string, id int64, event string, fields map[string]string, hdr ...string) resp {
	e.t.Helper()
	body := map[string]any{"event": event}
	if fields != nil {
		body["fields"] = fields
	}
	return e.req("POST", tpath(id, "transitions"), tok, body, hdr...)
}

func (e *env) noServerErrors() {
	e.t.Helper()
	if strings.Contains(e.logs.String(), `"status":500`) || strings.Contains(e.logs.String(), "internal error") {
		e.t.Fatalf("a 500 was logged:\n%s", e.logs.String())
	}
}

// allowedOf reads the allowed extension member of a 409 problem.
func allowedOf(r resp) []string {
	var p struct {
		Allowed *[]string `json:"allowed"`
	}
	r.json(&p)
	if p.Allowed == nil {
		r.t.Fatalf("no allowed member: %s", r.Body.String())
	}
	return *p.Allowed
}

// The support workflow walked end to end through the API: at every state
// GET /transitions lists exactly what the caller may fire (staff and the
// requester differ), and each listed event works.
func TestTicketTransitionsWalk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		agent, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "Printer on fire 打印机", "description": "smoke everywhere"})
		if tk.Status != "new" || tk.StatusCategory != "new" || tk.Type != "support" || tk.RequesterID != e.requester.ID ||
			tk.Priority != "P3" || tk.Channel != "api" || tk.Tags == nil || tk.CustomFields == nil {
			t.Fatalf("created %+v", tk)
		}

		// Exactly what each may fire, per state, from the builtin support workflow.
		staff := map[string][]string{
			"new":              {"open", "pick_up", "escalate", "resolve", "cancel"},
			"open":             {"pick_up", "wait_customer", "escalate", "resolve", "cancel"},
			"in_progress":      {"wait_customer", "escalate", "resolve"},
			"pending_customer": {"customer_replied", "resolve", "cancel"},
			"resolved":         {"close", "reopen"},
			"closed":           {},
		}
		requester := map[string][]string{
			"new": {}, "open": {}, "in_progress": {},
			"pending_customer": {"customer_replied"},
			"resolved":         {"close", "reopen"},
			"closed":           {},
		}
		check := func(state string, version int) {
			t.Helper()
			tr, got := e.options(agentTok, tk.ID)
			if tr.State != state || tr.Version != version || !slices.Equal(got, staff[state]) {
				t.Fatalf("agent at %s v%d: got state %s v%d events %v, want %v", state, version, tr.State, tr.Version, got, staff[state])
			}
			_, got = e.options(e.reqTok, tk.ID)
			if !slices.Equal(got, requester[state]) {
				t.Fatalf("requester at %s: events %v, want %v", state, got, requester[state])
			}
			for _, o := range tr.Items {
				if o.To == "" || o.RequireFields == nil {
					t.Fatalf("option %+v", o)
				}
				if o.Event == "resolve" && !slices.Equal(o.RequireFields, []string{"resolution", "no_article_reason"}) {
					t.Fatalf("resolve requires %v", o.RequireFields)
				}
			}
		}

		resolveFields := map[string]string{"resolution": "replaced the fuser", "no_article_reason": "one-off hardware fault"}
		steps := []struct {
			tok, event string
			fields     map[string]string
			to         string
		}{
			{agentTok, "open", nil, "open"},
			{agentTok, "pick_up", nil, "in_progress"},
			{agentTok, "wait_customer", nil, "pending_customer"},
			{e.reqTok, "customer_replied", nil, "open"},
			{agentTok, "resolve", resolveFields, "resolved"},
			{e.reqTok, "reopen", nil, "open"},
			{agentTok, "resolve", resolveFields, "resolved"},
			{e.reqTok, "close", nil, "closed"},
		}
		version := tk.Version
		check("new", version)
		for _, st := range steps {
			r := e.fire(st.tok, tk.ID, st.event, st.fields, `If-Match: "`+itoa(int64(version))+`"`).status(200)
			var got ticketJSON
			r.json(&got)
			if got.Status != st.to || got.Version <= version || r.Header().Get("ETag") != `"`+itoa(int64(got.Version))+`"` {
				t.Fatalf("%s: ticket %+v, ETag %s", st.event, got, r.Header().Get("ETag"))
			}
			if st.event == "pick_up" && (got.AssigneeID == nil || *got.AssigneeID != agent.ID) {
				t.Fatalf("pick_up did not assign the agent: %+v", got)
			}
			version = got.Version
			check(st.to, version)
		}
		var final ticketJSON
		e.req("GET", tpath(tk.ID), e.reqTok, nil).status(200).json(&final)
		if final.Status != "closed" || final.StatusCategory != "closed" {
			t.Fatalf("final %+v", final)
		}
		e.noServerErrors()
	})
}

// The escalation story: an agent escalates to Billing, a Billing member
// finds it in the department queue, picks it up and resolves it, and the
// history shows every step with who did it.
func TestEscalationStory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		agent, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		member, memberTok := e.user("billing@example.com", accounts.RoleDepartmentMember)
		var billing deptJSON
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Billing", "member_ids": []int64{member.ID}}).
			status(201).json(&billing)

		tk := e.newTicket(agentTok, map[string]any{"subject": "Charged twice", "requester_id": e.requester.ID, "priority": "P2",
			"tags": []string{"Billing", "refund"}, "custom_fields": map[string]string{"order_id": "A-1"}, "channel": "phone"})
		queue := "/api/v1/tickets?department_id=" + itoa(billing.ID)
		var page ticketPage
		e.req("GET", queue, memberTok, nil).status(200).json(&page)
		if len(page.Items) != 0 {
			t.Fatalf("queue before escalation: %+v", page.Items)
		}
		e.req("GET", tpath(tk.ID), memberTok, nil).problem(404) // not theirs yet

		// Validation before anything moves.
		p := e.req("POST", tpath(tk.ID, "escalations"), agentTok, map[string]any{"kind": "sideways", "reason": ""}).problem(422)
		if p.field("kind") == "" || p.field("reason") == "" {
			t.Fatalf("escalation validation %+v", p.Errors)
		}
		e.req("POST", tpath(tk.ID, "escalations"), e.reqTok, map[string]any{"kind": "functional", "to_department_id": billing.ID, "reason": "x"}).problem(403)

		var esc struct {
			Escalation struct {
				ID             int64  `json:"id"`
				Kind           string `json:"kind"`
				ToDepartmentID *int64 `json:"to_department_id"`
				ByID           int64  `json:"by_id"`
				Reason         string `json:"reason"`
			} `json:"escalation"`
			Ticket ticketJSON `json:"ticket"`
		}
		escBody := map[string]any{"kind": "functional", "to_department_id": billing.ID, "reason": "refund needs Billing"}
		r := e.req("POST", tpath(tk.ID, "escalations"), agentTok, escBody,
			`If-Match: "`+itoa(int64(tk.Version))+`"`, "Idempotency-Key: esc-1").status(201)
		r.json(&esc)
		// A retried escalation replays the first, with the ticket's ETag.
		replay := e.req("POST", tpath(tk.ID, "escalations"), agentTok, escBody,
			`If-Match: "`+itoa(int64(tk.Version))+`"`, "Idempotency-Key: esc-1").status(201)
		if replay.Body.String() != r.Body.String() || replay.Header().Get("ETag") != r.Header().Get("ETag") {
			t.Fatalf("escalation replay %s %v", replay.Body.String(), replay.Header())
		}
		if esc.Escalation.ToDepartmentID == nil || *esc.Escalation.ToDepartmentID != billing.ID || esc.Escalation.ByID != agent.ID ||
			esc.Ticket.DepartmentID == nil || *esc.Ticket.DepartmentID != billing.ID || esc.Ticket.Version <= tk.Version ||
			r.Header().Get("ETag") != `"`+itoa(int64(esc.Ticket.Version))+`"` {
			t.Fatalf("escalation %+v, ETag %s", esc, r.Header().Get("ETag"))
		}
		// A stale If-Match on an escalation is a 412 naming the current version.
		p = e.req("POST", tpath(tk.ID, "escalations"), agentTok,
			map[string]any{"kind": "functional", "to_department_id": billing.ID, "reason": "again"},
			`If-Match: "`+itoa(int64(tk.Version))+`"`).problem(412)
		if !strings.Contains(p.Detail, `"`+itoa(int64(esc.Ticket.Version))+`"`) {
			t.Fatalf("412 detail %q", p.Detail)
		}

		e.req("GET", queue, memberTok, nil).status(200).json(&page)
		if len(page.Items) != 1 || page.Items[0].ID != tk.ID {
			t.Fatalf("Billing queue: %+v", page.Items)
		}
		var escs struct {
			Items []struct {
				ID     int64  `json:"id"`
				Reason string `json:"reason"`
			} `json:"items"`
		}
		e.req("GET", tpath(tk.ID, "escalations"), memberTok, nil).status(200).json(&escs)
		if len(escs.Items) != 1 || escs.Items[0].Reason != "refund needs Billing" {
			t.Fatalf("escalations %+v", escs)
		}

		_, events := e.options(memberTok, tk.ID)
		if !slices.Contains(events, "pick_up") {
			t.Fatalf("member may not pick up: %v", events)
		}
		var got ticketJSON
		e.fire(memberTok, tk.ID, "pick_up", nil).status(200).json(&got)
		if got.Status != "in_progress" || got.AssigneeID == nil || *got.AssigneeID != member.ID {
			t.Fatalf("after pick_up %+v", got)
		}
		e.fire(memberTok, tk.ID, "resolve", map[string]string{"resolution": "refunded", "no_article_reason": "duplicate charge"}).
			status(200).json(&got)
		if got.Status != "resolved" || got.StatusCategory != "resolved" {
			t.Fatalf("after resolve %+v", got)
		}

		var hist struct {
			Items []struct {
				ActorID *int64 `json:"actor_id"`
				Kind    string `json:"kind"`
				Field   string `json:"field"`
				From    string `json:"from"`
				To      string `json:"to"`
				At      string `json:"at"`
			} `json:"items"`
		}
		e.req("GET", tpath(tk.ID, "history"), agentTok, nil).status(200).json(&hist)
		seen := map[string]bool{}
		for _, h := range hist.Items {
			if h.At == "" {
				t.Fatalf("history entry without time: %+v", h)
			}
			by := int64(0)
			if h.ActorID != nil {
				by = *h.ActorID
			}
			switch {
			case h.Kind == "created" && by == agent.ID:
				seen["created"] = true
			case h.Kind == "escalation" && by == agent.ID:
				seen["escalation"] = true
			case h.Kind == "state" && h.To == "in_progress" && by == member.ID:
				seen["pick_up"] = true
			case h.Kind == "state" && h.To == "resolved" && by == member.ID:
				seen["resolve"] = true
			case h.Kind == "assignment" && h.To == itoa(member.ID) && by == member.ID:
				seen["assignment"] = true
			}
		}
		for _, want := range []string{"created", "escalation", "pick_up", "resolve", "assignment"} {
			if !seen[want] {
				t.Errorf("history lacks %s with its actor: %+v", want, hist.Items)
			}
		}
		e.noServerErrors()
	})
}

// Every way a transition can be refused, each with its own status.
func TestTransitionErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "VPN down"})

		// Not allowed from this state: 409 listing what is.
		r := e.fire(agentTok, tk.ID, "close", nil)
		p := r.problem(409)
		if allowed := allowedOf(r); !slices.Equal(allowed, []string{"open", "pick_up", "escalate", "resolve", "cancel"}) || !strings.Contains(p.Detail, "close") {
			t.Fatalf("409 allowed %v detail %q", allowed, p.Detail)
		}
		r = e.fire(agentTok, tk.ID, "no_such_event", nil)
		r.problem(409)
		allowedOf(r)
		// The requester may fire nothing now: 409 with an empty allowed list
		// for an unknown event, 403 for a staff event.
		r = e.fire(e.reqTok, tk.ID, "fly", nil)
		r.problem(409)
		if a := allowedOf(r); len(a) != 0 {
			t.Fatalf("requester allowed %v", a)
		}
		p = e.fire(e.reqTok, tk.ID, "open", nil).problem(403)
		if !strings.Contains(p.Detail, "open") {
			t.Fatalf("403 detail %q", p.Detail)
		}
		// Missing fields: 422, one error per field under fields.
		p = e.fire(agentTok, tk.ID, "cancel", nil).problem(422)
		if p.field("fields.reason") == "" {
			t.Fatalf("422 errors %+v", p.Errors)
		}
		p = e.fire(agentTok, tk.ID, "resolve", map[string]string{"no_article_reason": "n/a"}).problem(422)
		if p.field("fields.resolution") == "" {
			t.Fatalf("422 errors %+v", p.Errors)
		}
		// The knowledge guard: the ticket needs a link or a reason (409, naming the field).
		p = e.fire(agentTok, tk.ID, "resolve", map[string]string{"resolution": "rebooted"}).problem(409)
		if !strings.Contains(p.Detail, "no_article_reason") || p.field("fields.no_article_reason") == "" {
			t.Fatalf("knowledge guard %+v", p)
		}
		// Body mistakes.
		e.req("POST", tpath(tk.ID, "transitions"), agentTok, map[string]any{}).problem(422)
		e.req("POST", tpath(tk.ID, "transitions"), agentTok, map[string]any{"event": "open", "fields": map[string]any{"n": 1}}).problem(422)
		e.req("POST", tpath(tk.ID, "transitions"), agentTok, map[string]any{"event": "open", "version": 1}).problem(422)
		e.req("POST", tpath(tk.ID, "transitions"), agentTok, map[string]any{"event": "open"}, "If-Match: 1").problem(400)
		e.req("POST", tpath(999999, "transitions"), agentTok, map[string]any{"event": "open"}).problem(404)
		e.req("GET", tpath(999999, "transitions"), agentTok, nil).problem(404)
		// Another requester cannot see the ticket at all.
		_, otherTok := e.user("other@example.com", accounts.RoleRequester)
		p = e.req("GET", tpath(tk.ID, "transitions"), otherTok, nil).problem(404)
		if !strings.Contains(p.Detail, "ticket") {
			t.Fatalf("404 detail %q", p.Detail)
		}
		e.fire(otherTok, tk.ID, "close", nil).problem(404)

		// Nothing moved.
		tr, _ := e.options(agentTok, tk.ID)
		if tr.State != "new" || tr.Version != tk.Version {
			t.Fatalf("refused transitions changed the ticket: %+v", tr)
		}
		e.noServerErrors()
	})
}

// Two writers holding the same ETag: exactly one wins, the other learns
// the version that won.
func TestTicketConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		tk := e.newTicket(agentTok, map[string]any{"subject": "Race"})
		etag := `If-Match: "` + itoa(int64(tk.Version)) + `"`

		race := func(do func(i int) resp) (codes []int, bodies []string) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range 2 {
				wg.Go(func() {
					r := do(i)
					mu.Lock()
					codes = append(codes, r.Code)
					bodies = append(bodies, r.Body.String())
					mu.Unlock()
				})
			}
			wg.Wait()
			slices.Sort(codes)
			return codes, bodies
		}
		codes, bodies := race(func(i int) resp {
			return e.req("PATCH", tpath(tk.ID), agentTok, map[string]any{"subject": "Race " + itoa(int64(i))}, etag)
		})
		if !slices.Equal(codes, []int{200, 412}) {
			t.Fatalf("PATCH race: %v %v", codes, bodies)
		}
		var cur ticketJSON
		r := e.req("GET", tpath(tk.ID), agentTok, nil).status(200)
		r.json(&cur)
		for _, b := range bodies {
			if strings.Contains(b, `"status":412`) && !strings.Contains(b, `\"`+itoa(int64(cur.Version))+`\"`) {
				t.Fatalf("412 does not name the current version %d: %s", cur.Version, b)
			}
		}

		etag = `If-Match: "` + itoa(int64(cur.Version)) + `"`
		codes, bodies = race(func(i int) resp {
			ev := []string{"open", "pick_up"}[i]
			return e.fire(agentTok, tk.ID, ev, nil, etag)
		})
		if !slices.Equal(codes, []int{200, 412}) {
			t.Fatalf("transition race: %v %v", codes, bodies)
		}
		// Without If-Match a write simply applies to the current version.
		e.req("PATCH", tpath(tk.ID), agentTok, map[string]any{"priority": "P1"}).status(200)
		// A sequential stale write is the same 412.
		e.req("PATCH", tpath(tk.ID), agentTok, map[string]any{"priority": "P2"}, etag).problem(412)
		e.noServerErrors()
	})
}

func TestTicketPatchAndIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		agent, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		var dept deptJSON
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Network", "member_ids": []int64{agent.ID}}).status(201).json(&dept)

		body := map[string]any{"subject": "Once only", "description": "retry me", "tags": []string{"net"}}
		first := e.req("POST", "/api/v1/tickets", e.reqTok, body, "Idempotency-Key: t-1").status(201)
		again := e.req("POST", "/api/v1/tickets", e.reqTok, body, "Idempotency-Key: t-1").status(201)
		var a, b ticketJSON
		first.json(&a)
		again.json(&b)
		if a.ID != b.ID || again.Header().Get("Idempotent-Replayed") != "true" || again.Header().Get("Location") != tpath(a.ID) ||
			again.Header().Get("ETag") != `"1"` {
			t.Fatalf("replay: %+v vs %+v, headers %v", a, b, again.Header())
		}
		if n := e.count("tickets", "subject = ?", "Once only"); n != 1 {
			t.Fatalf("%d tickets created", n)
		}
		e.req("POST", "/api/v1/tickets", e.reqTok, map[string]any{"subject": "Other"}, "Idempotency-Key: t-1").problem(422)

		// PATCH: absent keeps, null clears, values set; requesters may not.
		path := tpath(a.ID)
		var got ticketJSON
		e.req("PATCH", path, agentTok, map[string]any{"department_id": dept.ID, "assignee_id": agent.ID, "priority": "P1",
			"tags": []string{"Net", "urgent"}, "custom_fields": map[string]string{"site": "HQ"}, "category": "network"}, `If-Match: "1"`).
			status(200).json(&got)
		if got.DepartmentID == nil || *got.DepartmentID != dept.ID || got.AssigneeID == nil || got.Priority != "P1" ||
			!slices.Equal(got.Tags, []string{"net", "urgent"}) || got.CustomFields["site"] != "HQ" || got.Subject != "Once only" {
			t.Fatalf("patched %+v", got)
		}
		e.req("PATCH", path, agentTok, map[string]any{"assignee_id": nil, "department_id": nil}).status(200).json(&got)
		if got.DepartmentID != nil || got.AssigneeID != nil || got.Priority != "P1" {
			t.Fatalf("null did not clear: %+v", got)
		}
		p := e.req("PATCH", path, agentTok, map[string]any{"subject": nil}).problem(422)
		if p.field("subject") == "" {
			t.Fatalf("PATCH null subject %+v", p.Errors)
		}
		p = e.req("PATCH", path, agentTok, map[string]any{"priority": "P9", "assignee_id": 0}).problem(422)
		if p.field("priority") == "" || p.field("assignee_id") == "" {
			t.Fatalf("PATCH validation %+v", p.Errors)
		}
		e.req("PATCH", path, agentTok, map[string]any{}).problem(422)
		e.req("PATCH", path, agentTok, map[string]any{"status": "closed"}).problem(422)
		e.req("PATCH", path, e.reqTok, map[string]any{"subject": "mine"}).problem(403)
		e.req("PATCH", tpath(999999), agentTok, map[string]any{"subject": "x"}).problem(404)

		// Create validation lists every problem.
		p = e.req("POST", "/api/v1/tickets", agentTok, map[string]any{"priority": "urgent", "channel": "pigeon", "department_id": 0}).problem(422)
		for _, f := range []string{"subject", "priority", "channel", "department_id"} {
			if p.field(f) == "" {
				t.Errorf("create: %s not listed: %+v", f, p.Errors)
			}
		}
		p = e.req("POST", "/api/v1/tickets", agentTok, map[string]any{"subject": "x", "type": "nope"}).problem(422)
		if p.field("type") == "" {
			t.Fatalf("unknown type %+v", p.Errors)
		}
		_, editorTok := e.user("editor@example.com", accounts.RoleKnowledgeEditor)
		e.req("POST", "/api/v1/tickets", editorTok, map[string]any{"subject": "x"}).problem(403)
		e.noServerErrors()
	})
}

func TestTicketComments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "Password reset"})
		type commentJSON struct {
			ID       int64  `json:"id"`
			Body     string `json:"body"`
			Internal bool   `json:"internal"`
			AuthorID int64  `json:"author_id"`
		}
		var c commentJSON
		e.req("POST", tpath(tk.ID, "comments"), e.reqTok, map[string]any{"body": "still locked out 🔒"}).status(201).json(&c)
		if c.AuthorID != e.requester.ID || c.Internal {
			t.Fatalf("comment %+v", c)
		}
		e.req("POST", tpath(tk.ID, "comments"), agentTok, map[string]any{"body": "looks like phishing, do not tell", "internal": true}).status(201)
		first := e.req("POST", tpath(tk.ID, "comments"), agentTok, map[string]any{"body": "reset sent"}, "Idempotency-Key: c-1").status(201)
		again := e.req("POST", tpath(tk.ID, "comments"), agentTok, map[string]any{"body": "reset sent"}, "Idempotency-Key: c-1").status(201)
		if first.Body.String() != again.Body.String() {
			t.Fatal("comment replay differs")
		}
		e.req("POST", tpath(tk.ID, "comments"), e.reqTok, map[string]any{"body": "sneaky", "internal": true}).problem(403)
		e.req("POST", tpath(tk.ID, "comments"), e.reqTok, map[string]any{"body": ""}).problem(422)
		e.req("POST", tpath(tk.ID, "comments"), e.reqTok, map[string]any{"internal": false}).problem(422)

		var staff, cust struct {
			Items []commentJSON `json:"items"`
		}
		e.req("GET", tpath(tk.ID, "comments"), agentTok, nil).status(200).json(&staff)
		e.req("GET", tpath(tk.ID, "comments"), e.reqTok, nil).status(200).json(&cust)
		if len(staff.Items) != 3 || len(cust.Items) != 2 {
			t.Fatalf("staff sees %d, requester %d comments", len(staff.Items), len(cust.Items))
		}
		for _, cm := range cust.Items {
			if cm.Internal || strings.Contains(cm.Body, "phishing") {
				t.Fatalf("requester sees an internal note: %+v", cm)
			}
		}
		var hist struct {
			Items []struct {
				Kind string `json:"kind"`
				Note string `json:"note"`
			} `json:"items"`
		}
		e.req("GET", tpath(tk.ID, "history"), e.reqTok, nil).status(200).json(&hist)
		for _, h := range hist.Items {
			if strings.Contains(h.Note, "phishing") {
				t.Fatalf("requester sees an internal note in history: %+v", h)
			}
		}
		_, otherTok := e.user("other@example.com", accounts.RoleRequester)
		e.req("GET", tpath(tk.ID, "comments"), otherTok, nil).problem(404)
		e.req("POST", tpath(tk.ID, "comments"), otherTok, map[string]any{"body": "hi"}).problem(404)
		e.noServerErrors()
	})
}

// The ticket and workflow routes are documented from the same table:
// their filters, If-Match, permissions and error statuses.
func TestOpenAPITicketRoutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.req("GET", "/api/v1/openapi.json", "", nil).status(200).json(&doc)
	type op struct {
		Permission string `json:"x-permission"`
		Parameters []struct {
			Name   string         `json:"name"`
			In     string         `json:"in"`
			Schema map[string]any `json:"schema"`
		} `json:"parameters"`
		Responses   map[string]any `json:"responses"`
		RequestBody *struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	get := func(path, method string) op {
		t.Helper()
		raw, ok := doc.Paths[path][method]
		if !ok {
			t.Fatalf("%s %s not documented", method, path)
		}
		var o op
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	params := func(o op) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, p := range o.Parameters {
			m[p.In+":"+p.Name] = p.Schema
		}
		return m
	}

	list := get("/api/v1/tickets", "get")
	ps := params(list)
	for _, q := range []string{"status", "status_category", "priority", "category", "department_id", "assignee_id", "requester_id",
		"tag", "created_from", "created_to", "q", "sort", "sla", "limit", "cursor"} {
		if ps["query:"+q] == nil {
			t.Errorf("GET /tickets does not document ?%s", q)
		}
	}
	if list.Permission != "tickets:read" || ps["query:status"]["type"] != "array" || ps["query:cursor"]["maxLength"] != nil {
		t.Errorf("GET /tickets: permission %q, status %v, cursor %v", list.Permission, ps["query:status"], ps["query:cursor"])
	}
	fire := get("/api/v1/tickets/{id}/transitions", "post")
	if params(fire)["header:If-Match"] == nil {
		t.Error("POST transitions does not document If-Match")
	}
	for _, code := range []string{"200", "403", "404", "409", "412", "422"} {
		if fire.Responses[code] == nil {
			t.Errorf("POST transitions does not document %s", code)
		}
	}
	if get("/api/v1/tickets", "post").Permission != "tickets:create" || get("/api/v1/workflows", "post").Permission != "workflows:write" {
		t.Error("ticket/workflow create permissions")
	}
	wf := get("/api/v1/workflows/{key}", "get")
	if k := params(wf)["path:key"]; k == nil || k["type"] != "string" || params(wf)["query:version"] == nil {
		t.Errorf("GET /workflows/{key} params %v", params(wf))
	}
	pub := get("/api/v1/workflows", "post")
	if pub.RequestBody == nil || !strings.HasSuffix(pub.RequestBody.Content["application/json"].Schema["$ref"].(string), "/PublishWorkflowRequest") {
		t.Errorf("POST /workflows body %+v", pub.RequestBody)
	}
	for _, path := range []string{"/api/v1/tickets/{id}", "/api/v1/tickets/{id}/comments", "/api/v1/tickets/{id}/escalations",
		"/api/v1/tickets/{id}/history", "/api/v1/workflows/{key}/migrations"} {
		if len(doc.Paths[path]) == 0 {
			t.Errorf("%s not documented", path)
		}
	}
	if doc.Components.Schemas["Problem"].Properties["allowed"] == nil {
		t.Error("Problem does not document allowed")
	}
	if !slices.Contains(doc.Components.Schemas["CreateTicketRequest"].Required, "subject") {
		t.Error("CreateTicketRequest.subject not required")
	}
}
