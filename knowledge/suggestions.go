package knowledge

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge/suggest"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/tickets"
)

// Suggestions rank published articles for a ticket with the learned model
// of package suggest: the articles' published text, and the text (subject
// and description) of the tickets linked to them, which is what teaches
// the model the customers' wording. The model lives in memory and is
// rebuilt when the knowledge base changed: at most every refresh interval
// a cheap stamp (count and latest update of published articles, count and
// latest creation of links) is compared with the model's; a new model is
// built outside any lock while requests keep using the old one, and
// concurrent requests share one build.

const (
	// examplesPerArticle and maxExamples bound what a build reads: the
	// newest linked tickets teach the current wording best.
	examplesPerArticle = 200
	maxExamples        = 50_000
	buildTimeout       = 2 * time.Minute
)

type suggester struct {
	s     *Service
	every time.Duration

	mu        sync.Mutex
	cur       *suggestModel
	checkedAt time.Time
	inflight  *buildCall
}

type buildCall struct {
	done  chan struct{}
	model *suggestModel
	err   error
}

// stamp changes whenever the published articles or the links change.
type stamp struct {
	articles   int64
	updated    string
	links      int64
	lastLinked string
}

type suggestModel struct {
	stamp    stamp
	model    *suggest.Model
	articles map[int64]suggestArticle
}

type suggestArticle struct {
	id         int64
	title      string
	summary    string
	plain      string // plain text of the body
	language   string
	audience   string
	reuseCount int
}

func newSuggester(s *Service) *suggester { return &suggester{s: s, every: 5 * time.Second} }

// model returns the current model. While it was checked less than every
// ago it is used as is; otherwise a refresh starts in the background (one
// at a time: concurrent requests share it) and the old model serves
// meanwhile, so no request waits for a build except the very first.
func (g *suggester) model(ctx context.Context) (*suggestModel, error) {
	g.mu.Lock()
	cur := g.cur
	if cur != nil && time.Since(g.checkedAt) < g.every {
		g.mu.Unlock()
		return cur, nil
	}
	c := g.inflight
	if c == nil {
		c = g.start()
	}
	g.mu.Unlock()
	if cur != nil {
		return cur, nil
	}
	return c.wait(ctx)
}

// start begins a refresh; g.mu is held.
func (g *suggester) start() *buildCall {
	c := &buildCall{done: make(chan struct{})}
	g.inflight = c
	cur := g.cur
	go func() {
		// Not the request's context: the build outlives the request that
		// started it, and others wait on it.
		bctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		c.model, c.err = g.refresh(bctx, cur)
		cancel()
		g.mu.Lock()
		g.inflight = nil
		if c.err == nil {
			g.cur, g.checkedAt = c.model, time.Now()
		}
		g.mu.Unlock()
		close(c.done)
	}()
	return c
}

func (c *buildCall) wait(ctx context.Context) (*suggestModel, error) {
	select {
	case <-c.done:
		return c.model, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refreshNow checks the knowledge base now and waits until the model
// reflects every change committed before the call.
func (g *suggester) refreshNow(ctx context.Context) error {
	g.mu.Lock()
	prev := g.inflight
	g.mu.Unlock()
	if prev != nil {
		if _, err := prev.wait(ctx); err != nil && ctx.Err() != nil {
			return err
		}
	}
	g.mu.Lock()
	c := g.inflight // started after prev ended, so after this call began
	if c == nil {
		c = g.start()
	}
	g.mu.Unlock()
	_, err := c.wait(ctx)
	return err
}

// RefreshSuggestions brings the suggestion model up to date now (it does
// so by itself within the refresh interval): for warming up at start and
// for tests.
func (s *Service) RefreshSuggestions(ctx context.Context) error { return s.suggest.refreshNow(ctx) }

func (g *suggester) refresh(ctx context.Context, cur *suggestModel) (*suggestModel, error) {
	st, err := g.stamp(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.stamp == st {
		return cur, nil
	}
	return g.build(ctx, st)
}

func (g *suggester) stamp(ctx context.Context) (stamp, error) {
	db := g.s.conn(ctx)
	var st stamp
	var upd, linked sql.NullString
	if err := db.Raw("SELECT COUNT(*), MAX(updated_at) FROM articles WHERE published_revision_id IS NOT NULL").Row().Scan(&st.articles, &upd); err != nil {
		return st, err
	}
	if err := db.Raw("SELECT COUNT(*), MAX(created_at) FROM ticket_article_links").Row().Scan(&st.links, &linked); err != nil {
		return st, err
	}
	st.updated, st.lastLinked = upd.String, linked.String
	return st, nil
}

// build reads the published articles and their linked tickets and trains
// a model; it holds no lock.
func (g *suggester) build(ctx context.Context, st stamp) (*suggestModel, error) {
	db := g.s.conn(ctx)
	var rows []struct {
		ID         int64
		ReuseCount int
		Title      string
		Summary    string
		Body       string
		Tags       string
		Language   string
		Audience   string
	}
	if err := db.Raw(`SELECT a.id, a.reuse_count, r.title, r.summary, r.body, r.tags, r.language, r.audience
FROM articles a JOIN article_revisions r ON r.id = a.published_revision_id ORDER BY a.id`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	m := &suggestModel{stamp: st, articles: make(map[int64]suggestArticle, len(rows))}
	arts := make([]suggest.Article, 0, len(rows))
	for _, r := range rows {
		plain := PlainText(r.Body)
		m.articles[r.ID] = suggestArticle{id: r.ID, title: r.Title, summary: r.Summary, plain: plain,
			language: r.Language, audience: r.Audience, reuseCount: r.ReuseCount}
		arts = append(arts, suggest.Article{ID: r.ID, Title: r.Title, Summary: r.Summary, Body: plain, Tags: decodeTags(r.Tags)})
	}
	var links []struct {
		ArticleID   int64
		Subject     string
		Description string
	}
	if len(rows) > 0 {
		if err := db.Raw(`SELECT l.article_id, t.subject, t.description
FROM ticket_article_links l JOIN tickets t ON t.id = l.ticket_id
JOIN articles a ON a.id = l.article_id AND a.published_revision_id IS NOT NULL
WHERE l.kind IN ? ORDER BY l.created_at DESC LIMIT ?`,
			tickets.LinkKinds, maxExamples).Scan(&links).Error; err != nil {
			return nil, err
		}
	}
	per := map[int64]int{}
	var examples []suggest.Example
	type exampleKey struct {
		article int64
		text    string
	}
	seen := map[exampleKey]bool{}
	for _, l := range links {
		text := l.Subject + "\n" + l.Description
		key := exampleKey{l.ArticleID, text}
		if per[l.ArticleID] >= examplesPerArticle || seen[key] {
			continue // one ticket linked twice (solved_by and referenced) teaches once
		}
		seen[key] = true
		per[l.ArticleID]++
		examples = append(examples, suggest.Example{ArticleID: l.ArticleID, Text: text})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.model = suggest.Build(arts, examples, suggest.Options{})
	return m, nil
}

// Suggest ranks the published articles actor may read for ticket id (its
// subject, description and public replies), best first, at most limit
// (default 5, at most 50). Requesters get public articles only.
func (s *Service) Suggest(ctx context.Context, actor accounts.User, ticketID int64, limit int) ([]Suggestion, error) {
	if err := need(actor, accounts.PermArticlesRead); err != nil {
		return nil, err
	}
	switch {
	case limit <= 0:
		limit = 5
	case limit > 50:
		limit = 50
	}
	t, err := s.tickets.Get(ctx, actor, ticketID)
	if err != nil {
		return nil, err
	}
	comments, err := s.tickets.Comments(ctx, actor, ticketID)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString(t.Subject)
	sb.WriteString("\n")
	sb.WriteString(t.Description)
	for _, c := range comments {
		if !c.Internal {
			sb.WriteString("\n")
			sb.WriteString(c.Body)
		}
	}
	links, err := s.tickets.ArticleLinks(ctx, actor, ticketID)
	if err != nil {
		return nil, err
	}
	linked := map[int64]bool{}
	for _, l := range links {
		linked[l.ArticleID] = true
	}
	m, err := s.suggest.model(ctx)
	if err != nil {
		return nil, err
	}
	out := []Suggestion{}
	if m.model == nil {
		return out, nil
	}
	internal := seesInternal(actor)
	snippetQuery := t.Subject
	if strings.TrimSpace(snippetQuery) == "" {
		snippetQuery = t.Description
	}
	// Rank returns every article when asked for 0; a bounded list leaves
	// room for the audience filter below without ranking the whole base.
	for _, r := range m.model.Rank(sb.String(), max(4*limit, 50)) {
		if len(out) == limit {
			break
		}
		a, ok := m.articles[r.ArticleID]
		if !ok || r.Score <= 0 || (a.audience != AudiencePublic && !internal) {
			continue
		}
		sn := search.Snippet(a.plain, snippetQuery, 160)
		if !strings.Contains(sn, "«") && a.summary != "" {
			sn = search.Snippet(a.summary, snippetQuery, 160)
		}
		out = append(out, Suggestion{ArticleID: a.id, Title: a.title, Summary: a.summary, Language: a.language,
			Audience: a.audience, Score: r.Score, Snippet: sn, ReuseCount: a.reuseCount, Linked: linked[a.id]})
	}
	return out, nil
}
