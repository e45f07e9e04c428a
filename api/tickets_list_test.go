package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// listAll follows next_cursor from query to the end and returns the ids.
func (e *env) listAll(tok, query string, limit int) []int64 {
	e.t.Helper()
	var ids []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 50 {
			e.t.Fatal("pagination does not end")
		}
		u := "/api/v1/tickets?limit=" + itoa(int64(limit))
		if query != "" {
			u += "&" + query
		}
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page ticketPage
		e.req("GET", u, tok, nil).status(200).json(&page)
		if len(page.Items) > limit {
			e.t.Fatalf("page of %d with limit %d", len(page.Items), limit)
		}
		for _, t := range page.Items {
			ids = append(ids, t.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
}

// ids lists one page of GET /tickets?query.
func (e *env) ids(tok, query string) []int64 {
	e.t.Helper()
	var page ticketPage
	e.req("GET", "/api/v1/tickets?"+query, tok, nil).status(200).json(&page)
	out := []int64{}
	for _, t := range page.Items {
		out = append(out, t.ID)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ids ...int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	if out == nil {
		out = []int64{}
	}
	return out
}

func TestTicketListFiltersAndPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		agent, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		req2, req2Tok := e.user("req2@example.com", accounts.RoleRequester)
		var dept deptJSON
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Desk", "member_ids": []int64{agent.ID}}).status(201).json(&dept)

		mk := func(tok string, body map[string]any) int64 { return e.newTicket(tok, body).ID }
		printer := mk(e.reqTok, map[string]any{"subject": "Printer jam on floor 3", "priority": "P1", "tags": []string{"printer"}, "category": "hardware"})
		vpn := mk(e.reqTok, map[string]any{"subject": "VPN 连接失败 无法登录", "priority": "P2", "tags": []string{"vpn", "network"}, "category": "network"})
		mail := mk(e.reqTok, map[string]any{"subject": "Email bounce", "description": "mails to partner bounce"})
		toner := mk(agentTok, map[string]any{"subject": "Printer toner empty", "priority": "P4", "tags": []string{"printer"}, "category": "hardware",
			"requester_id": e.requester.ID, "department_id": dept.ID, "assignee_id": agent.ID})
		var bulk []int64
		for i := range 5 {
			bulk = append(bulk, mk(req2Tok, map[string]any{"subject": "Bulk request " + itoa(int64(i))}))
		}
		all := sortedIDs(append([]int64{printer, vpn, mail, toner}, bulk...)...)

		// Every page size walks the whole list exactly once, in order.
		for _, limit := range []int{1, 2, 3, 4, 9, 10, 200} {
			got := e.listAll(agentTok, "", limit)
			if !slices.Equal(sortedIDs(got...), all) || !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
				t.Fatalf("limit %d newest: %v, want %v", limit, got, all)
			}
		}
		if got := e.listAll(agentTok, "sort=oldest", 4); !slices.Equal(got, all) {
			t.Fatalf("oldest %v", got)
		}
		if got := e.listAll(agentTok, "sort=updated", 2); !slices.Equal(sortedIDs(got...), all) {
			t.Fatalf("updated %v", got)
		}
		byPrio := e.listAll(agentTok, "sort=priority", 2)
		if !slices.Equal(sortedIDs(byPrio...), all) || byPrio[0] != printer || byPrio[1] != vpn || byPrio[len(byPrio)-1] != toner {
			t.Fatalf("priority order %v", byPrio)
		}
		// Filters, alone and combined; repeatable ones take commas or repeats.
		cases := []struct {
			query string
			want  []int64
		}{
			{"priority=P1,P2", sortedIDs(printer, vpn)},
			{"priority=P1&priority=P4", sortedIDs(printer, toner)},
			{"tag=printer", sortedIDs(printer, toner)},
			{"tag=PRINTER", sortedIDs(printer, toner)},
			{"category=hardware&priority=P4", sortedIDs(toner)},
			{"department_id=" + itoa(dept.ID), sortedIDs(toner)},
			{"assignee_id=" + itoa(agent.ID), sortedIDs(toner)},
			{"assignee_id=none&requester_id=" + itoa(e.requester.ID), sortedIDs(printer, vpn, mail)},
			{"requester_id=" + itoa(req2.ID), sortedIDs(bulk...)},
			{"status=new", all},
			{"status=new,closed&status_category=new", all},
			{"status=closed", sortedIDs()},
			{"status_category=resolved,closed", sortedIDs()},
			{"q=printer", sortedIDs(printer, toner)},
			{"q=" + url.QueryEscape("连接失败"), sortedIDs(vpn)},
			{"q=bounce&priority=P3", sortedIDs(mail)},
			{"created_from=" + time.Now().UTC().Format(time.DateOnly), all},
			{"created_from=" + url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)) + "&created_to=" + time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly), all},
			{"created_to=" + time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), sortedIDs()},
			{"created_from=2999-01-01", sortedIDs()},
			{"limit=200&sort=oldest&status=", all}, // an empty filter is no filter
		}
		for _, tc := range cases {
			if got := e.ids(agentTok, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("?%s: %v, want %v", tc.query, got, tc.want)
			}
		}
		// Filtered pages: the cursor carries on within the filter.
		if got := e.listAll(agentTok, "requester_id="+itoa(req2.ID), 2); !slices.Equal(sortedIDs(got...), sortedIDs(bulk...)) {
			t.Fatalf("filtered pages %v", got)
		}
		// Visibility: requesters see theirs only, whatever they ask for.
		if got := e.ids(e.reqTok, "limit=200"); !slices.Equal(got, sortedIDs(printer, vpn, mail, toner)) {
			t.Fatalf("requester sees %v", got)
		}
		if got := e.ids(e.reqTok, "requester_id="+itoa(req2.ID)); len(got) != 0 {
			t.Fatalf("requester sees another's tickets: %v", got)
		}
		if got := e.ids(req2Tok, "q=printer"); len(got) != 0 {
			t.Fatalf("search leaks across requesters: %v", got)
		}

		// A cursor belongs to its list: another sort or garbage is a 400.
		var page ticketPage
		e.req("GET", "/api/v1/tickets?limit=2", agentTok, nil).status(200).json(&page)
		p := e.req("GET", "/api/v1/tickets?sort=oldest&cursor="+url.QueryEscape(page.NextCursor), agentTok, nil).problem(400)
		if p.field("cursor") == "" || !strings.Contains(p.Detail, "cursor") {
			t.Fatalf("cross-sort cursor %+v", p)
		}
		for _, bad := range []string{"!!!", "AAAA", strings.Repeat("A", 600), "eyJzIjoibmV3ZXN0IiwiaWQiOi0xfQ"} {
			p := e.req("GET", "/api/v1/tickets?cursor="+url.QueryEscape(bad), agentTok, nil).problem(400)
			if p.field("cursor") == "" {
				t.Fatalf("cursor %q: %+v", bad, p)
			}
		}
		e.noServerErrors()
	})
}

// Query strings as people and scripts get them wrong: a 400 naming the
// parameter, never a silently unfiltered list, never a 500.
func TestTicketListBadQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		e.newTicket(agentTok, map[string]any{"subject": "something"})
		cases := []struct {
			query, field, detail string
		}{
			{"stauts=open", "stauts", `did you mean "status"`},
			{"Status=open", "Status", `did you mean "status"`},
			{"status=open&foo=1&bar=2", "foo", "bar"},
			{"sla=late", "sla", "breached, due_soon"},
			{"sla=due_soon&due_within_minutes=0", "due_within_minutes", "from 1 to"},
			{"sla=due_soon&due_within_minutes=soon", "due_within_minutes", "from 1 to"},
			{"sla=breached&due_within_minutes=30", "due_within_minutes", "sla=due_soon"},
			{"sla=breached&sla=due_soon", "sla", "once"},
			{"priority=P9", "priority", "P9"},
			{"priority=p1", "priority", "priority"},
			{"status=Open%20Now", "status", "status"},
			{"status_category=done", "status_category", "status_category"},
			{"department_id=abc", "department_id", "positive integer"},
			{"department_id=1&department_id=2", "department_id", "once"},
			{"assignee_id=-1", "assignee_id", "none"},
			{"assignee_id=nobody", "assignee_id", "none"},
			{"requester_id=99999999999999999999", "requester_id", "positive integer"},
			{"created_from=yesterday", "created_from", "RFC 3339"},
			{"created_from=2026-13-01", "created_from", "RFC 3339"},
			{"created_from=0001-01-01", "created_from", "1970"},
			{"created_from=2026-02-01&created_to=2026-01-01", "created_to", "created_from"},
			{"sort=random", "sort", "newest"},
			{"limit=0", "limit", "1 to 200"},
			{"limit=500", "limit", "1 to 200"},
			{"limit=", "limit", "limit"},
			{"q=" + strings.Repeat("字", 10000), "q", "500"},
			{"q=%ff%fe", "q", "UTF-8"},
			{"tag=" + strings.Repeat("x", 300), "tag", "200"},
			{"priority=P1,P2&sort=worst&department_id=x", "department_id", "see errors"},
		}
		for _, tc := range cases {
			t.Run(tc.query[:min(len(tc.query), 40)], func(t *testing.T) {
				p := e.req("GET", "/api/v1/tickets?"+tc.query, agentTok, nil).problem(400)
				if p.field(tc.field) == "" {
					t.Fatalf("no error for %s: %+v", tc.field, p)
				}
				all := p.Detail
				for _, f := range p.Errors {
					all += "\n" + f.Field + ": " + f.Message
				}
				if !strings.Contains(all, tc.detail) {
					t.Fatalf("problem lacks %q: %s", tc.detail, all)
				}
				if len(p.Detail) > 2000 {
					t.Fatalf("detail echoes the input: %d bytes", len(p.Detail))
				}
			})
		}
		// Odd but valid searches are data: 200, never a 500.
		for _, q := range []string{`' OR 1=1 --`, `"; DROP TABLE tickets; --`, "🎫🔥", "%", "_", `\`, "a", strings.Repeat("ab ", 160), "打印机 printer 😀", "\u0000"} {
			e.req("GET", "/api/v1/tickets?q="+url.QueryEscape(q), agentTok, nil).status(200)
		}
		if n := e.count("tickets", "1=1"); n != 1 {
			t.Fatalf("tickets table has %d rows", n)
		}
		// The route is protected like the others.
		e.req("GET", "/api/v1/tickets", "", nil).problem(401)
		e.noServerErrors()
	})
}

// Bodies as people and scripts get them wrong: 4xx with a detail, never 500.
func TestTicketBadBodies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		tk := e.newTicket(agentTok, map[string]any{"subject": "target"})
		cases := []struct {
			name, method, path, body string
			hdr                      []string
			status                   int
		}{
			{"malformed", "POST", "/api/v1/tickets", `{"subject": "a",`, nil, 400},
			{"wrong type", "POST", "/api/v1/tickets", `{"subject": 5}`, nil, 422},
			{"tags not array", "POST", "/api/v1/tickets", `{"subject": "a", "tags": "x"}`, nil, 422},
			{"custom field number", "POST", "/api/v1/tickets", `{"subject": "a", "custom_fields": {"n": 1}}`, nil, 422},
			{"custom field key", "POST", "/api/v1/tickets", `{"subject": "a", "custom_fields": {"Bad Key": "x"}}`, nil, 422},
			{"huge id", "POST", "/api/v1/tickets", `{"subject": "a", "department_id": 1e400}`, nil, 422},
			{"unknown department", "POST", "/api/v1/tickets", `{"subject": "a", "department_id": 987654}`, nil, 422},
			{"unknown field", "POST", "/api/v1/tickets", `{"subject": "a", "status": "closed"}`, nil, 422},
			{"array", "POST", "/api/v1/tickets", `[{"subject": "a"}]`, nil, 422},
			{"huge body", "POST", "/api/v1/tickets", `{"subject":"` + strings.Repeat("a", 2<<20) + `"}`, nil, 413},
			{"long subject", "POST", "/api/v1/tickets", `{"subject":"` + strings.Repeat("长", 10000) + `"}`, nil, 422},
			{"text/plain", "POST", "/api/v1/tickets", `{"subject": "a"}`, []string{"Content-Type: text/plain"}, 415},
			{"comment wrong type", "POST", tpath(tk.ID, "comments"), `{"body": ["a"]}`, nil, 422},
			{"comment on bad id", "POST", "/api/v1/tickets/abc/comments", `{"body": "a"}`, nil, 400},
			{"transition fields array", "POST", tpath(tk.ID, "transitions"), `{"event": "open", "fields": ["a"]}`, nil, 422},
			{"transition long event", "POST", tpath(tk.ID, "transitions"), `{"event": "` + strings.Repeat("e", 100) + `"}`, nil, 422},
			{"escalation tier text", "POST", tpath(tk.ID, "escalations"), `{"kind": "functional", "tier": "two", "reason": "x"}`, nil, 422},
			{"escalation both", "POST", tpath(tk.ID, "escalations"), `{"kind": "functional", "tier": 2, "to_department_id": 1, "reason": "x"}`, nil, 422},
			{"escalation nowhere", "POST", tpath(tk.ID, "escalations"), `{"kind": "functional", "reason": "x"}`, nil, 422},
			{"escalation unknown department", "POST", tpath(tk.ID, "escalations"), `{"kind": "functional", "to_department_id": 987654, "reason": "x"}`, nil, 422},
			{"patch sql", "PATCH", tpath(tk.ID), `{"subject": "Robert'); DROP TABLE tickets;--"}`, nil, 200},
			{"patch emoji", "PATCH", tpath(tk.ID), `{"subject": "🎫 名字 \u202e", "tags": ["😀"]}`, nil, 200},
			{"overflow id", "GET", "/api/v1/tickets/99999999999999999999", ``, nil, 400},
			{"sql id", "GET", "/api/v1/tickets/1%20OR%201=1", ``, nil, 400},
			{"history of nothing", "GET", tpath(999999, "history"), ``, nil, 404},
			{"escalations of nothing", "GET", tpath(999999, "escalations"), ``, nil, 404},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.req(tc.method, tc.path, agentTok, tc.body, tc.hdr...)
				if tc.status < 300 {
					r.status(tc.status)
					return
				}
				r.problem(tc.status)
			})
		}
		var back ticketJSON
		e.req("GET", tpath(tk.ID), agentTok, nil).status(200).json(&back)
		if back.Subject != "🎫 名字 \u202e" || !slices.Equal(back.Tags, []string{"😀"}) {
			t.Fatalf("round trip %+v", back)
		}
		if n := e.count("tickets", "1=1"); n != 1 {
			t.Fatalf("tickets table has %d rows", n)
		}
		e.noServerErrors()
	})
}

type workflowJSON struct {
	Key     string           `json:"key"`
	Version int              `json:"version"`
	Name    string           `json:"name"`
	Initial string           `json:"initial"`
	States  []map[string]any `json:"states"`
	Events  []map[string]any `json:"events"`
}

func TestWorkflowsPublishAndMigrate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		var list struct {
			Items []struct {
				Key           string `json:"key"`
				LatestVersion int    `json:"latest_version"`
			} `json:"items"`
		}
		e.req("GET", "/api/v1/workflows", agentTok, nil).status(200).json(&list)
		if len(list.Items) < 3 || !slices.ContainsFunc(list.Items, func(w struct {
			Key           string `json:"key"`
			LatestVersion int    `json:"latest_version"`
		}) bool {
			return w.Key == "support" && w.LatestVersion == 1
		}) {
			t.Fatalf("workflows %+v", list)
		}
		e.req("GET", "/api/v1/workflows", e.reqTok, nil).problem(403)

		var v1 workflowJSON
		raw := e.req("GET", "/api/v1/workflows/support", agentTok, nil).status(200)
		raw.json(&v1)
		if v1.Key != "support" || v1.Version != 1 || v1.Initial != "new" || len(v1.States) != 7 {
			t.Fatalf("support v1 %+v", v1)
		}
		e.req("GET", "/api/v1/workflows/support?version=1", agentTok, nil).status(200)
		e.req("GET", "/api/v1/workflows/support?version=2", agentTok, nil).problem(404)
		e.req("GET", "/api/v1/workflows/nope", agentTok, nil).problem(404)
		e.req("GET", "/api/v1/workflows/support?version=abc", agentTok, nil).problem(400)
		e.req("GET", "/api/v1/workflows/support?verison=1", agentTok, nil).problem(400)
		e.req("GET", "/api/v1/workflows/Not%20A%20Key", agentTok, nil).problem(400)

		// A ticket waiting on the customer under v1.
		tk := e.newTicket(agentTok, map[string]any{"subject": "Migrate me"})
		e.fire(agentTok, tk.ID, "open", nil).status(200)
		e.fire(agentTok, tk.ID, "wait_customer", nil).status(200)

		// v2 renames pending_customer to waiting.
		doc := strings.ReplaceAll(raw.Body.String(), `"pending_customer"`, `"waiting"`)
		e.req("POST", "/api/v1/workflows", agentTok, doc).problem(403)
		r := e.req("POST", "/api/v1/workflows", e.adminTok, doc, "Idempotency-Key: wf-2").status(201)
		var v2 workflowJSON
		r.json(&v2)
		if v2.Version != 2 || r.Header().Get("Location") != "/api/v1/workflows/support?version=2" {
			t.Fatalf("published %+v, Location %s", v2, r.Header().Get("Location"))
		}
		again := e.req("POST", "/api/v1/workflows", e.adminTok, doc, "Idempotency-Key: wf-2").status(201)
		if again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatal("publish replay")
		}
		e.req("GET", "/api/v1/workflows/support", agentTok, nil).status(200).json(&v2)
		if v2.Version != 2 {
			t.Fatalf("latest is %d", v2.Version)
		}
		if nt := e.newTicket(agentTok, map[string]any{"subject": "On v2"}); nt.WorkflowVersion != 2 {
			t.Fatalf("new ticket on version %d", nt.WorkflowVersion)
		}

		mig := "/api/v1/workflows/support/migrations"
		e.req("POST", mig, agentTok, map[string]any{"from_version": 1, "to_version": 2, "state_map": map[string]string{"waiting": "waiting"}}).problem(403)
		p := e.req("POST", mig, e.adminTok, map[string]any{"from_version": 1, "to_version": 2}).problem(422)
		if p.field("state_map.pending_customer") == "" {
			t.Fatalf("unmapped state not named: %+v", p.Errors)
		}
		p = e.req("POST", mig, e.adminTok, map[string]any{"from_version": 1, "to_version": 1}).problem(422)
		if p.field("to_version") == "" {
			t.Fatalf("same version %+v", p.Errors)
		}
		e.req("POST", mig, e.adminTok, map[string]any{"from_version": 1, "to_version": 9, "state_map": map[string]string{}}).problem(422)
		var out struct {
			Migrated int `json:"migrated"`
		}
		e.req("POST", mig, e.adminTok, map[string]any{"from_version": 1, "to_version": 2,
			"state_map": map[string]string{"pending_customer": "waiting"}}).status(200).json(&out)
		if out.Migrated != 1 {
			t.Fatalf("migrated %d", out.Migrated)
		}
		var moved ticketJSON
		e.req("GET", tpath(tk.ID), agentTok, nil).status(200).json(&moved)
		if moved.WorkflowVersion != 2 || moved.Status != "waiting" {
			t.Fatalf("after migration %+v", moved)
		}
		if _, evs := e.options(agentTok, tk.ID); !slices.Contains(evs, "customer_replied") {
			t.Fatalf("v2 events from waiting: %v", evs)
		}
		e.fire(agentTok, tk.ID, "customer_replied", nil).status(200)
		e.noServerErrors()
	})
}

// An invalid definition is refused with every problem, by path.
func TestWorkflowPublishInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		bad := `{"key": "Bad Key", "name": "", "initial": "nowhere",
			"states": [{"name": "a", "category": "weird", "sla": "running"}, {"name": "a", "category": "closed", "sla": "sometimes"}],
			"events": [{"name": "go", "from": ["zzz"], "to": "a", "guards": {"roles": ["wizard"], "within": "soon"}}]}`
		p := e.req("POST", "/api/v1/workflows", e.adminTok, bad).problem(422)
		for _, path := range []string{"key", "name", "initial", "states[0].category", "states[1].name", "states[1].sla",
			"events[0].from[0]", "events[0].guards.roles[0]", "events[0].guards.within"} {
			if p.field(path) == "" {
				t.Errorf("problem at %s not listed: %+v", path, p.Errors)
			}
		}
		if !strings.Contains(p.Detail, "problems") {
			t.Errorf("detail %q", p.Detail)
		}
		cases := []struct {
			name, body string
			hdr        []string
			status     int
		}{
			{"malformed", `{"key": "x",`, nil, 400},
			{"trailing", `{"key": "x"} {}`, nil, 400},
			{"unknown field", `{"key": "support", "colour": "red"}`, nil, 422},
			{"wrong type", `{"key": "support", "states": "many"}`, nil, 422},
			{"array", `[1, 2]`, nil, 422},
			{"yaml text", "key: support\nname: x\n", nil, 400},
			{"empty", ``, nil, 400},
			{"yaml content type", `{"key": "x"}`, []string{"Content-Type: application/yaml"}, 415},
			{"huge", `{"key": "` + strings.Repeat("k", 2<<20) + `"}`, nil, 413},
			{"empty object", `{}`, nil, 422},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.req("POST", "/api/v1/workflows", e.adminTok, tc.body, tc.hdr...).problem(tc.status)
			})
		}
		var sup workflowJSON
		e.req("GET", "/api/v1/workflows/support", e.adminTok, nil).status(200).json(&sup)
		if sup.Version != 1 {
			t.Fatalf("an invalid definition was published: v%d", sup.Version)
		}
		e.noServerErrors()
	})
}

// An engine without the tickets service (accounts-only tools) answers
// its ticket routes with a 503, not a nil dereference.
func TestTicketRoutesWithoutService(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	e.eng = api.NewEngine(api.Deps{Accounts: e.svc, DB: e.db, Redis: e.rdb, Registry: prometheus.NewRegistry()})
	e.req("GET", "/api/v1/tickets", e.adminTok, nil).problem(http.StatusServiceUnavailable)
	e.req("GET", "/api/v1/workflows", e.adminTok, nil).problem(http.StatusServiceUnavailable)
}
