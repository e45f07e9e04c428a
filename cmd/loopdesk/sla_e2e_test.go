package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

// TestSLABreachEndToEnd is the SLA issue's acceptance path through the real
// binary's wiring: a ticket with a 2-second resolution target gets its
// breach recorded within 1 s of the due instant (outbox relay, asynq timer,
// worker), is escalated to the department lead as the policy says, and
// both the assignee and the lead find the breach in their notifications.
func TestSLABreachEndToEnd(t *testing.T) {
	t.Run("mysql+redis", func(t *testing.T) { slaScenario(t, testenv.MySQLURL(t), testenv.RealRedis(t)) })
	t.Run("embedded", func(t *testing.T) { slaScenario(t, "", "") })
}

func slaScenario(t *testing.T, dbURL, redisURL string) {
	base, store, _ := serveInProcess(t, dbURL, redisURL)
	token := strings.TrimSpace(cli(t, "", append([]string{"admin", "token", "--email", "root@example.com"}, store...)...))
	callAs := func(token, method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		code, m := do(t, req)
		if code != want {
			t.Fatalf("%s %s = %d %v, want %d", method, path, code, m, want)
		}
		return m
	}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		return callAs(token, method, path, body, want)
	}
	id := func(m map[string]any) string { return jsonNumber(m["id"]) }

	lead := call("POST", "/api/v1/users", `{"email":"lead@example.com","name":"Lena Lead","roles":["department_member"],"password":"long-enough-1"}`, 201)
	member := call("POST", "/api/v1/users", `{"email":"member@example.com","name":"Max Member","roles":["department_member"],"password":"long-enough-2"}`, 201)
	dept := call("POST", "/api/v1/departments", `{"name":"Cards","lead_id":`+id(lead)+`,"member_ids":[`+id(lead)+`,`+id(member)+`]}`, 201)
	call("POST", "/api/v1/sla/policies", `{"name":"two seconds","position":1,"active":true,
		"match":{"department_id":[`+id(dept)+`]},
		"targets":[{"metric":"resolution","within":"2s","on_breach":[
			{"action":"notify","to":["assignee","department_lead"]},{"action":"escalate","kind":"hierarchical"}]}]}`, 201)
	tk := call("POST", "/api/v1/tickets", `{"subject":"卡片没有到 card not arrived","description":"Ordered two weeks ago","department_id":`+id(dept)+`,"assignee_id":`+id(member)+`}`, 201)
	tid := id(tk)

	// Wait for the breach entry in the history (at most 10 s).
	var breachAt, dueAt time.Time
	deadline := time.Now().Add(10 * time.Second)
	for breachAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("no SLA breach in the history 10 s after creating the ticket: %v", call("GET", "/api/v1/tickets/"+tid+"/history", "", 200))
		}
		time.Sleep(50 * time.Millisecond)
		h := call("GET", "/api/v1/tickets/"+tid+"/history", "", 200)
		items, _ := h["items"].([]any)
		for _, it := range items {
			e := it.(map[string]any)
			if e["kind"] == "sla" && e["event"] == "breach" {
				breachAt = mustTime(t, e["at"])
				dueAt = mustTime(t, e["to"])
			}
		}
	}
	if late := breachAt.Sub(dueAt); late < 0 || late > time.Second {
		t.Fatalf("breach recorded at %s for due %s: %s late, want within 1 s and never early", breachAt, dueAt, late)
	}
	created := mustTime(t, tk["created_at"])
	if got := dueAt.Sub(created); got < 2*time.Second || got > 2*time.Second+time.Millisecond {
		t.Fatalf("due %s is %s after creation, want 2s", dueAt, got)
	}

	// The policy escalates to the lead: the escalation record and the new
	// assignee arrive through the breach event's actions.
	deadline = time.Now().Add(10 * time.Second)
	for {
		escs := call("GET", "/api/v1/tickets/"+tid+"/escalations", "", 200)
		items, _ := escs["items"].([]any)
		if len(items) == 1 {
			e := items[0].(map[string]any)
			if e["kind"] != "hierarchical" || !strings.Contains(toJSON(e["reason"]), "breach") {
				t.Fatalf("escalation %v, want hierarchical with the breach as reason", e)
			}
			break
		}
		if len(items) > 1 {
			t.Fatalf("%d escalations, want exactly 1: %v", len(items), items)
		}
		if time.Now().After(deadline) {
			t.Fatal("no escalation 10 s after the breach")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := call("GET", "/api/v1/tickets/"+tid, "", 200)
	if jsonNumber(got["assignee_id"]) != id(lead) {
		t.Fatalf("assignee after the breach: %v, want the lead %s", got["assignee_id"], id(lead))
	}
	clocks := call("GET", "/api/v1/tickets/"+tid+"/sla", "", 200)
	if !strings.Contains(toJSON(clocks), `"breached_at":"`) {
		t.Fatalf("GET /tickets/%s/sla shows no breach: %v", tid, clocks)
	}

	// The notify action ran before the escalation: one notification each.
	for _, email := range []string{"member@example.com", "lead@example.com"} {
		tok := strings.TrimSpace(cli(t, "", append([]string{"admin", "token", "--email", email}, store...)...))
		ns := callAs(tok, "GET", "/api/v1/notifications?unread=true", "", 200)
		items, _ := ns["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("%s has %d unread notifications, want 1: %v", email, len(items), ns)
		}
		if n := toJSON(items[0]); !strings.Contains(n, `"ticket_id":`+tid) || !strings.Contains(n, "sla.breach") {
			t.Fatalf("%s's notification %s, want the breach of ticket %s", email, n, tid)
		}
	}
}

func jsonNumber(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatInt(int64(f), 10)
	}
	return ""
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%v is not an RFC 3339 time: %v", v, err)
	}
	return at
}
