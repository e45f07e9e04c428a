package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
)

// Handler and body of GET /reports/knowledge: the KCS metrics of the
// tickets resolved in a period (knowledge.Report defines every figure).

func knowledgeReportQuery() []*Parameter {
	return []*Parameter{
		queryParam("from", "date-time", false, "tickets resolved at or after this (a date alone: from its start, UTC); default 30 days before to."),
		queryParam("to", "date-time", false, "tickets resolved before this (exclusive; a date alone includes that whole day, UTC); default now."),
	}
}

// KCSRates are the link and reuse figures of a set of resolved tickets.
type KCSRates struct {
	Resolved         int      `json:"resolved" doc:"tickets resolved in the period (resolved_at in [from, to); a reopened ticket counts once resolved again)"`
	Linked           int      `json:"linked" doc:"of those, tickets with at least one knowledge link of any kind (solved_by, referenced, created_from)"`
	LinkRatePercent  *float64 `json:"link_rate_percent" doc:"100 × linked / resolved, two decimals; null when resolved is 0"`
	Reused           int      `json:"reused" doc:"tickets linked solved_by or referenced to an article created before the ticket was created (and not written from it)"`
	ReuseRatePercent *float64 `json:"reuse_rate_percent" doc:"100 × reused / linked, two decimals; null when linked is 0"`
}

func kcsRates(r knowledge.Rates) KCSRates {
	return KCSRates{Resolved: r.Resolved, Linked: r.Linked, LinkRatePercent: r.LinkRatePercent,
		Reused: r.Reused, ReuseRatePercent: r.ReuseRatePercent}
}

// KCSAgentRates are the rates of one assignee's tickets.
type KCSAgentRates struct {
	AgentID   *int64 `json:"agent_id" doc:"the ticket's assignee as stored (the assignee at resolution unless reassigned later); null: unassigned tickets"`
	AgentName string `json:"agent_name"`
	KCSRates
}

// KCSDepartmentRates are the rates of one department's tickets.
type KCSDepartmentRates struct {
	DepartmentID   *int64 `json:"department_id" doc:"null: tickets without a department"`
	DepartmentName string `json:"department_name"`
	KCSRates
}

// KCSFeedbackScore counts "was this helpful?" votes.
type KCSFeedbackScore struct {
	Votes          int      `json:"votes"`
	Helpful        int      `json:"helpful"`
	HelpfulPercent *float64 `json:"helpful_percent" doc:"100 × helpful / votes, two decimals; null without votes"`
}

func kcsScore(f knowledge.FeedbackScore) KCSFeedbackScore {
	return KCSFeedbackScore{Votes: f.Votes, Helpful: f.Helpful, HelpfulPercent: f.HelpfulPercent}
}

// KCSReusedArticle is one of the most reused articles of the period.
type KCSReusedArticle struct {
	ArticleID    int64            `json:"article_id"`
	Title        string           `json:"title" doc:"the working title"`
	Status       string           `json:"status"`
	PeriodReuses int              `json:"period_reuses" doc:"solved_by and referenced links to it from the tickets resolved in the period"`
	ReuseCount   int              `json:"reuse_count" doc:"such links from any ticket, ever (the article's reuse_count)"`
	Feedback     KCSFeedbackScore `json:"feedback" doc:"every vote on the article, whenever cast"`
}

// KCSUnusedArticle is a published article never reused.
type KCSUnusedArticle struct {
	ArticleID   int64      `json:"article_id"`
	Title       string     `json:"title"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at"`
}

// KCSNeverReused lists the published articles without any solved_by or
// referenced link.
type KCSNeverReused struct {
	Count int                `json:"count" doc:"published articles never linked solved_by or referenced, as of now (whatever the period)"`
	Items []KCSUnusedArticle `json:"items" doc:"the 20 oldest of them, by creation"`
}

// KCSFAQMetrics are the FAQ proposal figures of the period.
type KCSFAQMetrics struct {
	Created                 int      `json:"created" doc:"proposals the miner created in the period"`
	Approved                int      `json:"approved" doc:"proposals approved in the period (an article was written from each)"`
	Rejected                int      `json:"rejected" doc:"proposals rejected in the period"`
	Attached                int      `json:"attached" doc:"proposals attached to an existing article in the period"`
	Merged                  int      `json:"merged" doc:"proposals merged into another in the period"`
	Open                    int      `json:"open" doc:"proposals open now, whatever the period"`
	DecisionMedianSeconds   *float64 `json:"decision_median_seconds" doc:"median time from creation to decision of the proposals approved, rejected or attached in the period; null without any"`
	DecisionMeanSeconds     *float64 `json:"decision_mean_seconds" doc:"mean of the same; null without any"`
	ResolvedWithFAQArticles int      `json:"resolved_with_faq_articles" doc:"tickets resolved in the period, linked solved_by or referenced to an article written from a proposal, resolved after it was created and not members of that proposal"`
	RepeatsOfCoveredIssues  int      `json:"repeats_of_covered_issues" doc:"tickets the miner recorded in the period as repeats of an issue a published article already covers"`
}

// KnowledgeReportResponse is the KCS metrics of the tickets resolved in a
// period.
type KnowledgeReportResponse struct {
	From time.Time `json:"from" doc:"inclusive"`
	To   time.Time `json:"to" doc:"exclusive"`
	KCSRates
	SolvedBy     int                  `json:"solved_by" doc:"resolved tickets with at least one solved_by link"`
	Known        int                  `json:"known" doc:"of those, solved with an article created before the ticket (and not written from it)"`
	New          int                  `json:"new" doc:"of those, solved only with articles created at or after the ticket, or written from it; known + new = solved_by"`
	KnownPercent *float64             `json:"known_percent" doc:"100 × known / solved_by, two decimals; null when solved_by is 0"`
	ByAgent      []KCSAgentRates      `json:"by_agent" doc:"unassigned first, then by user id"`
	ByDepartment []KCSDepartmentRates `json:"by_department" doc:"no department first, then by id"`
	TopReused    []KCSReusedArticle   `json:"top_reused" doc:"the 10 articles with the most period_reuses, then by id"`
	NeverReused  KCSNeverReused       `json:"never_reused"`
	Feedback     KCSFeedbackScore     `json:"feedback" doc:"votes cast (or last changed) in the period"`
	FAQ          *KCSFAQMetrics       `json:"faq,omitempty" doc:"FAQ proposal metrics"`
}

func (h *handlers) knowledgeReport(c *gin.Context) {
	q := c.Request.URL.Query()
	var fe []FieldError
	bound := func(name string, upper bool) *time.Time {
		vs := q[name]
		switch {
		case len(vs) > 1:
			fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf("give it once, not %d times", len(vs))})
			return nil
		case len(vs) == 0:
			return nil
		}
		return createdBound(strings.TrimSpace(vs[0]), upper, func(msg string) { fe = append(fe, FieldError{Field: name, Message: msg}) })
	}
	from, to := bound("from", false), bound("to", true)
	if len(fe) > 0 {
		WriteProblem(c, http.StatusBadRequest, "the report query is invalid; dates are YYYY-MM-DD or RFC 3339; see errors", fe...)
		return
	}
	var rq knowledge.ReportQuery
	if to != nil {
		rq.To = *to
	} else {
		rq.To = time.Now().UTC().Truncate(time.Millisecond)
	}
	if from != nil {
		rq.From = *from
	} else {
		rq.From = rq.To.AddDate(0, 0, -30)
	}
	rep, err := h.d.Knowledge.Report(c.Request.Context(), rq)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve}
	}
	if err != nil {
		Error(c, err)
		return
	}
	out := KnowledgeReportResponse{From: rep.From, To: rep.To, KCSRates: kcsRates(rep.Rates),
		SolvedBy: rep.SolvedBy, Known: rep.Known, New: rep.New, KnownPercent: rep.KnownPercent,
		ByAgent: make([]KCSAgentRates, 0, len(rep.ByAgent)), ByDepartment: make([]KCSDepartmentRates, 0, len(rep.ByDepartment)),
		TopReused:   make([]KCSReusedArticle, 0, len(rep.TopReused)),
		NeverReused: KCSNeverReused{Count: rep.NeverReused, Items: make([]KCSUnusedArticle, 0, len(rep.NeverReusedArticles))},
		Feedback:    kcsScore(rep.Feedback)}
	for _, g := range rep.ByAgent {
		out.ByAgent = append(out.ByAgent, KCSAgentRates{AgentID: g.ID, AgentName: g.Name, KCSRates: kcsRates(g.Rates)})
	}
	for _, g := range rep.ByDepartment {
		out.ByDepartment = append(out.ByDepartment, KCSDepartmentRates{DepartmentID: g.ID, DepartmentName: g.Name, KCSRates: kcsRates(g.Rates)})
	}
	for _, a := range rep.TopReused {
		out.TopReused = append(out.TopReused, KCSReusedArticle{ArticleID: a.ArticleID, Title: a.Title, Status: a.Status,
			PeriodReuses: a.PeriodReuses, ReuseCount: a.ReuseCount, Feedback: kcsScore(a.Feedback)})
	}
	for _, a := range rep.NeverReusedArticles {
		out.NeverReused.Items = append(out.NeverReused.Items, KCSUnusedArticle{ArticleID: a.ArticleID, Title: a.Title,
			CreatedAt: a.CreatedAt, PublishedAt: a.PublishedAt})
	}
	if f := rep.FAQ; f != nil {
		out.FAQ = &KCSFAQMetrics{Created: f.Created, Approved: f.Approved, Rejected: f.Rejected, Attached: f.Attached, Merged: f.Merged,
			Open: f.Open, DecisionMedianSeconds: f.DecisionMedianSeconds, DecisionMeanSeconds: f.DecisionMeanSeconds,
			ResolvedWithFAQArticles: f.ResolvedWithFAQArticles, RepeatsOfCoveredIssues: f.RepeatsOfCoveredIssues}
	}
	JSON(c, http.StatusOK, out)
}
