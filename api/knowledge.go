package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// Handlers of /articles, /tickets/{id}/articles and
// /tickets/{id}/suggested-articles. The route table checks the static
// permissions; the knowledge domain decides visibility (an article the
// caller may not see is a 404), workflow guards and everything else.

func (h *handlers) knowledgeRoutes() []route {
	const tag = "knowledge"
	return []route{
		{Method: "GET", Path: apiBase + "/articles", Tag: tag, Perm: accounts.PermArticlesRead, NeedsKnowledge: true,
			Summary: "List or search articles",
			Description: "Staff (articles:read_drafts) list working copies in every state; anyone else lists published revisions, and requesters only public ones. " +
				"Without q: newest first. With q: ranked by relevance (BM25 over title, summary, tags and body, title weighted highest; Chinese and English), " +
				"with a highlighted snippet; a published article whose new revision is under review is still found by its published text. " +
				"A q with no searchable words gives an empty list.",
			Query: articleListQuery(), Response: ArticleListItem{}, List: true, Paged: true, DomainCursor: true, Status: 200, Handler: h.listArticles},
		{Method: "POST", Path: apiBase + "/articles", Tag: tag, Perm: accounts.PermArticlesWrite, NeedsKnowledge: true,
			Summary: "Write a new article (a draft)",
			Description: "It starts in the workflow's initial state (draft) as revision 1. With from_ticket_id the draft is prefilled from the ticket " +
				"(title from its subject, body from its description and resolution note, category and tags) and the ticket is linked created_from.",
			Request: CreateArticleRequest{}, Response: ArticleResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createArticle},
		{Method: "GET", Path: apiBase + "/articles/:id", Tag: tag, Resource: "article", Perm: accounts.PermArticlesRead, NeedsKnowledge: true,
			Summary:     "Get an article",
			Description: "Staff get the working copy, or the published revision with view=published; anyone else always gets the published revision. An article the caller may not see is a 404.",
			Query:       []*Parameter{queryParam("view", "string", false, "working (default for staff) or published.", knowledge.ViewWorking, knowledge.ViewPublished)},
			Response:    ArticleResponse{}, Status: 200, ETag: true, Handler: h.getArticle},
		{Method: "PATCH", Path: apiBase + "/articles/:id", Tag: tag, Resource: "article", Perm: accounts.PermArticlesWrite, NeedsKnowledge: true,
			Summary: "Edit an article (a new revision)",
			Description: "Every edit is a new revision. Editing a published article starts a new draft while the published revision stays visible; " +
				"archived articles are read-only (409). A stale If-Match is a 412, and of two concurrent edits from one version one gets a 409: no revision is lost.",
			Request: UpdateArticleRequest{}, Response: ArticleResponse{}, Status: 200, ETag: true, Handler: h.updateArticle},
		{Method: "GET", Path: apiBase + "/articles/:id/revisions", Tag: tag, Resource: "article", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary:     "An article's revisions, newest first: who and when",
			Description: "Without bodies; GET /articles/{id}/revisions/{number} has one with its body, /articles/{id}/revisions/diff compares two.",
			Response:    RevisionResponse{}, List: true, Status: 200, Handler: h.listRevisions},
		{Method: "GET", Path: apiBase + "/articles/:id/revisions/diff", Tag: tag, Resource: "article", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary: "A readable diff between two revisions",
			Query: []*Parameter{queryParam("from", "integer", false, "the older revision number; default the one before to."),
				queryParam("to", "integer", false, "the newer revision number; default the current one.")},
			Response: DiffResponse{}, Status: 200, Handler: h.diffRevisions},
		{Method: "GET", Path: apiBase + "/articles/:id/revisions/:number", Tag: tag, Resource: "article revision", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary:  "One revision with its body",
			Response: RevisionResponse{}, Status: 200, Handler: h.getRevision},
		{Method: "GET", Path: apiBase + "/articles/:id/transitions", Tag: tag, Resource: "article", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary:     "The workflow events the caller may fire now, and the article's workflow history",
			Description: "draft -> in_review (submit) -> published (approve) -> archived (archive); reject sends a revision in review back to draft with a comment, restore brings an archived article back to draft.",
			Response:    ArticleTransitionsResponse{}, Status: 200, ETag: true, Handler: h.listArticleTransitions},
		{Method: "POST", Path: apiBase + "/articles/:id/transitions", Tag: tag, Resource: "article", Perm: accounts.PermArticlesWrite, NeedsKnowledge: true,
			Summary: "Fire a workflow event on an article",
			Description: "Only knowledge editors and admins approve, reject, archive and restore; the author of the revision in review may not approve it (403). " +
				"Approving publishes the reviewed revision. 409 with allowed for an event not allowed now, 422 for a missing comment (reject). Answers the article.",
			Request: ArticleTransitionRequest{}, Response: ArticleResponse{}, Status: 200, ETag: true, IfMatch: true, Handler: h.fireArticleTransition},
		{Method: "POST", Path: apiBase + "/articles/:id/feedback", Tag: tag, Resource: "article", Perm: accounts.PermArticlesRead, NeedsKnowledge: true,
			Summary:     "Say whether an article helped",
			Description: "Agents on any article, requesters on public published ones. One vote per person and article: 201 for the first, 200 when it replaces an earlier one.",
			Request:     FeedbackRequest{}, Response: FeedbackResponse{}, Status: 201, Idempotent: true, Handler: h.addFeedback},
		{Method: "GET", Path: apiBase + "/articles/:id/feedback", Tag: tag, Resource: "article", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary:  "The votes on an article, newest first",
			Response: FeedbackResponse{}, List: true, Status: 200, Handler: h.listFeedback},
		{Method: "POST", Path: apiBase + "/articles/:id/flag", Tag: tag, Resource: "article", Perm: accounts.PermArticlesWrite, NeedsKnowledge: true,
			Summary:     "Flag an article outdated",
			Description: "KCS \"flag it or fix it\": the flag stays open, and the article marked outdated, until a new revision is published.",
			Request:     FlagRequest{}, Response: FlagResponse{}, Status: 201, Idempotent: true, Handler: h.flagArticle},
		{Method: "GET", Path: apiBase + "/articles/:id/flags", Tag: tag, Resource: "article", Perm: accounts.PermArticlesReadDrafts, NeedsKnowledge: true,
			Summary:  "An article's outdated flags, newest first",
			Query:    []*Parameter{queryParam("all", "boolean", false, "true: resolved flags too; default only open ones.")},
			Response: FlagResponse{}, List: true, Status: 200, Handler: h.listFlags},

		{Method: "GET", Path: apiBase + "/tickets/:id/articles", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead, NeedsKnowledge: true,
			Summary:     "A ticket's knowledge links, oldest first",
			Description: "Requesters see links to the public published articles only.",
			Response:    LinkedArticleResponse{}, List: true, Status: 200, Handler: h.listTicketArticles},
		{Method: "POST", Path: apiBase + "/tickets/:id/articles", Tag: "tickets", Resource: "ticket", NeedsKnowledge: true,
			Summary: "Link an article to a ticket",
			Description: "Needs tickets:write or articles:write (requesters cannot link). The article must exist and not be archived. " +
				"solved_by and referenced count as a reuse of the article. 201 with the new link, 200 when it already existed. The ticket history records it. " +
				"Resolving with fields.article_id does the same in the resolve transaction.",
			Request: LinkRequest{}, Response: LinkedArticleResponse{}, Status: 201, Idempotent: true, Handler: h.linkArticle},
		{Method: "DELETE", Path: apiBase + "/tickets/:id/articles", Tag: "tickets", Resource: "ticket", NeedsKnowledge: true,
			Summary:     "Remove a knowledge link",
			Description: "The body names the article and the kind (absent: every kind). A link that is not there is a 422.",
			Request:     LinkRequest{}, Status: 204, Handler: h.unlinkArticle},
		{Method: "GET", Path: apiBase + "/tickets/:id/suggested-articles", Tag: "tickets", Resource: "ticket", Perm: accounts.PermArticlesRead, NeedsKnowledge: true,
			Summary: "Published articles ranked for a ticket",
			Description: "Ranked by a model of the articles' text and of the tickets already linked to them, over the ticket's subject, description and public replies. " +
				"Requesters get public articles only. The model follows changes to the knowledge base within seconds.",
			Query:    []*Parameter{queryParam("limit", "integer", false, "at most this many; 1 to 50, default 5.")},
			Response: SuggestionResponse{}, List: true, Status: 200, Handler: h.suggestArticles},

		{Method: "GET", Path: apiBase + "/reports/knowledge", Tag: "reports", Perm: accounts.PermReportsRead, NeedsKnowledge: true,
			Summary: "KCS metrics of the tickets resolved in a period",
			Description: "Link rate overall, per agent and per department; reuse rate; new vs known; the most reused articles, " +
				"published articles never reused, and feedback scores. Every figure is defined in the schema. Dates are UTC; a bad date is a 400.",
			Query: knowledgeReportQuery(), Response: KnowledgeReportResponse{}, Status: 200, Handler: h.knowledgeReport},
	}
}

func articleListQuery() []*Parameter {
	return []*Parameter{
		queryParam("status", "string", true, "workflow states of the working copy, e.g. draft, in_review, published, archived (readers: only published matches)."),
		queryParam("category", "string", false, "the category, exactly."),
		queryParam("language", "string", false, "zh or en.", knowledge.LanguageZh, knowledge.LanguageEn),
		queryParam("audience", "string", false, "internal or public.", knowledge.AudienceInternal, knowledge.AudiencePublic),
		queryParam("q", "string", false, "full text, Chinese, English or mixed; results are ranked and carry snippets."),
	}
}

// articleRes is the versioned-resource view of articles for the caller.
func (h *handlers) articleRes(c *gin.Context, view string) resource[knowledge.Article] {
	u, _ := CurrentUser(c)
	return resource[knowledge.Article]{path: "articles",
		get: func(ctx context.Context, id int64) (knowledge.Article, error) {
			return h.d.Knowledge.Get(ctx, u, id, view)
		},
		id: func(a knowledge.Article) int64 { return a.ID }, version: func(a knowledge.Article) int { return a.Version },
		render: func(a knowledge.Article) any { return articleResponse(a) }}
}

func (h *handlers) listArticles(c *gin.Context) {
	q := c.Request.URL.Query()
	var fe []FieldError
	one := func(name string) string {
		vs := q[name]
		switch {
		case len(vs) > 1:
			fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf("give it once, not %d times", len(vs))})
			return ""
		case len(vs) == 0:
			return ""
		}
		return strings.TrimSpace(vs[0])
	}
	var f knowledge.Filter
	for _, raw := range q["status"] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !stateNamePattern.MatchString(s) {
				fe = append(fe, FieldError{Field: "status", Message: fmt.Sprintf("%q is not a state name (lower case letters, digits, underscores)", clip(s))})
				continue
			}
			f.Status = append(f.Status, s)
		}
	}
	if len(f.Status) > maxFilterValues {
		fe = append(fe, FieldError{Field: "status", Message: fmt.Sprintf("at most %d values", maxFilterValues)})
	}
	f.Category = one("category")
	if !utf8.ValidString(f.Category) || utf8.RuneCountInString(f.Category) > knowledge.MaxCategory {
		fe = append(fe, FieldError{Field: "category", Message: fmt.Sprintf("must be text of at most %d characters", knowledge.MaxCategory)})
	}
	f.Language = one("language")
	f.Audience = one("audience")
	for _, p := range []struct{ name, v, enum string }{{"language", f.Language, languageEnum}, {"audience", f.Audience, audienceEnum}} {
		if p.v != "" && !strings.Contains(","+p.enum+",", ","+p.v+",") {
			fe = append(fe, FieldError{Field: p.name, Message: fmt.Sprintf("%q is not one of: %s", clip(p.v), strings.ReplaceAll(p.enum, ",", ", "))})
		}
	}
	// Any q is searched; words past what the index can use are ignored.
	f.Q = strings.ToValidUTF8(one("q"), " ")
	limit := DefaultLimit
	if raw, ok := c.GetQuery("limit"); ok {
		n, lfe := parseLimit(raw)
		if lfe != nil {
			fe = append(fe, *lfe)
		}
		limit = n
	}
	cursor := one("cursor")
	if len(fe) > 0 {
		WriteProblem(c, http.StatusBadRequest, "the query is invalid; see errors", fe...)
		return
	}
	u, _ := CurrentUser(c)
	pg, err := h.d.Knowledge.List(c.Request.Context(), u, f, cursor, limit)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve}
	}
	if err != nil {
		Error(c, err)
		return
	}
	out := List[ArticleListItem]{Items: make([]ArticleListItem, 0, len(pg.Items)), NextCursor: pg.NextCursor}
	for _, it := range pg.Items {
		out.Items = append(out.Items, articleListItem(it, strings.TrimSpace(f.Q) != ""))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createArticle(c *gin.Context) {
	u, _ := CurrentUser(c)
	a, err := h.d.Knowledge.Create(c.Request.Context(), u, bodyOf[CreateArticleRequest](c).input())
	h.articleRes(c, "").created(c, a, err)
}

func (h *handlers) getArticle(c *gin.Context) {
	view := c.Query("view")
	if view != "" && view != knowledge.ViewWorking && view != knowledge.ViewPublished {
		WriteProblem(c, http.StatusBadRequest, "view must be working or published",
			FieldError{Field: "view", Message: fmt.Sprintf("%q is not one of: working, published", clip(view))})
		return
	}
	h.articleRes(c, view).handleGet(c)
}

func (h *handlers) updateArticle(c *gin.Context) {
	u, _ := CurrentUser(c)
	h.articleRes(c, "").update(c, func(ctx context.Context, id int64, version int) (knowledge.Article, error) {
		return h.d.Knowledge.Update(ctx, u, id, version, bodyOf[UpdateArticleRequest](c).patch())
	})
}

func (h *handlers) listRevisions(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	revs, err := h.d.Knowledge.Revisions(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[RevisionResponse]{Items: make([]RevisionResponse, 0, len(revs))}
	for _, r := range revs {
		out.Items = append(out.Items, revisionResponse(r))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) getRevision(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	n, ok := pathID(c, "number")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	if n > 1<<30 {
		Error(c, accounts.ErrNotFound)
		return
	}
	r, err := h.d.Knowledge.GetRevision(c.Request.Context(), u, id, int(n))
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, revisionResponse(r))
}

func (h *handlers) diffRevisions(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var fe []FieldError
	num := func(name string) int {
		raw := c.Query(name)
		if raw == "" {
			return 0
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 1<<30 {
			fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf("must be a revision number (a positive whole number), not %q", clip(raw))})
			return 0
		}
		return n
	}
	from, to := num("from"), num("to")
	if len(fe) > 0 {
		WriteProblem(c, http.StatusBadRequest, "the query is invalid; see errors", fe...)
		return
	}
	u, _ := CurrentUser(c)
	d, err := h.d.Knowledge.Compare(c.Request.Context(), u, id, from, to)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve}
	}
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, diffResponse(d))
}

func (h *handlers) listArticleTransitions(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	opts, a, hist, err := h.d.Knowledge.Transitions(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := ArticleTransitionsResponse{State: a.Status, StatusCategory: a.StatusCategory, Version: a.Version, Revision: a.CurrentRevision,
		Items: make([]TransitionOption, 0, len(opts)), History: make([]ArticleTransitionRecord, 0, len(hist))}
	for _, o := range opts {
		out.Items = append(out.Items, TransitionOption{Event: o.Event, Label: o.Label, To: o.To, RequireFields: nonNil(o.RequireFields)})
	}
	for _, r := range hist {
		out.History = append(out.History, ArticleTransitionRecord{ID: r.ID, Event: r.Event, From: r.From, To: r.To, Revision: r.Revision,
			ActorID: r.ActorID, Comment: r.Comment, At: r.At})
	}
	SetETag(c, a.Version)
	JSON(c, http.StatusOK, out)
}

func (h *handlers) fireArticleTransition(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[ArticleTransitionRequest](c)
	h.articleRes(c, "").update(c, func(ctx context.Context, id int64, version int) (knowledge.Article, error) {
		return h.d.Knowledge.Fire(ctx, u, id, version, knowledge.Transition{Event: req.Event, Comment: req.Comment, Fields: req.Fields})
	})
}

func (h *handlers) addFeedback(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	req := bodyOf[FeedbackRequest](c)
	fb, created, err := h.d.Knowledge.AddFeedback(c.Request.Context(), u, id, knowledge.NewFeedback{Helpful: req.Helpful, Comment: req.Comment, TicketID: req.TicketID})
	if err != nil {
		Error(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	JSON(c, status, feedbackResponse(fb))
}

func (h *handlers) listFeedback(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	fbs, err := h.d.Knowledge.FeedbackOf(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[FeedbackResponse]{Items: make([]FeedbackResponse, 0, len(fbs))}
	for _, f := range fbs {
		out.Items = append(out.Items, feedbackResponse(f))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) flagArticle(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	req := bodyOf[FlagRequest](c)
	f, err := h.d.Knowledge.FlagOutdated(c.Request.Context(), u, id, knowledge.NewFlag{Reason: req.Reason, TicketID: req.TicketID})
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusCreated, flagResponse(f))
}

func (h *handlers) listFlags(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	all := false
	switch raw := c.Query("all"); raw {
	case "", "false":
	case "true":
		all = true
	default:
		WriteProblem(c, http.StatusBadRequest, "all must be true or false", FieldError{Field: "all", Message: "must be true or false"})
		return
	}
	u, _ := CurrentUser(c)
	fs, err := h.d.Knowledge.Flags(c.Request.Context(), u, id, all)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[FlagResponse]{Items: make([]FlagResponse, 0, len(fs))}
	for _, f := range fs {
		out.Items = append(out.Items, flagResponse(f))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) listTicketArticles(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	links, err := h.d.Knowledge.TicketArticles(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[LinkedArticleResponse]{Items: make([]LinkedArticleResponse, 0, len(links))}
	for _, l := range links {
		out.Items = append(out.Items, linkedArticleResponse(l))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) linkArticle(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	req := bodyOf[LinkRequest](c)
	kind := req.Kind
	if kind == "" {
		kind = tickets.LinkSolvedBy
	}
	l, created, err := h.d.Knowledge.Link(c.Request.Context(), u, id, req.ArticleID, kind)
	if err != nil {
		Error(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	JSON(c, status, linkedArticleResponse(l))
}

func (h *handlers) unlinkArticle(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	req := bodyOf[LinkRequest](c)
	if err := h.d.Knowledge.Unlink(c.Request.Context(), u, id, req.ArticleID, req.Kind); err != nil {
		Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) suggestArticles(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	limit := 5
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 50 {
			WriteProblem(c, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to 50 (default 5); got %q", clip(raw)),
				FieldError{Field: "limit", Message: "must be 1..50"})
			return
		}
		limit = n
	}
	u, _ := CurrentUser(c)
	sugs, err := h.d.Knowledge.Suggest(c.Request.Context(), u, id, limit)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[SuggestionResponse]{Items: make([]SuggestionResponse, 0, len(sugs))}
	for _, s := range sugs {
		out.Items = append(out.Items, SuggestionResponse{ArticleID: s.ArticleID, Title: s.Title, Summary: s.Summary, Language: s.Language,
			Audience: s.Audience, Score: s.Score, Snippet: s.Snippet, SnippetHTML: snippetHTML(s.Snippet), ReuseCount: s.ReuseCount, Linked: s.Linked})
	}
	JSON(c, http.StatusOK, out)
}
