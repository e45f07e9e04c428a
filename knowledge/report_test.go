package knowledge_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// reportClock is the time of every service in a report test.
type reportClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *reportClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *reportClock) set(s string) {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
}

// reportEnv builds a story through the real services on one clock.
type reportEnv struct {
	t   *testing.T
	clk *reportClock
	acc *accounts.Service
	tk  *tickets.Service
	kb  *knowledge.Service

	admin, editor, agentA, agentB accounts.User
	billing                       accounts.Department
}

func newReportEnv(t *testing.T, db *database.DB) *reportEnv {
	clk := &reportClock{}
	clk.set("2025-01-01T00:00:00Z")
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost), accounts.WithClock(clk.Now))
	tk := tickets.New(db, acc, tickets.WithClock(clk.Now))
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	e := &reportEnv{t: t, clk: clk, acc: acc, tk: tk, kb: knowledge.New(db, tk, knowledge.WithClock(clk.Now), knowledge.WithSuggestRefresh(0))}
	user := func(name string, role accounts.Role) accounts.User {
		u, err := acc.CreateUser(ctx, accounts.NewUser{Email: name + "@example.com", Name: name, Roles: []accounts.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.admin = user("admin", accounts.RoleAdmin)
	e.editor = user("editor", accounts.RoleKnowledgeEditor)
	e.agentA = user("Alice", accounts.RoleAgent)
	e.agentB = user("Bob", accounts.RoleDepartmentMember)
	d, err := acc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Billing", MemberIDs: []int64{e.agentB.ID}})
	if err != nil {
		t.Fatal(err)
	}
	e.billing = d
	return e
}

// article writes an article at time at (by the admin), published unless
// draft, drafted from ticket from when it is not 0.
func (e *reportEnv) article(at, title string, from int64, draft bool) int64 {
	e.t.Helper()
	e.clk.set(at)
	in := knowledge.NewArticle{Title: title, Body: title + " body"}
	if from != 0 {
		in.FromTicketID = &from
	}
	a, err := e.kb.Create(ctx, e.admin, in)
	if err != nil {
		e.t.Fatalf("article %q: %v", title, err)
	}
	if !draft {
		for _, ev := range []struct {
			by    accounts.User
			event string
		}{{e.admin, "submit"}, {e.editor, "approve"}} {
			if _, err := e.kb.Fire(ctx, ev.by, a.ID, 0, knowledge.Transition{Event: ev.event}); err != nil {
				e.t.Fatalf("%s %q: %v", ev.event, title, err)
			}
		}
	}
	return a.ID
}

// ticket opens a ticket at time at, in dept (0: none) for assignee (0: none).
func (e *reportEnv) ticket(at string, dept int64, assignee accounts.User) int64 {
	e.t.Helper()
	e.clk.set(at)
	in := tickets.NewTicket{Subject: "ticket " + at, Description: "something broke"}
	if dept != 0 {
		in.DepartmentID = &dept
	}
	if assignee.ID != 0 {
		in.AssigneeID = &assignee.ID
	}
	t, err := e.tk.Create(ctx, e.admin, in)
	if err != nil {
		e.t.Fatalf("ticket at %s: %v", at, err)
	}
	return t.ID
}

func (e *reportEnv) link(at string, ticket, article int64, kind string) {
	e.t.Helper()
	e.clk.set(at)
	if _, _, err := e.kb.Link(ctx, e.admin, ticket, article, kind); err != nil {
		e.t.Fatalf("link %d-%d %s: %v", ticket, article, kind, err)
	}
}

// resolve resolves ticket at time at with article (solved_by), or without
// one (0): then with a reason unless it already has links.
func (e *reportEnv) resolve(at string, ticket, article int64) {
	e.t.Helper()
	e.fire(at, ticket, "resolve", article)
}

func (e *reportEnv) fire(at string, ticket int64, event string, article int64) {
	e.t.Helper()
	e.clk.set(at)
	fields := map[string]string{}
	if event == "resolve" {
		fields["resolution"] = "fixed"
		if article != 0 {
			fields[tickets.FieldArticleID] = strconv.FormatInt(article, 10)
		} else if n, _ := e.tk.LinkCount(ctx, e.admin, ticket); n == 0 {
			fields["no_article_reason"] = "nothing to write down"
		}
	}
	if _, err := e.tk.Fire(ctx, e.admin, ticket, 0, tickets.Transition{Event: event, Fields: fields}); err != nil {
		e.t.Fatalf("%s ticket %d: %v", event, ticket, err)
	}
}

func (e *reportEnv) vote(at string, by accounts.User, article int64, helpful bool) {
	e.t.Helper()
	e.clk.set(at)
	if _, _, err := e.kb.AddFeedback(ctx, by, article, knowledge.NewFeedback{Helpful: helpful}); err != nil {
		e.t.Fatalf("vote on %d: %v", article, err)
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func pct(v float64) *float64 { return &v }

// The KCS report counts what the services stored, the same on every
// database: a month of tickets, links and votes built by hand.
func TestKCSReport(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		e := newReportEnv(t, db)
		// Before the period: the knowledge base.
		k1 := e.article("2025-02-01T00:00:00Z", "Refunds", 0, false)
		k2 := e.article("2025-02-02T00:00:00Z", "Passwords", 0, false)
		k3 := e.article("2025-02-03T00:00:00Z", "Never used", 0, false)
		t0 := e.ticket("2025-02-04T00:00:00Z", 0, e.agentA) // stays open
		k4 := e.article("2025-02-04T01:00:00Z", "Only written from a ticket", t0, false)
		e.article("2025-02-05T00:00:00Z", "A draft", 0, true)
		k6 := e.article("2025-02-06T00:00:00Z", "Archived", 0, false)
		e.clk.set("2025-02-07T00:00:00Z")
		if _, err := e.kb.Fire(ctx, e.editor, k6, 0, knowledge.Transition{Event: "archive"}); err != nil {
			t.Fatal(err)
		}
		e.vote("2025-02-10T00:00:00Z", e.agentA, k2, false) // changed in the period
		e.vote("2025-02-10T00:00:00Z", e.editor, k3, true)  // before the period
		t12 := e.ticket("2025-02-20T00:00:00Z", e.billing.ID, e.agentB)

		// Tickets of March.
		t1 := e.ticket("2025-03-01T01:00:00Z", 0, e.agentA)
		e.resolve("2025-03-02T01:00:00Z", t1, k1) // known, reused

		t2 := e.ticket("2025-03-01T02:00:00Z", 0, e.agentA)
		e.link("2025-03-02T02:00:00Z", t2, k2, tickets.LinkReferenced)
		e.resolve("2025-03-02T03:00:00Z", t2, k1) // known, reused

		t3 := e.ticket("2025-03-01T03:00:00Z", e.billing.ID, e.agentB)
		n1 := e.article("2025-03-01T04:00:00Z", "Written from t3", t3, false)
		e.resolve("2025-03-02T04:00:00Z", t3, n1) // new, not reused

		t4 := e.ticket("2025-03-01T05:00:00Z", e.billing.ID, e.agentB)
		e.resolve("2025-03-02T05:00:00Z", t4, 0) // not linked

		t5 := e.ticket("2025-03-01T06:00:00Z", e.billing.ID, accounts.User{}) // unassigned
		e.link("2025-03-02T06:00:00Z", t5, k2, tickets.LinkReferenced)
		e.resolve("2025-03-02T06:30:00Z", t5, 0) // reused, no solved_by

		t6 := e.ticket("2025-03-01T07:00:00Z", 0, e.agentA)
		n2 := e.article("2025-03-01T08:00:00Z", "Written after t6", 0, false)
		e.link("2025-03-02T07:00:00Z", t6, k1, tickets.LinkReferenced)
		e.resolve("2025-03-02T07:30:00Z", t6, n2) // new (n2 came after t6), reused (k1)

		t7 := e.ticket("2025-03-01T09:00:00Z", 0, e.agentA)
		n3 := e.article("2025-03-01T10:00:00Z", "Written from t7", t7, true)
		e.link("2025-03-02T08:00:00Z", t7, k2, tickets.LinkSolvedBy)
		e.resolve("2025-03-02T08:30:00Z", t7, n3) // known (k2 wins over n3), reused

		t8 := e.ticket("2025-03-01T11:00:00Z", 0, e.agentA)
		e.link("2025-03-02T09:00:00Z", t8, n2, tickets.LinkCreatedFrom) // n2 is older, but from t8
		e.resolve("2025-03-02T09:30:00Z", t8, n2)                       // new, not reused

		e.resolve("2025-03-05T00:00:00Z", t12, k1) // created in February: known, reused

		// Not in the period: resolved after it, still open, reopened.
		t9 := e.ticket("2025-03-01T12:00:00Z", 0, e.agentA)
		e.resolve("2025-04-02T00:00:00Z", t9, k1)
		t10 := e.ticket("2025-03-01T13:00:00Z", 0, e.agentA)
		e.link("2025-03-02T10:00:00Z", t10, k1, tickets.LinkReferenced)
		t11 := e.ticket("2025-03-01T14:00:00Z", 0, e.agentA)
		e.resolve("2025-03-03T00:00:00Z", t11, k2)
		e.fire("2025-03-04T00:00:00Z", t11, "reopen", 0)

		// Votes: three on k1 and agentA's changed vote on k2 in the period,
		// one on k2 after it.
		e.vote("2025-03-10T00:00:00Z", e.agentA, k1, true)
		e.vote("2025-03-10T00:00:00Z", e.agentB, k1, true)
		e.vote("2025-03-10T00:00:00Z", e.editor, k1, false)
		e.vote("2025-03-10T00:00:00Z", e.agentA, k2, true)
		e.vote("2025-04-05T00:00:00Z", e.admin, k2, false)

		rep, err := e.kb.Report(ctx, knowledge.ReportQuery{From: day("2025-03-01"), To: day("2025-04-01")})
		if err != nil {
			t.Fatal(err)
		}
		id := func(v int64) *int64 { return &v }
		want := knowledge.Report{From: day("2025-03-01"), To: day("2025-04-01"),
			// t1 t2 t3 t4 t5 t6 t7 t8 t12; all but t4 linked; t3 and t8 not reused.
			Rates:    knowledge.Rates{Resolved: 9, Linked: 8, LinkRatePercent: pct(88.89), Reused: 6, ReuseRatePercent: pct(75)},
			SolvedBy: 7, Known: 4, New: 3, KnownPercent: pct(57.14),
			ByAgent: []knowledge.GroupRates{
				{Rates: knowledge.Rates{Resolved: 1, Linked: 1, LinkRatePercent: pct(100), Reused: 1, ReuseRatePercent: pct(100)}},
				{ID: id(e.agentA.ID), Name: "Alice", Rates: knowledge.Rates{Resolved: 5, Linked: 5, LinkRatePercent: pct(100), Reused: 4, ReuseRatePercent: pct(80)}},
				{ID: id(e.agentB.ID), Name: "Bob", Rates: knowledge.Rates{Resolved: 3, Linked: 2, LinkRatePercent: pct(66.67), Reused: 1, ReuseRatePercent: pct(50)}},
			},
			ByDepartment: []knowledge.GroupRates{
				{Rates: knowledge.Rates{Resolved: 5, Linked: 5, LinkRatePercent: pct(100), Reused: 4, ReuseRatePercent: pct(80)}},
				{ID: id(e.billing.ID), Name: "Billing", Rates: knowledge.Rates{Resolved: 4, Linked: 3, LinkRatePercent: pct(75), Reused: 2, ReuseRatePercent: pct(66.67)}},
			},
			TopReused: []knowledge.ArticleReuse{
				{ArticleID: k1, Title: "Refunds", Status: "published", PeriodReuses: 4, ReuseCount: 6,
					Feedback: knowledge.FeedbackScore{Votes: 3, Helpful: 2, HelpfulPercent: pct(66.67)}},
				{ArticleID: k2, Title: "Passwords", Status: "published", PeriodReuses: 3, ReuseCount: 4,
					Feedback: knowledge.FeedbackScore{Votes: 2, Helpful: 1, HelpfulPercent: pct(50)}},
				{ArticleID: n1, Title: "Written from t3", Status: "published", PeriodReuses: 1, ReuseCount: 1},
				{ArticleID: n2, Title: "Written after t6", Status: "published", PeriodReuses: 2, ReuseCount: 2},
				{ArticleID: n3, Title: "Written from t7", Status: "draft", PeriodReuses: 1, ReuseCount: 1},
			},
			NeverReused: 2,
			NeverReusedArticles: []knowledge.ArticleAge{
				{ArticleID: k3, Title: "Never used", CreatedAt: day("2025-02-03")},
				{ArticleID: k4, Title: "Only written from a ticket", CreatedAt: day("2025-02-04").Add(time.Hour)},
			},
			Feedback: knowledge.FeedbackScore{Votes: 4, Helpful: 3, HelpfulPercent: pct(75)},
		}
		// n2 (2 reuses) ranks before n1 and n3 (1 each, by id).
		want.TopReused[2], want.TopReused[3] = want.TopReused[3], want.TopReused[2]
		// Publication times are the approval times: the article's own.
		for i, a := range want.NeverReusedArticles {
			want.NeverReusedArticles[i].PublishedAt = &a.CreatedAt
		}
		want.FAQ = &knowledge.FAQMetrics{} // no FAQ proposals here (faq_test.go)
		sameReport(t, rep, want)

		// A period without resolved tickets: zeros, no percentages; the
		// never-reused articles do not depend on the period.
		rep, err = e.kb.Report(ctx, knowledge.ReportQuery{From: day("2024-01-01"), To: day("2024-02-01")})
		if err != nil {
			t.Fatal(err)
		}
		sameReport(t, rep, knowledge.Report{From: day("2024-01-01"), To: day("2024-02-01"),
			ByAgent: []knowledge.GroupRates{}, ByDepartment: []knowledge.GroupRates{}, TopReused: []knowledge.ArticleReuse{},
			NeverReused: 2, NeverReusedArticles: want.NeverReusedArticles, FAQ: &knowledge.FAQMetrics{}})

		// April: t9, and the vote after March.
		rep, err = e.kb.Report(ctx, knowledge.ReportQuery{From: day("2025-04-01"), To: day("2025-05-01")})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Resolved != 1 || rep.Linked != 1 || rep.Reused != 1 || rep.Known != 1 || rep.New != 0 ||
			len(rep.TopReused) != 1 || rep.TopReused[0].ArticleID != k1 || rep.TopReused[0].PeriodReuses != 1 ||
			rep.Feedback.Votes != 1 || rep.Feedback.Helpful != 0 || *rep.Feedback.HelpfulPercent != 0 {
			t.Fatalf("April: %s", dump(rep))
		}

		for _, q := range []knowledge.ReportQuery{
			{From: day("2025-03-01"), To: day("2025-03-01")},
			{From: day("2025-03-01"), To: day("2025-02-01")},
			{To: day("2025-03-01")},
			{From: day("2025-03-01")},
			{From: day("2020-01-01"), To: day("2025-03-01")},
		} {
			var ve *accounts.ValidationError
			if _, err := e.kb.Report(ctx, q); !errors.As(err, &ve) {
				t.Errorf("%+v: want a validation error, got %v", q, err)
			}
		}
	})
}

func dump(r knowledge.Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

// sameReport compares two reports by their JSON (pointers by value).
func sameReport(t *testing.T, got, want knowledge.Report) {
	t.Helper()
	if g, w := dump(got), dump(want); g != w {
		t.Errorf("report\n got %s\nwant %s", g, w)
	}
}
