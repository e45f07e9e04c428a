package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/testenv"
)

type kcsRatesJSON struct {
	Resolved         int      `json:"resolved"`
	Linked           int      `json:"linked"`
	LinkRatePercent  *float64 `json:"link_rate_percent"`
	Reused           int      `json:"reused"`
	ReuseRatePercent *float64 `json:"reuse_rate_percent"`
}

type kcsScoreJSON struct {
	Votes          int      `json:"votes"`
	Helpful        int      `json:"helpful"`
	HelpfulPercent *float64 `json:"helpful_percent"`
}

type kcsReportJSON struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	kcsRatesJSON
	SolvedBy     int      `json:"solved_by"`
	Known        int      `json:"known"`
	New          int      `json:"new"`
	KnownPercent *float64 `json:"known_percent"`
	ByAgent      []struct {
		AgentID   *int64 `json:"agent_id"`
		AgentName string `json:"agent_name"`
		kcsRatesJSON
	} `json:"by_agent"`
	ByDepartment []struct {
		DepartmentID   *int64 `json:"department_id"`
		DepartmentName string `json:"department_name"`
		kcsRatesJSON
	} `json:"by_department"`
	TopReused []struct {
		ArticleID    int64        `json:"article_id"`
		Title        string       `json:"title"`
		Status       string       `json:"status"`
		PeriodReuses int          `json:"period_reuses"`
		ReuseCount   int          `json:"reuse_count"`
		Feedback     kcsScoreJSON `json:"feedback"`
	} `json:"top_reused"`
	NeverReused struct {
		Count int `json:"count"`
		Items []struct {
			ArticleID   int64      `json:"article_id"`
			Title       string     `json:"title"`
			CreatedAt   time.Time  `json:"created_at"`
			PublishedAt *time.Time `json:"published_at"`
		} `json:"items"`
	} `json:"never_reused"`
	Feedback kcsScoreJSON `json:"feedback"`
}

// GET /reports/knowledge over tickets resolved through the API, their
// times moved into March 2025.
func TestKnowledgeReportAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		k := newKBEnv(e)
		at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
		exec := func(sql string, args ...any) {
			t.Helper()
			if err := e.db.Exec(sql, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		known := k.newArticle(k.agentTok, map[string]any{"title": "Reset a password", "body": "how to"})
		k.publish(known.ID)
		fresh := k.newArticle(k.agentTok, map[string]any{"title": "New printer driver", "body": "how to"})
		k.publish(fresh.ID)
		unused := k.newArticle(k.agentTok, map[string]any{"title": "Nobody reads this", "body": "how to"})
		k.publish(unused.ID)
		exec("UPDATE articles SET created_at = ? WHERE id = ?", at("2025-01-01T00:00:00Z"), known.ID)
		exec("UPDATE articles SET created_at = ? WHERE id = ?", at("2025-01-02T00:00:00Z"), unused.ID)

		// ticket opens a ticket, resolves it with fields and moves its times.
		ticket := func(assignee int64, created, resolved string, fields map[string]string) int64 {
			t.Helper()
			body := map[string]any{"subject": "help", "description": "it broke"}
			if assignee != 0 {
				body["assignee_id"] = assignee
			}
			id := e.newTicket(k.agentTok, body).ID
			fields["resolution"] = "done"
			e.fire(k.agentTok, id, "resolve", fields).status(http.StatusOK)
			exec("UPDATE tickets SET created_at = ?, resolved_at = ? WHERE id = ?", at(created), at(resolved), id)
			return id
		}
		ticket(k.agent.ID, "2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z", map[string]string{"article_id": itoa(known.ID)})
		ticket(k.agent.ID, "2025-03-01T11:00:00Z", "2025-03-03T00:00:00Z", map[string]string{"no_article_reason": "one-off"})
		// Resolved on the last day: to=2025-03-31 includes it. fresh was
		// written after the ticket was opened: new, not a reuse.
		ticket(0, "2025-03-01T12:00:00Z", "2025-03-31T23:00:00Z", map[string]string{"article_id": itoa(fresh.ID)})
		ticket(k.agent.ID, "2025-02-01T12:00:00Z", "2025-02-28T23:59:59Z", map[string]string{"article_id": itoa(known.ID)}) // before
		e.req("POST", apath(known.ID, "feedback"), k.editorTok, map[string]any{"helpful": true}).status(http.StatusCreated)
		exec("UPDATE article_feedback SET updated_at = ? WHERE article_id = ?", at("2025-03-05T00:00:00Z"), known.ID)

		get := func(tok, query string) kcsReportJSON {
			t.Helper()
			var rep kcsReportJSON
			e.req("GET", "/api/v1/reports/knowledge?"+query, tok, nil).status(http.StatusOK).json(&rep)
			return rep
		}
		f := func(v float64) *float64 { return &v }
		eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
		sameRates := func(what string, got, want kcsRatesJSON) {
			t.Helper()
			if got.Resolved != want.Resolved || got.Linked != want.Linked || got.Reused != want.Reused ||
				!eq(got.LinkRatePercent, want.LinkRatePercent) || !eq(got.ReuseRatePercent, want.ReuseRatePercent) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("%s\n got %s\nwant %s", what, gj, wj)
			}
		}

		rep := get(k.editorTok, "from=2025-03-01&to=2025-03-31")
		if !rep.From.Equal(at("2025-03-01T00:00:00Z")) || !rep.To.Equal(at("2025-04-01T00:00:00Z")) {
			t.Fatalf("period %v..%v", rep.From, rep.To)
		}
		sameRates("overall", rep.kcsRatesJSON, kcsRatesJSON{Resolved: 3, Linked: 2, LinkRatePercent: f(66.67), Reused: 1, ReuseRatePercent: f(50)})
		if rep.SolvedBy != 2 || rep.Known != 1 || rep.New != 1 || !eq(rep.KnownPercent, f(50)) {
			t.Errorf("new vs known: %d %d %d %v", rep.SolvedBy, rep.Known, rep.New, rep.KnownPercent)
		}
		if len(rep.ByAgent) != 2 || rep.ByAgent[0].AgentID != nil || rep.ByAgent[1].AgentID == nil ||
			*rep.ByAgent[1].AgentID != k.agent.ID || rep.ByAgent[1].AgentName != "agent" {
			t.Fatalf("by agent %+v", rep.ByAgent)
		}
		sameRates("unassigned", rep.ByAgent[0].kcsRatesJSON, kcsRatesJSON{Resolved: 1, Linked: 1, LinkRatePercent: f(100), ReuseRatePercent: f(0)})
		sameRates("agent", rep.ByAgent[1].kcsRatesJSON, kcsRatesJSON{Resolved: 2, Linked: 1, LinkRatePercent: f(50), Reused: 1, ReuseRatePercent: f(100)})
		if len(rep.ByDepartment) != 1 || rep.ByDepartment[0].DepartmentID != nil {
			t.Fatalf("by department %+v", rep.ByDepartment)
		}
		sameRates("no department", rep.ByDepartment[0].kcsRatesJSON, rep.kcsRatesJSON)
		if len(rep.TopReused) != 2 || rep.TopReused[0].ArticleID != known.ID || rep.TopReused[0].PeriodReuses != 1 ||
			rep.TopReused[0].ReuseCount != 2 || rep.TopReused[0].Title != "Reset a password" || rep.TopReused[0].Status != "published" ||
			rep.TopReused[0].Feedback.Votes != 1 || !eq(rep.TopReused[0].Feedback.HelpfulPercent, f(100)) ||
			rep.TopReused[1].ArticleID != fresh.ID || rep.TopReused[1].Feedback.Votes != 0 || rep.TopReused[1].Feedback.HelpfulPercent != nil {
			t.Fatalf("top reused %+v", rep.TopReused)
		}
		if rep.NeverReused.Count != 1 || len(rep.NeverReused.Items) != 1 || rep.NeverReused.Items[0].ArticleID != unused.ID ||
			!rep.NeverReused.Items[0].CreatedAt.Equal(at("2025-01-02T00:00:00Z")) || rep.NeverReused.Items[0].PublishedAt == nil {
			t.Fatalf("never reused %+v", rep.NeverReused)
		}
		if rep.Feedback.Votes != 1 || rep.Feedback.Helpful != 1 || !eq(rep.Feedback.HelpfulPercent, f(100)) {
			t.Fatalf("feedback %+v", rep.Feedback)
		}
		// The FAQ metrics are there (no proposals in this test).
		body := e.req("GET", "/api/v1/reports/knowledge?from=2025-03-01&to=2025-03-31", e.adminTok, nil).status(http.StatusOK).Body.String()
		if !strings.Contains(body, `"faq":{"created":0,`) {
			t.Errorf("faq member missing: %s", body)
		}

		// to as an instant is exclusive; RFC 3339 from.
		rep = get(k.editorTok, "from=2025-03-01T00:00:00Z&to=2025-03-31T23:00:00Z")
		if rep.Resolved != 2 || rep.SolvedBy != 1 || rep.New != 0 || len(rep.TopReused) != 1 {
			t.Fatalf("to exclusive: %+v", rep)
		}
		// Default: the last 30 days (none of these tickets).
		rep = get(e.adminTok, "")
		if rep.To.Sub(rep.From) != 30*24*time.Hour || time.Since(rep.To) > time.Minute || rep.Resolved != 0 ||
			rep.LinkRatePercent != nil || rep.ByAgent == nil || len(rep.ByAgent) != 0 || rep.TopReused == nil || rep.NeverReused.Count != 1 {
			t.Fatalf("default window %+v", rep)
		}
		if rep := get(e.adminTok, "to=2025-03-31"); !rep.From.Equal(at("2025-03-02T00:00:00Z")) {
			t.Fatalf("from defaults to 30 days before to: %v", rep.From)
		}

		for _, tc := range []struct{ query, field, msg string }{
			{"from=2025-13-01", "from", "RFC 3339"},
			{"from=yesterday", "from", "YYYY-MM-DD"},
			{"to=2025-02-30", "to", "date"},
			{"from=2025-03-31&to=2025-03-01", "to", "after from"},
			{"from=2020-01-01&to=2025-03-01", "to", "three years"},
			{"to=2025-03-01&to=2025-03-02", "to", "once"},
			{"form=2025-03-01", "form", `did you mean "from"`},
		} {
			p := e.req("GET", "/api/v1/reports/knowledge?"+tc.query, k.editorTok, nil).problem(http.StatusBadRequest)
			if p.field(tc.field) == "" || !strings.Contains(p.Detail+"\n"+p.field(tc.field), tc.msg) {
				t.Errorf("%s: %+v", tc.query, p)
			}
		}
		e.req("GET", "/api/v1/reports/knowledge", e.reqTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/reports/knowledge", k.agentTok, nil).problem(http.StatusForbidden)
		e.req("GET", "/api/v1/reports/knowledge", "", nil).problem(http.StatusUnauthorized)
		e.noServerErrors()
	})
}

// The report is in the OpenAPI document, with its permission and schema.
func TestOpenAPIKnowledgeReport(t *testing.T) {
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
	e.req("GET", "/api/v1/openapi.json", "", nil).status(http.StatusOK).json(&doc)
	op := doc.Paths["/api/v1/reports/knowledge"]["get"]
	if op == nil || op["x-permission"] != "reports:read" {
		t.Fatalf("operation %v", op)
	}
	s := doc.Components.Schemas["KnowledgeReportResponse"]
	for _, p := range []string{"from", "to", "resolved", "link_rate_percent", "reuse_rate_percent", "known", "new",
		"by_agent", "by_department", "top_reused", "never_reused", "feedback", "faq"} {
		if s.Properties[p] == nil {
			t.Errorf("KnowledgeReportResponse lacks %s", p)
		}
	}
	if slices.Contains(s.Required, "faq") || !slices.Contains(s.Required, "link_rate_percent") {
		t.Errorf("required %v", s.Required)
	}
}
