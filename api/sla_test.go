package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

type calendarJSON struct {
	ID         int64                 `json:"id"`
	Name       string                `json:"name"`
	Timezone   string                `json:"timezone"`
	AlwaysOpen bool                  `json:"always_open"`
	Hours      map[string][][]string `json:"hours"`
	Holidays   []string              `json:"holidays"`
	Version    int                   `json:"version"`
}

type targetJSON struct {
	Metric      string           `json:"metric"`
	Within      string           `json:"within"`
	WarnBefore  string           `json:"warn_before"`
	WarnPercent int              `json:"warn_percent"`
	OnWarning   []map[string]any `json:"on_warning"`
	OnBreach    []map[string]any `json:"on_breach"`
}

type policyJSON struct {
	ID         int64            `json:"id"`
	Name       string           `json:"name"`
	Position   int              `json:"position"`
	Active     bool             `json:"active"`
	CalendarID *int64           `json:"calendar_id"`
	Match      map[string][]any `json:"match"`
	Targets    []targetJSON     `json:"targets"`
	Version    int              `json:"version"`
}

type clockJSON struct {
	Metric         string     `json:"metric"`
	PolicyID       int64      `json:"policy_id"`
	Target         string     `json:"target"`
	TargetSeconds  int64      `json:"target_seconds"`
	Cycle          int        `json:"cycle"`
	State          string     `json:"state"`
	Paused         bool       `json:"paused"`
	Elapsed        string     `json:"elapsed"`
	ElapsedSeconds int64      `json:"elapsed_seconds"`
	DueAt          *time.Time `json:"due_at"`
	WarnAt         *time.Time `json:"warn_at"`
	BreachedAt     *time.Time `json:"breached_at"`
	MetAt          *time.Time `json:"met_at"`
}

// shanghai is API.md's calendar example.
func shanghai(name string) map[string]any {
	return map[string]any{
		"name": name, "timezone": "Asia/Shanghai", "always_open": false,
		"hours": map[string]any{
			"mon": [][]string{{"13:00", "18:00"}, {"09:00", "12:00"}},
			"tue": [][]string{{"09:00", "12:00"}, {"13:00", "18:00"}},
			"fri": [][]string{{"09:00", "17:00"}},
		},
		"holidays": []string{"2026-10-01", "2026-10-02"},
	}
}

// basicPolicy is API.md's policy example.
func basicPolicy(name string) map[string]any {
	return map[string]any{
		"name": name, "position": 1,
		"match": map[string]any{"priority": []string{"P1", "P2"}},
		"targets": []map[string]any{
			{"metric": "first_response", "within": "4h", "warn_before": "30m",
				"on_warning": []map[string]any{{"action": "notify", "to": []string{"assignee"}}},
				"on_breach":  []map[string]any{{"action": "escalate", "kind": "hierarchical"}, {"action": "raise_priority"}}},
			{"metric": "resolution", "within": "1h30m"},
		},
	}
}

func etagOf(v int) string { return `"` + itoa(int64(v)) + `"` }

func TestSLACalendarsCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.adminTok
		r := e.req("POST", "/api/v1/sla/calendars", tok, shanghai("Shanghai office"), "Idempotency-Key: cal-1").status(http.StatusCreated)
		var cal calendarJSON
		r.json(&cal)
		if r.Header().Get("Location") != "/api/v1/sla/calendars/"+itoa(cal.ID) || r.Header().Get("ETag") != `"1"` || cal.Version != 1 {
			t.Fatalf("create headers %v body %s", r.Header(), r.Body.String())
		}
		if cal.Timezone != "Asia/Shanghai" || cal.AlwaysOpen || !slices.Equal(cal.Holidays, []string{"2026-10-01", "2026-10-02"}) {
			t.Fatalf("created %+v", cal)
		}
		// Ranges come back sorted, every day present.
		if got := cal.Hours["mon"]; len(got) != 2 || got[0][0] != "09:00" || got[0][1] != "12:00" || got[1][0] != "13:00" || got[1][1] != "18:00" {
			t.Fatalf("mon %v", got)
		}
		for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			if cal.Hours[d] == nil {
				t.Fatalf("day %s missing: %s", d, r.Body.String())
			}
		}
		if !strings.Contains(r.Body.String(), `"hours":{"mon":[["09:00","12:00"],["13:00","18:00"]]`) {
			t.Fatalf("hours are not in API.md's shape: %s", r.Body.String())
		}
		// The same Idempotency-Key replays the first answer.
		again := e.req("POST", "/api/v1/sla/calendars", tok, shanghai("Shanghai office"), "Idempotency-Key: cal-1").status(http.StatusCreated)
		if again.Header().Get("Idempotent-Replayed") != "true" || e.count("sla_calendars", "1=1") != 1 {
			t.Fatalf("idempotent replay: %v", again.Header())
		}

		path := "/api/v1/sla/calendars/" + itoa(cal.ID)
		var got calendarJSON
		g := e.req("GET", path, tok, nil).status(200)
		g.json(&got)
		if g.Header().Get("ETag") != `"1"` || got.Name != "Shanghai office" {
			t.Fatalf("get %v %+v", g.Header(), got)
		}
		var list struct{ Items []calendarJSON }
		e.req("GET", "/api/v1/sla/calendars", tok, nil).status(200).json(&list)
		if len(list.Items) != 1 || list.Items[0].ID != cal.ID {
			t.Fatalf("list %+v", list)
		}

		// PATCH replaces the whole calendar under If-Match.
		body := map[string]any{"name": "Shanghai 24x7", "timezone": "UTC", "always_open": true}
		p := e.req("PATCH", path, tok, body, "If-Match: \"1\"").status(200)
		var upd calendarJSON
		p.json(&upd)
		if p.Header().Get("ETag") != `"2"` || !upd.AlwaysOpen || upd.Timezone != "UTC" || len(upd.Hours["mon"]) != 0 || len(upd.Holidays) != 0 {
			t.Fatalf("patched %v %s", p.Header(), p.Body.String())
		}
		stale := e.req("PATCH", path, tok, body, "If-Match: \"1\"").problem(http.StatusPreconditionFailed)
		if !strings.Contains(stale.Detail, "version 2") {
			t.Fatalf("stale detail %q", stale.Detail)
		}
		e.req("PATCH", path, tok, body, "If-Match: W/\"2\"").problem(http.StatusBadRequest)
		e.req("PATCH", "/api/v1/sla/calendars/999999", tok, body).problem(http.StatusNotFound)
		e.req("PATCH", "/api/v1/sla/calendars/abc", tok, body).problem(http.StatusBadRequest)

		// In use by a policy: 409 with the domain's message, and nothing goes.
		pol := basicPolicy("Gold")
		pol["calendar_id"] = cal.ID
		var pj policyJSON
		e.req("POST", "/api/v1/sla/policies", tok, pol).status(http.StatusCreated).json(&pj)
		inUse := e.req("DELETE", path, tok, nil).problem(http.StatusConflict)
		if !strings.Contains(inUse.Detail, "policies use this calendar") {
			t.Fatalf("in-use detail %q", inUse.Detail)
		}
		e.req("DELETE", "/api/v1/sla/policies/"+itoa(pj.ID), tok, nil).status(http.StatusNoContent)

		// DELETE honours If-Match too.
		e.req("DELETE", path, tok, nil, "If-Match: \"1\"").problem(http.StatusPreconditionFailed)
		e.req("DELETE", path, tok, nil, "If-Match: \"2\"").status(http.StatusNoContent)
		notFound := e.req("GET", path, tok, nil).problem(http.StatusNotFound)
		if !strings.Contains(notFound.Detail, "calendar") {
			t.Fatalf("404 detail %q", notFound.Detail)
		}
		e.req("DELETE", path, tok, nil).problem(http.StatusNotFound)

		// Permissions: staff read, admins write, requesters neither.
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		e.req("GET", "/api/v1/sla/calendars", agentTok, nil).status(200)
		e.req("POST", "/api/v1/sla/calendars", agentTok, shanghai("x")).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/sla/calendars", e.reqTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/sla/calendars", "", nil).problem(http.StatusUnauthorized)
		e.noServerErrors()
	})
}

func TestSLACalendarBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.req("POST", "/api/v1/sla/calendars", e.adminTok, shanghai("Taken")).status(http.StatusCreated)
		with := func(mut func(m map[string]any)) map[string]any {
			m := shanghai("Calendar")
			mut(m)
			return m
		}
		hours := func(day string, ranges ...[]string) func(map[string]any) {
			return func(m map[string]any) { m["hours"] = map[string]any{day: ranges} }
		}
		cases := []struct {
			name   string
			body   any
			status int
			field  string // "" for body-level problems
			msg    string
		}{
			{"unknown field", with(func(m map[string]any) { m["colour"] = "red" }), 422, "colour", "unknown field"},
			{"the domain's spelling of timezone", with(func(m map[string]any) { m["time_zone"] = "UTC" }), 422, "time_zone", "unknown field"},
			{"unknown time zone", with(func(m map[string]any) { m["timezone"] = "Mars/Olympus" }), 422, "timezone", "IANA"},
			{"time zone missing", with(func(m map[string]any) { delete(m, "timezone") }), 422, "timezone", "required"},
			{"name missing", with(func(m map[string]any) { m["name"] = " " }), 422, "name", "name"},
			{"name taken", shanghai("Taken"), 422, "name", "already exists"},
			{"unknown day", with(hours("monday", []string{"09:00", "12:00"})), 422, "hours.monday", "mon, tue"},
			{"time not HH:MM", with(hours("mon", []string{"9:00", "12:00"})), 422, "hours.mon[0]", "HH:MM"},
			{"hour 25", with(hours("tue", []string{"09:00", "25:00"})), 422, "hours.tue[0]", "HH:MM"},
			{"range of three", with(hours("wed", []string{"09:00", "12:00", "13:00"})), 422, "hours.wed[0]", "start and an end"},
			{"range as a string", with(func(m map[string]any) { m["hours"] = map[string]any{"mon": []string{"09:00-12:00"}} }), 422, "hours", "array"},
			{"ends before it starts", with(hours("thu", []string{"18:00", "09:00"})), 422, "hours.thu[0]", "ends before it starts"},
			{"overlapping ranges", with(hours("fri", []string{"09:00", "12:00"}, []string{"11:00", "13:00"})), 422, "hours.fri[1]", "overlaps"},
			{"no working time", with(func(m map[string]any) { m["hours"] = map[string]any{} }), 422, "hours", `[["09:00","17:00"]]`},
			{"bad holiday", with(func(m map[string]any) { m["holidays"] = []string{"2026-02-30"} }), 422, "holidays[0]", "YYYY-MM-DD"},
			{"duplicate holiday", with(func(m map[string]any) { m["holidays"] = []string{"2026-10-01", "2026-10-01"} }), 422, "holidays[1]", "already"},
			{"hours not an object", with(func(m map[string]any) { m["hours"] = "9-5" }), 422, "hours", "object"},
			{"malformed JSON", `{"name": "x",`, 400, "", "malformed JSON"},
			{"not an object", `[1,2]`, 422, "", "JSON object"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := e.req("POST", "/api/v1/sla/calendars", e.adminTok, tc.body).problem(tc.status)
				text := p.Detail
				if tc.field != "" {
					text = p.field(tc.field)
					if text == "" {
						t.Fatalf("no error for %s: %+v", tc.field, p)
					}
				}
				if !strings.Contains(text, tc.msg) {
					t.Fatalf("%q lacks %q (%+v)", text, tc.msg, p)
				}
			})
		}
		// Every problem at once.
		p := e.req("POST", "/api/v1/sla/calendars", e.adminTok, map[string]any{"name": "", "timezone": "Nowhere",
			"hours": map[string]any{"mon": [][]string{{"9", "10"}}, "sun": [][]string{{"10:00", "09:00"}}}, "holidays": []string{"soon"}}).problem(422)
		for _, f := range []string{"name", "timezone", "hours.mon[0]", "hours.sun[0]", "holidays[0]"} {
			if p.field(f) == "" {
				t.Errorf("no error for %s in %+v", f, p.Errors)
			}
		}
		if e.count("sla_calendars", "1=1") != 1 {
			t.Fatal("a bad calendar was stored")
		}
		// PATCH checks the same way.
		var list struct{ Items []calendarJSON }
		e.req("GET", "/api/v1/sla/calendars", e.adminTok, nil).status(200).json(&list)
		e.req("PATCH", "/api/v1/sla/calendars/"+itoa(list.Items[0].ID), e.adminTok,
			with(hours("mon", []string{"09:00", "08:00"}))).problem(422)
		e.noServerErrors()
	})
}

func TestSLAPoliciesCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.adminTok
		r := e.req("POST", "/api/v1/sla/policies", tok, basicPolicy("Gold"), "Idempotency-Key: pol-1").status(http.StatusCreated)
		var p policyJSON
		r.json(&p)
		if r.Header().Get("Location") != "/api/v1/sla/policies/"+itoa(p.ID) || r.Header().Get("ETag") != `"1"` {
			t.Fatalf("create headers %v", r.Header())
		}
		if !p.Active || p.Position != 1 || p.CalendarID != nil || len(p.Targets) != 2 || len(p.Match["priority"]) != 2 {
			t.Fatalf("created %s", r.Body.String())
		}
		fr := p.Targets[0]
		if fr.Metric != "first_response" || fr.Within != "4h" || fr.WarnBefore != "30m" || len(fr.OnWarning) != 1 || len(fr.OnBreach) != 2 {
			t.Fatalf("first target %+v", fr)
		}
		if p.Targets[1].Within != "1h30m" || p.Targets[1].WarnBefore != "" {
			t.Fatalf("second target %+v", p.Targets[1])
		}
		if e.count("outbox", "event_type = ?", "sla:policy_changed") != 1 {
			t.Fatalf("no sla:policy_changed event")
		}

		// A 24x7 catch-all tried after Gold, and a calendar policy before it.
		var cal calendarJSON
		e.req("POST", "/api/v1/sla/calendars", tok, shanghai("Office")).status(201).json(&cal)
		catchAll := map[string]any{"name": "Default", "position": 9, "active": false,
			"targets": []map[string]any{{"metric": "next_response", "within": "8h", "warn_percent": 75}}}
		e.req("POST", "/api/v1/sla/policies", tok, catchAll).status(201)
		office := basicPolicy("Office hours")
		office["position"], office["calendar_id"] = 0, cal.ID
		e.req("POST", "/api/v1/sla/policies", tok, office).status(201)
		var list struct{ Items []policyJSON }
		e.req("GET", "/api/v1/sla/policies", tok, nil).status(200).json(&list)
		var names []string
		for _, it := range list.Items {
			names = append(names, it.Name)
		}
		if !slices.Equal(names, []string{"Office hours", "Gold", "Default"}) || list.Items[2].Active || *list.Items[0].CalendarID != cal.ID {
			t.Fatalf("list order %v %+v", names, list.Items)
		}

		// PATCH replaces the policy under If-Match; absent fields take defaults.
		path := "/api/v1/sla/policies/" + itoa(p.ID)
		repl := map[string]any{"name": "Gold", "targets": []map[string]any{{"metric": "resolution", "within": "48h", "warn_percent": 80}}}
		u := e.req("PATCH", path, tok, repl, "If-Match: \"1\"").status(200)
		var up policyJSON
		u.json(&up)
		if u.Header().Get("ETag") != `"2"` || up.Version != 2 || up.Position != 0 || len(up.Targets) != 1 || up.Targets[0].Within != "48h" ||
			up.Targets[0].WarnPercent != 80 || len(up.Match) != 0 {
			t.Fatalf("patched %s", u.Body.String())
		}
		e.req("PATCH", path, tok, repl, "If-Match: \"1\"").problem(http.StatusPreconditionFailed)
		var g policyJSON
		gr := e.req("GET", path, tok, nil).status(200)
		gr.json(&g)
		if gr.Header().Get("ETag") != `"2"` || g.Targets[0].Within != "48h" {
			t.Fatalf("get after patch %s", gr.Body.String())
		}
		// A name another policy has is a field error, not a 500.
		dup := e.req("PATCH", path, tok, map[string]any{"name": "Default", "targets": repl["targets"]}).problem(422)
		if !strings.Contains(dup.field("name"), "already exists") {
			t.Fatalf("duplicate name %+v", dup)
		}

		e.req("DELETE", path, tok, nil, "If-Match: \"1\"").problem(http.StatusPreconditionFailed)
		e.req("DELETE", path, tok, nil, "If-Match: \"2\"").status(http.StatusNoContent)
		e.req("GET", path, tok, nil).problem(http.StatusNotFound)
		e.req("DELETE", path, tok, nil).problem(http.StatusNotFound)

		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		e.req("GET", "/api/v1/sla/policies", agentTok, nil).status(200)
		e.req("PATCH", "/api/v1/sla/policies/"+itoa(list.Items[0].ID), agentTok, repl).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/sla/policies", e.reqTok, nil).problem(http.StatusForbidden)
		e.noServerErrors()
	})
}

func TestSLAPolicyBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		with := func(mut func(m map[string]any)) map[string]any {
			m := basicPolicy("Policy")
			mut(m)
			return m
		}
		target := func(i int, key string, v any) func(map[string]any) {
			return func(m map[string]any) { m["targets"].([]map[string]any)[i][key] = v }
		}
		cases := []struct {
			name   string
			body   any
			status int
			field  string
			msg    string
		}{
			{"unknown field", with(func(m map[string]any) { m["colour"] = "red" }), 422, "colour", "unknown field"},
			{"version in the body", with(func(m map[string]any) { m["version"] = 3 }), 422, "version", "unknown field"},
			{"unknown field in a target", with(target(0, "deadline", "4h")), 422, "", "deadline"},
			{"unknown match key", with(func(m map[string]any) { m["match"] = map[string]any{"severity": []string{"high"}} }), 422, "", "severity"},
			{"bad duration", with(target(0, "within", "4 hours")), 422, "targets[0].within", "not a duration"},
			{"days are not a Go unit", with(target(1, "within", "2d")), 422, "targets[1].within", "no days"},
			{"duration as a number", with(target(0, "within", 14400)), 422, "targets.within", "string"},
			{"negative duration", with(target(0, "within", "-1h")), 422, "targets[0].within", "positive"},
			{"within missing", with(func(m map[string]any) { delete(m["targets"].([]map[string]any)[1], "within") }), 422, "targets[1].within", "required"},
			{"bad warn_before", with(target(0, "warn_before", "soon")), 422, "targets[0].warn_before", "not a duration"},
			{"warn_before not shorter", with(target(0, "warn_before", "5h")), 422, "targets[0].warn_before", "shorter"},
			{"bad metric", with(target(0, "metric", "first_reply")), 422, "targets[0].metric", "first_response"},
			{"metric twice", with(target(1, "metric", "first_response")), 422, "targets[1].metric", "twice"},
			{"no targets", with(func(m map[string]any) { m["targets"] = []any{} }), 422, "targets", "at least one"},
			{"targets missing", with(func(m map[string]any) { delete(m, "targets") }), 422, "targets", "required"},
			{"bad priority", with(func(m map[string]any) { m["match"] = map[string]any{"priority": []string{"urgent"}} }), 422, "match.priority[0]", "P1"},
			{"unknown department", with(func(m map[string]any) { m["match"] = map[string]any{"department_id": []int64{424242}} }), 422, "match.department_id[0]", "no department"},
			{"unknown calendar", with(func(m map[string]any) { m["calendar_id"] = 999999 }), 422, "calendar_id", "no calendar 999999"},
			{"calendar id zero", with(func(m map[string]any) { m["calendar_id"] = 0 }), 422, "calendar_id", "positive"},
			{"bad action", with(target(0, "on_breach", []map[string]any{{"action": "panic"}})), 422, "targets[0].on_breach[0].action", "notify, escalate"},
			{"bad recipient", with(target(0, "on_warning", []map[string]any{{"action": "notify", "to": []string{"everyone"}}})), 422, "targets[0].on_warning[0].to[0]", "recipient"},
			{"active null", with(func(m map[string]any) { m["active"] = nil }), 422, "active", "null"},
			{"negative position", with(func(m map[string]any) { m["position"] = -1 }), 422, "position", "0 or more"},
			{"name missing", with(func(m map[string]any) { delete(m, "name") }), 422, "name", "required"},
			{"malformed JSON", `{"name": "x", "targets": [`, 400, "", "malformed JSON"},
			{"wrong content type", nil, 415, "", "application/json"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.body == nil {
					tc.body = `{"name":"x"}`
					hdr = []string{"Content-Type: text/plain"}
				}
				p := e.req("POST", "/api/v1/sla/policies", e.adminTok, tc.body, hdr...).problem(tc.status)
				text := p.Detail
				for _, f := range p.Errors {
					text += "\n" + f.Field + ": " + f.Message
				}
				if tc.field != "" && p.field(tc.field) == "" {
					t.Fatalf("no error for %s: %s", tc.field, text)
				}
				if !strings.Contains(text, tc.msg) {
					t.Fatalf("%q lacks %q", text, tc.msg)
				}
			})
		}
		// Every problem at once, each by its path.
		p := e.req("POST", "/api/v1/sla/policies", e.adminTok, map[string]any{"name": "", "calendar_id": 31337,
			"match":   map[string]any{"priority": []string{"P0"}},
			"targets": []map[string]any{{"metric": "first_reply", "within": "4 hours"}, {"metric": "resolution", "within": "8h", "warn_before": "later"}},
		}).problem(422)
		for _, f := range []string{"name", "match.priority[0]", "targets[0].metric", "targets[0].within", "targets[1].warn_before"} {
			if p.field(f) == "" {
				t.Errorf("no error for %s in %+v", f, p.Errors)
			}
		}
		if e.count("sla_policies", "1=1") != 0 {
			t.Fatal("a bad policy was stored")
		}
		e.noServerErrors()
	})
}

// insertClock stores a clock row as the SLA engine does.
func (e *env) insertClock(ticketID int64, metric, state string, cycle int, elapsed time.Duration, due, breached, met *time.Time) {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := e.db.Exec(`INSERT INTO sla_clocks (ticket_id, metric, policy_id, target_ms, cycle, state, started_at, elapsed_ms,
  due_at, breached_at, met_at, updated_at) VALUES (?, ?, 1, 3600000, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ticketID, metric, cycle, state, now, elapsed.Milliseconds(), due, breached, met, now).Error
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) insertBreachEvent(ticketID int64, metric string, cycle int) {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := e.db.Exec(`INSERT INTO sla_events (ticket_id, metric, cycle, kind, policy_id, due_at, recorded_at) VALUES (?, ?, ?, 'breach', 1, ?, ?)`,
		ticketID, metric, cycle, now, now).Error
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestTicketSLA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		ctx := context.Background()
		member, memberTok := e.user("member@example.com", accounts.RoleDepartmentMember)
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		var dept struct{ ID int64 }
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Ops", "member_ids": []int64{member.ID}}).status(201).json(&dept)

		// A 24x7 policy for P1 and P2; the engine computes the clocks.
		e.req("POST", "/api/v1/sla/policies", e.adminTok, basicPolicy("Gold")).status(201)
		tk := e.newTicket(e.reqTok, map[string]any{"subject": "Printer on fire", "priority": "P1"})
		other := e.newTicket(agentTok, map[string]any{"subject": "Slow VPN", "priority": "P2", "department_id": dept.ID})
		plain := e.newTicket(agentTok, map[string]any{"subject": "Question", "priority": "P4"})
		for _, id := range []int64{tk.ID, other.ID, plain.ID} {
			if err := e.sla.Recompute(ctx, id); err != nil {
				t.Fatal(err)
			}
		}

		var clocks struct{ Items []clockJSON }
		e.req("GET", tpath(tk.ID, "sla"), agentTok, nil).status(200).json(&clocks)
		if len(clocks.Items) != 2 || clocks.Items[0].Metric != "first_response" || clocks.Items[1].Metric != "resolution" {
			t.Fatalf("clocks %+v", clocks)
		}
		fr := clocks.Items[0]
		if fr.State != "running" || fr.Paused || fr.Target != "4h" || fr.TargetSeconds != 4*3600 || fr.Cycle != 1 || fr.DueAt == nil ||
			fr.WarnAt == nil || fr.BreachedAt != nil || fr.DueAt.Sub(*fr.WarnAt) != 30*time.Minute {
			t.Fatalf("first response clock %+v", fr)
		}
		// No policy matches P4: no clocks, an empty list.
		var none struct{ Items []clockJSON }
		r := e.req("GET", tpath(plain.ID, "sla"), agentTok, nil).status(200)
		r.json(&none)
		if len(none.Items) != 0 || !strings.Contains(r.Body.String(), `"items":[]`) {
			t.Fatalf("clocks of an uncovered ticket: %s", r.Body.String())
		}

		// Ticket bodies carry the same clocks: GET, list (batched), PATCH.
		var one struct {
			SLA []clockJSON `json:"sla"`
		}
		e.req("GET", tpath(tk.ID), agentTok, nil).status(200).json(&one)
		if len(one.SLA) != 2 || one.SLA[0].DueAt == nil || !one.SLA[0].DueAt.Equal(*fr.DueAt) {
			t.Fatalf("ticket sla %+v", one.SLA)
		}
		var page struct {
			Items []struct {
				ID  int64       `json:"id"`
				SLA []clockJSON `json:"sla"`
			} `json:"items"`
		}
		e.req("GET", "/api/v1/tickets?limit=10", agentTok, nil).status(200).json(&page)
		perTicket := map[int64]int{}
		for _, it := range page.Items {
			if it.SLA == nil {
				t.Fatalf("list item %d has no sla member", it.ID)
			}
			perTicket[it.ID] = len(it.SLA)
		}
		if perTicket[tk.ID] != 2 || perTicket[other.ID] != 2 || perTicket[plain.ID] != 0 {
			t.Fatalf("list sla counts %v", perTicket)
		}
		var patched struct {
			SLA []clockJSON `json:"sla"`
		}
		e.req("PATCH", tpath(tk.ID), agentTok, map[string]any{"subject": "Printer on fire, really"}).status(200).json(&patched)
		if len(patched.SLA) != 2 {
			t.Fatalf("PATCH answer sla %+v", patched.SLA)
		}

		// Requesters see their ticket without the team's SLA figures.
		var mine struct {
			SLA []clockJSON `json:"sla"`
		}
		rr := e.req("GET", tpath(tk.ID), e.reqTok, nil).status(200)
		rr.json(&mine)
		if mine.SLA == nil || len(mine.SLA) != 0 {
			t.Fatalf("requester's view of sla: %s", rr.Body.String())
		}
		e.req("GET", tpath(tk.ID, "sla"), e.reqTok, nil).problem(http.StatusForbidden)
		// A department member sees their queue's clocks, and not other tickets at all.
		e.req("GET", tpath(other.ID, "sla"), memberTok, nil).status(200)
		e.req("GET", tpath(tk.ID, "sla"), memberTok, nil).problem(http.StatusNotFound)
		e.req("GET", tpath(999999, "sla"), agentTok, nil).problem(http.StatusNotFound)
		e.req("GET", "/api/v1/tickets/x/sla", agentTok, nil).problem(http.StatusBadRequest)

		// The list filters read the same clocks.
		past := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
		if err := e.db.Exec("UPDATE sla_clocks SET breached_at = ? WHERE ticket_id = ? AND metric = 'resolution'", past, other.ID).Error; err != nil {
			t.Fatal(err)
		}
		if got := e.ids(agentTok, "sla=breached"); !slices.Equal(got, []int64{other.ID}) {
			t.Fatalf("sla=breached: %v", got)
		}
		if got := e.ids(agentTok, "sla=due_soon"); len(got) != 0 {
			t.Fatalf("sla=due_soon within 60 minutes: %v", got)
		}
		// Both first responses are due in 4h (other breached only its resolution).
		if got := e.ids(agentTok, "sla=due_soon&due_within_minutes=300"); !slices.Equal(got, sortedIDs(tk.ID, other.ID)) {
			t.Fatalf("sla=due_soon within 300 minutes: %v", got)
		}
		if got := e.ids(memberTok, "sla=breached"); !slices.Equal(got, []int64{other.ID}) {
			t.Fatalf("member sla=breached: %v", got)
		}
		e.noServerErrors()
	})
}

func TestSLAReport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.withWorkflows()
		_, agentTok := e.user("agent@example.com", accounts.RoleAgent)
		var deptA, deptB struct{ ID int64 }
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Alpha"}).status(201).json(&deptA)
		e.req("POST", "/api/v1/departments", e.adminTok, map[string]any{"name": "Beta"}).status(201).json(&deptB)
		mk := func(priority string, dept int64, created string) int64 {
			body := map[string]any{"subject": "t", "priority": priority}
			if dept != 0 {
				body["department_id"] = dept
			}
			id := e.newTicket(agentTok, body).ID
			if created != "" {
				at, _ := time.Parse(time.RFC3339, created)
				if err := e.db.Exec("UPDATE tickets SET created_at = ? WHERE id = ?", at, id).Error; err != nil {
					t.Fatal(err)
				}
			}
			return id
		}
		at := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339, s); return &v }
		t1 := mk("P1", deptA.ID, "2025-11-03T10:00:00Z")
		e.insertClock(t1, "first_response", "stopped", 1, 10*time.Minute, nil, nil, at("2025-11-03T10:10:00Z"))
		e.insertClock(t1, "resolution", "running", 1, 30*time.Hour, at("2025-11-04T10:00:00Z"), at("2025-11-04T10:00:00Z"), nil)
		t2 := mk("P2", deptB.ID, "2025-11-30T23:59:59Z")
		e.insertClock(t2, "first_response", "stopped", 1, 90*time.Minute, nil, at("2025-12-01T00:59:59Z"), at("2025-12-01T01:29:59Z"))
		e.insertClock(t2, "resolution", "stopped", 1, 2*time.Hour, nil, nil, at("2025-12-01T01:59:59Z"))
		t3 := mk("P1", 0, "2025-11-01T00:00:00Z")
		e.insertClock(t3, "first_response", "paused", 1, 5*time.Minute, nil, nil, nil)
		e.insertClock(t3, "next_response", "stopped", 3, 2*time.Minute, nil, nil, at("2025-11-02T00:00:00Z"))
		e.insertBreachEvent(t3, "next_response", 1)
		e.insertClock(t3, "resolution", "stopped", 1, time.Hour, nil, nil, nil)
		outside := mk("P1", deptA.ID, "2025-10-31T23:59:59Z")
		e.insertClock(outside, "first_response", "stopped", 1, time.Minute, nil, at("2025-11-01T00:00:00Z"), nil)
		recent := mk("P3", 0, "") // created now: the default window
		e.insertClock(recent, "first_response", "running", 1, 0, at(time.Now().UTC().Add(time.Hour).Format(time.RFC3339)), nil, nil)

		type row struct {
			Group             string   `json:"group"`
			DepartmentID      *int64   `json:"department_id"`
			DepartmentName    string   `json:"department_name"`
			Priority          string   `json:"priority"`
			Metric            string   `json:"metric"`
			Tickets           int      `json:"tickets"`
			Clocks            int      `json:"clocks"`
			MetOnTime         int      `json:"met_on_time"`
			Breached          int      `json:"breached"`
			Running           int      `json:"running"`
			Stopped           int      `json:"stopped"`
			CompliancePercent *float64 `json:"compliance_percent"`
			Met               int      `json:"met"`
			Avg               *float64 `json:"avg_to_met_seconds"`
			P50               *float64 `json:"p50_to_met_seconds"`
			P90               *float64 `json:"p90_to_met_seconds"`
		}
		type report struct {
			From    time.Time `json:"from"`
			To      time.Time `json:"to"`
			GroupBy string    `json:"group_by"`
			Items   []row     `json:"items"`
		}
		get := func(query string) report {
			t.Helper()
			var rep report
			e.req("GET", "/api/v1/reports/sla?"+query, e.adminTok, nil).status(200).json(&rep)
			return rep
		}
		f := func(v float64) *float64 { return &v }
		eqf := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
		check := func(got row, want row) {
			t.Helper()
			if got.Group != want.Group || got.Metric != want.Metric || got.Tickets != want.Tickets || got.Clocks != want.Clocks ||
				got.MetOnTime != want.MetOnTime || got.Breached != want.Breached || got.Running != want.Running || got.Stopped != want.Stopped ||
				!eqf(got.CompliancePercent, want.CompliancePercent) || got.Met != want.Met || !eqf(got.Avg, want.Avg) ||
				!eqf(got.P50, want.P50) || !eqf(got.P90, want.P90) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("row\n got %s\nwant %s", gj, wj)
			}
		}

		rep := get("from=2025-11-01&to=2025-11-30&group_by=metric")
		if !rep.From.Equal(*at("2025-11-01T00:00:00Z")) || !rep.To.Equal(*at("2025-12-01T00:00:00Z")) || rep.GroupBy != "metric" || len(rep.Items) != 3 {
			t.Fatalf("report %+v", rep)
		}
		check(rep.Items[0], row{Group: "first_response", Metric: "first_response", Tickets: 3, Clocks: 3, MetOnTime: 1, Breached: 1, Running: 1,
			CompliancePercent: f(50), Met: 2, Avg: f(3000), P50: f(600), P90: f(5400)})
		check(rep.Items[1], row{Group: "next_response", Metric: "next_response", Tickets: 1, Clocks: 3, MetOnTime: 2, Breached: 1,
			CompliancePercent: f(66.67), Met: 1, Avg: f(120), P50: f(120), P90: f(120)})
		check(rep.Items[2], row{Group: "resolution", Metric: "resolution", Tickets: 3, Clocks: 3, MetOnTime: 1, Breached: 1, Stopped: 1,
			CompliancePercent: f(50), Met: 1, Avg: f(7200), P50: f(7200), P90: f(7200)})

		rep = get("from=2025-11-01&to=2025-11-30&group_by=priority")
		var keys []string
		for _, it := range rep.Items {
			keys = append(keys, it.Group+"/"+it.Metric)
		}
		if want := []string{"P1/first_response", "P1/next_response", "P1/resolution", "P2/first_response", "P2/resolution"}; !slices.Equal(keys, want) {
			t.Fatalf("priority rows %v, want %v", keys, want)
		}
		check(rep.Items[0], row{Group: "P1", Metric: "first_response", Tickets: 2, Clocks: 2, MetOnTime: 1, Running: 1,
			CompliancePercent: f(100), Met: 1, Avg: f(600), P50: f(600), P90: f(600)})
		check(rep.Items[4], row{Group: "P2", Metric: "resolution", Tickets: 1, Clocks: 1, MetOnTime: 1,
			CompliancePercent: f(100), Met: 1, Avg: f(7200), P50: f(7200), P90: f(7200)})

		rep = get("from=2025-11-01T00:00:00Z&to=2025-11-30&group_by=department")
		keys = keys[:0]
		for _, it := range rep.Items {
			keys = append(keys, it.Group+"/"+it.DepartmentName+"/"+it.Metric)
		}
		a, b := itoa(deptA.ID), itoa(deptB.ID)
		if want := []string{"none//first_response", "none//next_response", "none//resolution", a + "/Alpha/first_response", a + "/Alpha/resolution",
			b + "/Beta/first_response", b + "/Beta/resolution"}; !slices.Equal(keys, want) {
			t.Fatalf("department rows %v, want %v", keys, want)
		}
		check(rep.Items[4], row{Group: a, Metric: "resolution", Tickets: 1, Clocks: 1, Breached: 1, CompliancePercent: f(0)})
		check(rep.Items[5], row{Group: b, Metric: "first_response", Tickets: 1, Clocks: 1, Breached: 1, CompliancePercent: f(0),
			Met: 1, Avg: f(5400), P50: f(5400), P90: f(5400)})

		// Default: the last 30 days, grouped by metric.
		rep = get("")
		if rep.GroupBy != "metric" || rep.To.Sub(rep.From) != 30*24*time.Hour || time.Since(rep.To) > time.Minute {
			t.Fatalf("default window %v..%v", rep.From, rep.To)
		}
		check(rep.Items[0], row{Group: "first_response", Metric: "first_response", Tickets: 1, Clocks: 1, Running: 1})
		check(rep.Items[2], row{Group: "resolution", Metric: "resolution"})
		if rep := get("to=2025-11-30"); !rep.From.Equal(*at("2025-11-01T00:00:00Z")) {
			t.Fatalf("from defaults to 30 days before to: %v", rep.From)
		}

		for _, tc := range []struct{ query, field, msg string }{
			{"from=2025-13-01", "from", "RFC 3339"},
			{"from=yesterday", "from", "YYYY-MM-DD"},
			{"to=2025-11-31", "to", "date"},
			{"group_by=team", "group_by", "metric, department, priority"},
			{"from=2025-11-30&to=2025-11-01", "to", "after from"},
			{"from=2020-01-01&to=2025-11-01", "to", "three years"},
			{"from=2025-11-01&from=2025-11-02", "from", "once"},
			{"form=2025-11-01", "form", `did you mean "from"`},
		} {
			p := e.req("GET", "/api/v1/reports/sla?"+tc.query, e.adminTok, nil).problem(400)
			text := p.Detail + "\n" + p.field(tc.field)
			if p.field(tc.field) == "" || !strings.Contains(text, tc.msg) {
				t.Errorf("%s: %+v", tc.query, p)
			}
		}
		e.req("GET", "/api/v1/reports/sla", agentTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/reports/sla", e.reqTok, nil).problem(http.StatusForbidden)
		e.noServerErrors()
	})
}

// The SLA routes are in the OpenAPI document with their bodies.
func TestOpenAPISLARoutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), testenv.EmbeddedRedis(t))
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
				Required   []string                  `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.req("GET", "/api/v1/openapi.json", "", nil).status(200).json(&doc)
	for path, methods := range map[string][]string{
		"/api/v1/sla/calendars": {"get", "post"}, "/api/v1/sla/calendars/{id}": {"get", "patch", "delete"},
		"/api/v1/sla/policies": {"get", "post"}, "/api/v1/sla/policies/{id}": {"get", "patch", "delete"},
		"/api/v1/tickets/{id}/sla": {"get"}, "/api/v1/reports/sla": {"get"},
	} {
		for _, m := range methods {
			if doc.Paths[path][m] == nil {
				t.Errorf("%s %s not documented", m, path)
			}
		}
	}
	if doc.Paths["/api/v1/sla/policies"]["post"]["x-permission"] != "sla:write" || doc.Paths["/api/v1/reports/sla"]["get"]["x-permission"] != "reports:read" {
		t.Error("permissions")
	}
	if doc.Paths["/api/v1/sla/calendars/{id}"]["delete"]["responses"].(map[string]any)["409"] == nil {
		t.Error("DELETE calendar does not document 409")
	}
	s := doc.Components.Schemas
	if s["SLATarget"].Properties["within"]["type"] != "string" || s["CalendarRequest"].Properties["timezone"] == nil ||
		s["CalendarResponse"].Properties["hours"] == nil || !slices.Contains(s["TicketResponse"].Required, "sla") ||
		s["SLAReportResponse"].Properties["items"] == nil || !slices.Contains(s["PolicyRequest"].Required, "targets") {
		t.Errorf("schemas: %+v", s["SLATarget"])
	}
	if metric := s["SLATarget"].Properties["metric"]; metric["enum"] == nil {
		t.Errorf("metric enum %v", metric)
	}
}
