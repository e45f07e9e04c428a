package knowledge

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/tickets"
)

// Sizes of the report's article lists.
const (
	ReportTopReused   = 10 // Report.TopReused
	ReportNeverReused = 20 // Report.NeverReusedArticles
)

// ReportQuery selects the tickets a KCS report covers: those resolved in
// [From, To).
type ReportQuery struct {
	From time.Time
	To   time.Time
}

// Report is the KCS (Knowledge-Centered Service) metrics of the tickets
// resolved in a period.
//
// The tickets counted are those whose resolved_at is in [From, To): set
// when a ticket enters a resolved-category state and kept when it is then
// closed, cleared when it is reopened, so a reopened ticket counts again
// only once resolved again (at its new time). Links are the ticket's links
// as they are now, whenever they were made (before or after the resolve);
// an unlinked one is gone.
//
//   - resolved: tickets resolved in the period;
//   - linked: those with at least one link of any kind (solved_by,
//     referenced, created_from); link rate = linked / resolved;
//   - reused: those linked solved_by or referenced to an article that is
//     "known" to the ticket, i.e. created (articles.created_at) strictly
//     before the ticket was created and not linked created_from that same
//     ticket; reuse rate = reused / linked;
//   - new vs known, over the tickets with at least one solved_by link
//     (SolvedBy): a ticket is known when one of its solved_by articles is
//     known to it (as above), and new otherwise: every solved_by article was
//     created at or after the ticket was, or was created from it (linked
//     created_from). Known + New = SolvedBy; known percent = Known /
//     SolvedBy;
//   - per agent: by the ticket's assignee as stored (tickets.assignee_id),
//     which is the assignee at resolution unless someone reassigned the
//     ticket after resolving it; nil groups the unassigned tickets. Per
//     department: tickets.department_id, nil for none;
//   - top reused: the ReportTopReused articles with the most solved_by and
//     referenced links from the tickets resolved in the period (any article
//     age, counted like reuse_count: a ticket linking an article both ways
//     counts twice), ties by article id; with their stored reuse_count (all
//     time) and their feedback score (all votes, whenever cast);
//   - never reused: published articles (with a live published revision;
//     archived ones are not) without any solved_by or referenced link, as
//     of now, whatever the period: their number, and the ReportNeverReused
//     oldest (by created_at, then id);
//   - feedback: the votes whose current value was cast in the period
//     (article_feedback.updated_at in [From, To); a changed vote counts
//     once, as it is now, at the time it changed), helpful / votes.
//
// Every percentage is 100 × part / whole rounded to two decimals, nil when
// the whole is 0. Titles are the articles' working titles (the report is
// for staff).
type Report struct {
	From time.Time
	To   time.Time

	Rates // all tickets of the period

	SolvedBy     int      // resolved tickets with a solved_by link
	Known        int      // of those, solved with an article that existed before the ticket
	New          int      // solved only with articles written from or after the ticket
	KnownPercent *float64 // 100 × Known / SolvedBy

	ByAgent      []GroupRates // unassigned first, then by user id
	ByDepartment []GroupRates // no department first, then by id

	TopReused           []ArticleReuse // at most ReportTopReused
	NeverReused         int            // published articles never linked solved_by or referenced
	NeverReusedArticles []ArticleAge   // the ReportNeverReused oldest of them

	Feedback FeedbackScore // votes cast in the period

	// FAQ is the FAQ proposal figures (proposals mined from repeat
	// issues, decided by editors), see FAQMetrics.
	FAQ *FAQMetrics
}

// Rates are the link and reuse figures of a set of resolved tickets.
type Rates struct {
	Resolved         int
	Linked           int      // with a link of any kind
	LinkRatePercent  *float64 // 100 × Linked / Resolved
	Reused           int      // linked solved_by or referenced to an article known to the ticket
	ReuseRatePercent *float64 // 100 × Reused / Linked
}

// GroupRates are the Rates of one agent's or one department's tickets.
type GroupRates struct {
	ID   *int64 // user (ByAgent) or department (ByDepartment); nil: unassigned, no department
	Name string // the user's or department's name
	Rates
}

// ArticleReuse is one of the most reused articles of the period.
type ArticleReuse struct {
	ArticleID    int64
	Title        string
	Status       string
	PeriodReuses int // solved_by and referenced links from the period's tickets
	ReuseCount   int // articles.reuse_count: such links from any ticket, ever
	Feedback     FeedbackScore
}

// ArticleAge is a published article that was never reused.
type ArticleAge struct {
	ArticleID   int64
	Title       string
	CreatedAt   time.Time
	PublishedAt *time.Time
}

// FeedbackScore counts "was this helpful?" votes.
type FeedbackScore struct {
	Votes          int
	Helpful        int
	HelpfulPercent *float64 // 100 × Helpful / Votes
}

// FAQMetrics are the FAQ proposal figures of a period (faq_report.go):
//
//   - created: proposals the miner created in the period (created_at);
//   - approved, rejected, attached, merged: proposals decided so in the
//     period (decided_at), whenever created;
//   - open: proposals open now, whatever the period;
//   - time to decision: decided_at - created_at of the proposals approved,
//     rejected or attached in the period (merging is not a decision on
//     the issue), median and mean in seconds, nil without any;
//   - resolved with FAQ articles: tickets resolved in the period and
//     linked solved_by or referenced to an article written from an
//     approved proposal, resolved after the article was created, and not
//     members of that proposal (the later repeats the article served);
//   - repeats of covered issues: tickets the miner recorded in the period
//     as repeats of an issue a published article already covers.
type FAQMetrics struct {
	Created                 int
	Approved                int
	Rejected                int
	Attached                int
	Merged                  int
	Open                    int
	DecisionMedianSeconds   *float64
	DecisionMeanSeconds     *float64
	ResolvedWithFAQArticles int
	RepeatsOfCoveredIssues  int
}

// maxReportSpan bounds a report's period, as for the SLA report.
const maxReportSpan = 3 * 366 * 24 * time.Hour

// Validate lists every problem with q at once.
func (q ReportQuery) Validate() *accounts.ValidationError {
	ve := &accounts.ValidationError{}
	if q.From.IsZero() {
		ve.Add("from", "is required")
	}
	if q.To.IsZero() {
		ve.Add("to", "is required")
	}
	if !q.From.IsZero() && !q.To.IsZero() {
		if !q.To.After(q.From) {
			ve.Add("to", "must be after from")
		} else if q.To.Sub(q.From) > maxReportSpan {
			ve.Add("to", "the period is at most three years; ask for a shorter one")
		}
	}
	if len(ve.Fields) == 0 {
		return nil
	}
	return ve
}

// knownTo is the SQL condition "the article a of link l is known to ticket
// t": created strictly before the ticket, and not written from it.
const knownTo = `a.created_at < t.created_at AND NOT EXISTS (SELECT 1 FROM ticket_article_links c
      WHERE c.ticket_id = l.ticket_id AND c.article_id = l.article_id AND c.kind = ?)`

// articleBrief is what the report shows of a top article.
type articleBrief struct {
	ID         int64
	Title      string
	Status     string
	ReuseCount int
}

// reportCell is one (assignee, department) cell of the period's tickets.
type reportCell struct {
	AssigneeID   *int64
	DepartmentID *int64
	Resolved     int64
	Linked       int64
	Reused       int64
	Solved       int64
	Known        int64
}

// Report computes the KCS metrics for q. Counting happens in portable SQL
// (EXISTS flags per ticket, summed per cell) and the arithmetic in Go, so
// SQLite and MySQL give identical answers.
func (s *Service) Report(ctx context.Context, q ReportQuery) (Report, error) {
	if ve := q.Validate(); ve != nil {
		return Report{}, ve
	}
	from, to := q.From.UTC().Truncate(time.Millisecond), q.To.UTC().Truncate(time.Millisecond)
	out := Report{From: from, To: to, ByAgent: []GroupRates{}, ByDepartment: []GroupRates{},
		TopReused: []ArticleReuse{}, NeverReusedArticles: []ArticleAge{}}
	db := s.conn(ctx)
	const span = "t.resolved_at >= ? AND t.resolved_at < ?"
	reuse := []string{tickets.LinkSolvedBy, tickets.LinkReferenced}

	// 1. Per ticket flags, summed per (assignee, department).
	var cells []reportCell
	err := db.Raw(`SELECT x.assignee_id AS assignee_id, x.department_id AS department_id,
  COUNT(*) AS resolved, SUM(x.linked) AS linked, SUM(x.reused) AS reused, SUM(x.solved) AS solved, SUM(x.known) AS known
FROM (
  SELECT t.assignee_id AS assignee_id, t.department_id AS department_id,
    CASE WHEN EXISTS (SELECT 1 FROM ticket_article_links l WHERE l.ticket_id = t.id) THEN 1 ELSE 0 END AS linked,
    CASE WHEN EXISTS (SELECT 1 FROM ticket_article_links l JOIN articles a ON a.id = l.article_id
      WHERE l.ticket_id = t.id AND l.kind IN ? AND `+knownTo+`) THEN 1 ELSE 0 END AS reused,
    CASE WHEN EXISTS (SELECT 1 FROM ticket_article_links l JOIN articles a ON a.id = l.article_id
      WHERE l.ticket_id = t.id AND l.kind = ?) THEN 1 ELSE 0 END AS solved,
    CASE WHEN EXISTS (SELECT 1 FROM ticket_article_links l JOIN articles a ON a.id = l.article_id
      WHERE l.ticket_id = t.id AND l.kind = ? AND `+knownTo+`) THEN 1 ELSE 0 END AS known
  FROM tickets t
  WHERE `+span+`
) x
GROUP BY x.assignee_id, x.department_id`,
		reuse, tickets.LinkCreatedFrom, tickets.LinkSolvedBy, tickets.LinkSolvedBy, tickets.LinkCreatedFrom, from, to).Scan(&cells).Error
	if err != nil {
		return Report{}, fmt.Errorf("knowledge report: tickets: %w", err)
	}
	agents, depts := map[int64]*GroupRates{}, map[int64]*GroupRates{}
	group := func(m map[int64]*GroupRates, id *int64) *GroupRates {
		k := deref(id) // 0: none (ids start at 1)
		if m[k] == nil {
			m[k] = &GroupRates{ID: id}
		}
		return m[k]
	}
	for _, c := range cells {
		for _, r := range []*Rates{&out.Rates, &group(agents, c.AssigneeID).Rates, &group(depts, c.DepartmentID).Rates} {
			r.Resolved += int(c.Resolved)
			r.Linked += int(c.Linked)
			r.Reused += int(c.Reused)
		}
		out.SolvedBy += int(c.Solved)
		out.Known += int(c.Known)
	}
	out.New = out.SolvedBy - out.Known
	out.KnownPercent = percent(out.Known, out.SolvedBy)
	out.Rates.fill()
	if out.ByAgent, err = s.groups(ctx, "users", agents); err != nil {
		return Report{}, err
	}
	if out.ByDepartment, err = s.groups(ctx, "departments", depts); err != nil {
		return Report{}, err
	}

	// 2. The most reused articles of the period.
	var top []struct {
		ArticleID int64
		N         int64
	}
	err = db.Raw(`SELECT l.article_id AS article_id, COUNT(*) AS n
FROM ticket_article_links l JOIN tickets t ON t.id = l.ticket_id JOIN articles a ON a.id = l.article_id
WHERE l.kind IN ? AND `+span+`
GROUP BY l.article_id
ORDER BY n DESC, l.article_id
LIMIT ?`, reuse, from, to, ReportTopReused).Scan(&top).Error
	if err != nil {
		return Report{}, fmt.Errorf("knowledge report: top reused: %w", err)
	}
	if len(top) > 0 {
		ids := make([]int64, len(top))
		for i, a := range top {
			ids[i] = a.ArticleID
		}
		var arts []articleBrief
		if err := db.Table("articles").Select("id", "title", "status", "reuse_count").Where("id IN ?", ids).Scan(&arts).Error; err != nil {
			return Report{}, fmt.Errorf("knowledge report: articles: %w", err)
		}
		byID := make(map[int64]articleBrief, len(arts))
		for _, a := range arts {
			byID[a.ID] = a
		}
		scores, err := s.feedbackScores(ctx, ids)
		if err != nil {
			return Report{}, err
		}
		for _, t := range top {
			a, ok := byID[t.ArticleID]
			if !ok {
				continue // joined above, so only if deleted meanwhile
			}
			out.TopReused = append(out.TopReused, ArticleReuse{ArticleID: a.ID, Title: a.Title, Status: a.Status,
				PeriodReuses: int(t.N), ReuseCount: a.ReuseCount, Feedback: scores[a.ID]})
		}
	}

	// 3. Published articles never reused, as of now.
	const never = `FROM articles a WHERE a.published_revision_id IS NOT NULL AND NOT EXISTS
  (SELECT 1 FROM ticket_article_links l WHERE l.article_id = a.id AND l.kind IN ?)`
	var n int64
	if err := db.Raw(`SELECT COUNT(*) `+never, reuse).Scan(&n).Error; err != nil {
		return Report{}, fmt.Errorf("knowledge report: never reused: %w", err)
	}
	out.NeverReused = int(n)
	if n > 0 {
		var rows []struct {
			ID          int64
			Title       string
			CreatedAt   time.Time
			PublishedAt *time.Time
		}
		if err := db.Raw(`SELECT a.id AS id, a.title AS title, a.created_at AS created_at, a.published_at AS published_at `+never+`
ORDER BY a.created_at, a.id LIMIT ?`, reuse, ReportNeverReused).Scan(&rows).Error; err != nil {
			return Report{}, fmt.Errorf("knowledge report: never reused: %w", err)
		}
		for _, r := range rows {
			out.NeverReusedArticles = append(out.NeverReusedArticles,
				ArticleAge{ArticleID: r.ID, Title: r.Title, CreatedAt: r.CreatedAt.UTC(), PublishedAt: utcPtr(r.PublishedAt)})
		}
	}

	// 4. Votes cast in the period.
	var votes struct {
		Votes   int64
		Helpful int64
	}
	if err := db.Raw(`SELECT COUNT(*) AS votes, COALESCE(SUM(CASE WHEN f.helpful <> 0 THEN 1 ELSE 0 END), 0) AS helpful
FROM article_feedback f WHERE f.updated_at >= ? AND f.updated_at < ?`, from, to).Scan(&votes).Error; err != nil {
		return Report{}, fmt.Errorf("knowledge report: feedback: %w", err)
	}
	out.Feedback = score(votes.Helpful, votes.Votes)

	// 5. FAQ proposals.
	if out.FAQ, err = s.faqMetrics(ctx, from, to); err != nil {
		return Report{}, err
	}
	return out, nil
}

// fill computes the percentages of r from its counts.
func (r *Rates) fill() {
	r.LinkRatePercent = percent(r.Linked, r.Resolved)
	r.ReuseRatePercent = percent(r.Reused, r.Linked)
}

// groups turns the cells of one grouping into rows named from table
// (users or departments): the "none" group first, then by id.
func (s *Service) groups(ctx context.Context, table string, m map[int64]*GroupRates) ([]GroupRates, error) {
	out := make([]GroupRates, 0, len(m))
	var ids []int64
	for k, g := range m {
		g.fill()
		out = append(out, *g)
		if k != 0 {
			ids = append(ids, k)
		}
	}
	slices.SortFunc(out, func(a, b GroupRates) int {
		switch ka, kb := deref(a.ID), deref(b.ID); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	if len(ids) == 0 {
		return out, nil
	}
	var names []struct {
		ID   int64
		Name string
	}
	if err := s.conn(ctx).Table(table).Select("id", "name").Where("id IN ?", ids).Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("knowledge report: %s: %w", table, err)
	}
	byID := make(map[int64]string, len(names))
	for _, n := range names {
		byID[n.ID] = n.Name
	}
	for i := range out {
		if out[i].ID != nil {
			out[i].Name = byID[*out[i].ID]
		}
	}
	return out, nil
}

// feedbackScores are the all-time votes on each of ids.
func (s *Service) feedbackScores(ctx context.Context, ids []int64) (map[int64]FeedbackScore, error) {
	var rows []struct {
		ArticleID int64
		Votes     int64
		Helpful   int64
	}
	err := s.conn(ctx).Raw(`SELECT f.article_id AS article_id, COUNT(*) AS votes, SUM(CASE WHEN f.helpful <> 0 THEN 1 ELSE 0 END) AS helpful
FROM article_feedback f WHERE f.article_id IN ? GROUP BY f.article_id`, ids).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("knowledge report: article feedback: %w", err)
	}
	out := make(map[int64]FeedbackScore, len(ids))
	for _, r := range rows {
		out[r.ArticleID] = score(r.Helpful, r.Votes)
	}
	return out, nil
}

func score(helpful, votes int64) FeedbackScore {
	return FeedbackScore{Votes: int(votes), Helpful: int(helpful), HelpfulPercent: percent(int(helpful), int(votes))}
}

// percent is 100 × part / whole rounded to two decimals; nil when whole is 0.
func percent(part, whole int) *float64 {
	if whole == 0 {
		return nil
	}
	v := math.Round(10000*float64(part)/float64(whole)) / 100
	return &v
}
