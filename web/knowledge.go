package web

// Knowledge base pages: the article list and search, the article form (new
// and edit), the article page with its workflow actions, revisions,
// feedback and flags, and the diff of two revisions. The knowledge service
// decides who sees what (requesters: public published articles only; an
// article they may not read is a 404 here, as it is there); these pages
// only offer what it allows. Changes follow the ticket pages' pattern: a
// CSRF-checked POST that redirects (303) on success, or re-renders the
// page with the input kept and a readable message on refusal.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/workflow"
)

const articlePageSize = 25

// articleCSP is the article page's Content-Security-Policy: the pages' own
// (see securityHeaders) plus images from https and data: URLs.
const articleCSP = "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

func (p *pages) mountKnowledge(g *gin.RouterGroup) {
	g.GET("/articles", p.requireSession, p.articleList)
	g.GET("/articles/new", p.requireSession, p.newArticleForm)
	g.POST("/articles", p.requireSession, p.requireCSRF, p.createArticle)
	g.GET("/articles/:id", p.requireSession, p.showArticle)
	g.GET("/articles/:id/edit", p.requireSession, p.editArticleForm)
	g.POST("/articles/:id/edit", p.requireSession, p.requireCSRF, p.updateArticle)
	g.POST("/articles/:id/transitions", p.requireSession, p.requireCSRF, p.fireArticle)
	g.POST("/articles/:id/feedback", p.requireSession, p.requireCSRF, p.articleFeedback)
	g.POST("/articles/:id/flags", p.requireSession, p.requireCSRF, p.flagArticle)
	g.GET("/articles/:id/diff", p.requireSession, p.articleDiff)
	if p.Tickets != nil {
		p.mountTicketArticles(g)
	}
}

// ---- shared helpers ------------------------------------------------------------

// snippetPart is a piece of a search snippet; Mark pieces matched the query.
type snippetPart struct {
	Text string
	Mark bool
}

// highlight splits a service snippet, whose matches are wrapped in « »,
// into parts the template marks up (and escapes).
func highlight(s string) []snippetPart {
	var out []snippetPart
	for s != "" {
		i := strings.Index(s, "«")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "»")
		if j < 0 {
			break
		}
		if i > 0 {
			out = append(out, snippetPart{Text: s[:i]})
		}
		if m := s[i+len("«") : i+j]; m != "" {
			out = append(out, snippetPart{Text: m, Mark: true})
		}
		s = s[i+j+len("»"):]
	}
	if s != "" {
		out = append(out, snippetPart{Text: s})
	}
	return out
}

func articleID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

var languageLabels = map[string]string{knowledge.LanguageZh: "中文", knowledge.LanguageEn: "English"}

var audienceLabels = map[string]string{
	knowledge.AudienceInternal: "Internal (staff only)",
	knowledge.AudiencePublic:   "Public (requesters too)",
}

func languageLabel(l string) string {
	if s := languageLabels[l]; s != "" {
		return s
	}
	return l
}

// articleDef is the article workflow at version (0: the latest), nil when
// it cannot be had (the labels fall back to the state names then).
func (p *pages) articleDef(n *names, version int) *workflow.Definition {
	if p.Tickets == nil {
		return nil
	}
	return n.workflowOf(p.Tickets, knowledge.Workflow, version)
}

func (p *pages) articleStateLabel(n *names, version int, state string) string {
	if st, ok := p.articleDef(n, version).State(state); ok && st.Label != "" {
		return st.Label
	}
	return humanize(state)
}

// articleStatus is the label and badge class of an article's state.
func (p *pages) articleStatus(n *names, a knowledge.Article) (label, class string) {
	return p.articleStateLabel(n, a.WorkflowVersion, a.Status), "st-" + string(a.StatusCategory)
}

func (p *pages) articleNotFound(c *gin.Context, u accounts.User) {
	v := view2(c, u, "Article not found", "articles", nil)
	v.Error = "There is no such article, or you may not see it. Check the link, or search the knowledge base."
	p.render(c, http.StatusNotFound, "error.html", v)
}

func (p *pages) articleServerError(c *gin.Context, u accounts.User, what string, err error) {
	p.Logger.ErrorContext(c.Request.Context(), what, "err", err)
	v := view2(c, u, "Error", "articles", nil)
	v.Error = "The page could not be loaded because of a server error. Please try again."
	p.render(c, http.StatusInternalServerError, "error.html", v)
}

// articleMessage turns a refusal from the knowledge service into a status
// and a message a person can act on; ok is false for bugs (500).
func articleMessage(err error) (status int, msg string, details []string, ok bool) {
	var se *knowledge.StateError
	var na *workflow.NotAllowedError
	var ge *workflow.GuardError
	var kf *knowledge.ForbiddenError
	switch {
	case errors.Is(err, accounts.ErrVersionConflict):
		return http.StatusConflict, "Someone else changed this article after you opened this page, so your change was not saved. Reload the page to see the latest version, then try again.", nil, true
	case errors.As(err, &se):
		return http.StatusConflict, sentence(se.Message), nil, true
	case errors.As(err, &na):
		msg = fmt.Sprintf("%q cannot be done while the article is %s.", humanize(na.Event), strings.ToLower(humanize(na.State)))
		if len(na.Allowed) > 0 {
			as := make([]string, len(na.Allowed))
			for i, a := range na.Allowed {
				as[i] = humanize(a)
			}
			msg += " Possible now: " + strings.Join(as, ", ") + "."
		}
		return http.StatusConflict, msg, nil, true
	case errors.As(err, &ge):
		if len(ge.Fields) > 0 && ge.Kind != workflow.GuardForbidden {
			labels := make([]string, len(ge.Fields))
			for i, f := range ge.Fields {
				labels[i] = fieldLabel(f)
			}
			return http.StatusUnprocessableEntity, fmt.Sprintf("To %s this article, fill in: %s.", strings.ToLower(humanize(ge.Event)), strings.Join(labels, ", ")), nil, true
		}
		status = http.StatusConflict
		if ge.Kind == workflow.GuardForbidden {
			status = http.StatusForbidden
		}
		return status, sentence(ge.Message), nil, true
	case errors.As(err, &kf):
		return http.StatusForbidden, "You are not allowed to do this: " + sentence(kf.Message), nil, true
	}
	return domainMessage(err)
}

// ---- list and search --------------------------------------------------------------

type articleItem struct {
	ID                                  int64
	Title, Summary, Status, StatusClass string
	Language, Audience, Category        string
	Tags                                []string
	Snippet                             []snippetPart
	Updated, UpdatedISO                 string
	ReuseCount, Helpful                 int
	// LiveRevision: staff see a working copy whose published revision is
	// still what readers get.
	LiveRevision, Outdated, Internal bool
}

type articlesPage struct {
	Q                                          string
	Statuses, Languages, Audiences, Categories []option
	Staff, CanWrite                            bool
	Rows                                       []articleItem
	NextURL, FirstURL, Problem                 string
	Filtered                                   bool
}

func (p *pages) articleList(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !u.Can(accounts.PermArticlesRead) {
		p.forbiddenPage(c, u, "Your roles do not include reading knowledge articles.")
		return
	}
	n := newNames(ctx, p.Accounts, p.Logger)
	in := c.Request.URL.Query()
	staff := u.Can(accounts.PermArticlesReadDrafts)
	ap := articlesPage{Staff: staff, CanWrite: u.Can(accounts.PermArticlesWrite), Q: strings.TrimSpace(in.Get("q"))}

	f := knowledge.Filter{Q: strings.ToValidUTF8(ap.Q, " ")}
	status := in.Get("status")
	if staff {
		states := []string{"", "Any status"}
		for _, st := range p.articleStates(ctx) {
			states = append(states, st.Name, st.Label)
		}
		if !validChoice(status, states) {
			status = ""
		}
		if status != "" {
			f.Status = []string{status}
		}
		ap.Statuses = options(status, states...)
		aud := in.Get("audience")
		if !slices.Contains(knowledge.Audiences, aud) {
			aud = ""
		}
		f.Audience = aud
		ap.Audiences = options(aud, "", "Any audience", knowledge.AudienceInternal, "Internal", knowledge.AudiencePublic, "Public")
	}
	lang := in.Get("language")
	if !slices.Contains(knowledge.Languages, lang) {
		lang = ""
	}
	f.Language = lang
	ap.Languages = options(lang, "", "Any language", knowledge.LanguageZh, "中文", knowledge.LanguageEn, "English")
	cat := strings.TrimSpace(in.Get("category"))
	f.Category = cat
	cats, err := p.Knowledge.Categories(ctx, u)
	if err != nil {
		p.Logger.WarnContext(ctx, "list article categories", "err", err)
	}
	ap.Categories = []option{{Value: "", Label: "Any category", Selected: cat == ""}}
	if cat != "" && !slices.Contains(cats, cat) {
		cats = append([]string{cat}, cats...)
	}
	for _, cg := range cats {
		ap.Categories = append(ap.Categories, option{Value: cg, Label: cg, Selected: cg == cat})
	}
	ap.Filtered = f.Q != "" || status != "" || f.Audience != "" || lang != "" || cat != ""

	cursor := in.Get("cursor")
	code := http.StatusOK
	page, err := p.Knowledge.List(ctx, u, f, cursor, articlePageSize)
	var ve *accounts.ValidationError
	switch {
	case errors.As(err, &ve):
		code = http.StatusBadRequest
		ap.Problem = "This list cannot be shown: " + fieldSummary(ve) + ". Start again from the first page."
	case err != nil:
		p.Logger.ErrorContext(ctx, "list articles", "err", err)
		code = http.StatusInternalServerError
		ap.Problem = "The articles could not be loaded because of a server error. Please try again."
	}
	for _, h := range page.Items {
		label, class := p.articleStatus(n, h.Article)
		it := articleItem{ID: h.ID, Title: h.Title, Summary: h.Summary, Status: label, StatusClass: class,
			Language: languageLabel(h.Language), Audience: h.Audience, Category: h.Category, Tags: h.Tags,
			Updated: clock(h.UpdatedAt), UpdatedISO: isoTime(h.UpdatedAt),
			ReuseCount: h.ReuseCount, Helpful: h.HelpfulCount,
			Internal: h.Audience == knowledge.AudienceInternal,
		}
		if staff {
			it.LiveRevision = h.PublishedRevision != nil && h.StatusCategory != workflow.CategoryResolved
			it.Outdated = h.Outdated != nil
		}
		if ap.Q != "" {
			it.Snippet = highlight(h.Snippet)
		}
		ap.Rows = append(ap.Rows, it)
	}
	base := url.Values{}
	for k, v := range map[string]string{"q": ap.Q, "status": status, "language": lang, "category": cat, "audience": f.Audience} {
		if v != "" {
			base.Set(k, v)
		}
	}
	if page.NextCursor != "" {
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("cursor", page.NextCursor)
		ap.NextURL = "/articles?" + next.Encode()
	}
	if cursor != "" {
		ap.FirstURL = "/articles"
		if len(base) > 0 {
			ap.FirstURL += "?" + base.Encode()
		}
	}
	title := "Knowledge base"
	if ap.Q != "" {
		title = ap.Q + " · Knowledge base"
	}
	p.render(c, code, "articles.html", view2(c, u, title, "articles", ap))
}

// articleStates lists the states of the latest article workflow, for the
// status filter.
func (p *pages) articleStates(ctx context.Context) []workflow.State {
	if p.Tickets != nil {
		d, err := p.Tickets.GetWorkflow(ctx, knowledge.Workflow, 0)
		if err == nil && d != nil {
			out := make([]workflow.State, 0, len(d.States))
			for _, st := range d.States {
				if st.Label == "" {
					st.Label = humanize(st.Name)
				}
				out = append(out, st)
			}
			return out
		}
		p.Logger.WarnContext(ctx, "load article workflow", "err", err)
	}
	return []workflow.State{{Name: "draft", Label: "Draft"}, {Name: "in_review", Label: "In review"},
		{Name: "published", Label: "Published"}, {Name: "archived", Label: "Archived"}}
}

// ---- the form -------------------------------------------------------------------

type articleFormPage struct {
	ID                                   int64 // 0: a new article
	Title, Summary, Body, Category, Tags string
	Note                                 string
	Version, BaseRevision                int
	Languages, Audiences                 []option
	Errors                               map[string]string
	Other                                []string
	Problem, Notice                      string
	Conflict                             bool
	ConflictDiffURL                      string
	Status, StatusClass                  string
	EditsPublished                       bool
}

var articleFormFields = []string{"title", "summary", "body", "category", "tags", "language", "audience", "note"}

func (p *pages) articleForm(id int64, vals url.Values, isNew bool) *articleFormPage {
	lang := vals.Get("language")
	langs := []string{knowledge.LanguageZh, "中文", knowledge.LanguageEn, "English"}
	if isNew {
		langs = append([]string{"", "Detect from the text"}, langs...)
	}
	aud := vals.Get("audience")
	if aud == "" {
		aud = knowledge.AudienceInternal
	}
	return &articleFormPage{
		ID: id, Title: vals.Get("title"), Summary: vals.Get("summary"), Body: vals.Get("body"),
		Category: vals.Get("category"), Tags: vals.Get("tags"), Note: vals.Get("note"),
		Languages: options(lang, langs...),
		Audiences: options(aud, knowledge.AudienceInternal, audienceLabels[knowledge.AudienceInternal],
			knowledge.AudiencePublic, audienceLabels[knowledge.AudiencePublic]),
		Errors: map[string]string{},
	}
}

// articleValues are an article's fields as the form carries them.
func articleValues(a knowledge.Article) url.Values {
	return url.Values{"title": {a.Title}, "summary": {a.Summary}, "body": {a.Body}, "category": {a.Category},
		"tags": {strings.Join(a.Tags, ", ")}, "language": {a.Language}, "audience": {a.Audience}}
}

// formBody normalises a textarea: browsers send CRLF line ends.
func formBody(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// formErrors puts the service's validation errors next to the fields.
func (fp *articleFormPage) formErrors(ve *accounts.ValidationError) {
	for _, f := range ve.Fields {
		name := baseField(f.Field)
		if !slices.Contains(articleFormFields, name) {
			fp.Other = append(fp.Other, fieldMessage(fieldLabel(name), f.Message))
			continue
		}
		msg := fieldMessage(name, f.Message)
		if prev := fp.Errors[name]; prev != "" {
			msg = prev + "; " + msg
		}
		fp.Errors[name] = msg
	}
}

func (p *pages) newArticleForm(c *gin.Context) {
	u := sessionUser(c)
	if !u.Can(accounts.PermArticlesWrite) {
		p.forbiddenPage(c, u, "Your roles do not include writing knowledge articles.")
		return
	}
	fp := p.articleForm(0, url.Values{}, true)
	p.render(c, http.StatusOK, "article_form.html", view2(c, u, "New article", "articles", fp))
}

func (p *pages) createArticle(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !u.Can(accounts.PermArticlesWrite) {
		p.forbiddenPage(c, u, "Your roles do not include writing knowledge articles.")
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		p.forbiddenPage(c, u, "The form could not be read.")
		return
	}
	form := c.Request.PostForm
	form.Set("body", formBody(form.Get("body")))
	in := knowledge.NewArticle{
		Title: form.Get("title"), Summary: form.Get("summary"), Body: form.Get("body"),
		Category: form.Get("category"), Tags: splitTags(form.Get("tags")),
		Language: form.Get("language"), Audience: form.Get("audience"), Note: strings.TrimSpace(form.Get("note")),
	}
	a, err := p.Knowledge.Create(ctx, u, in)
	if err == nil {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d?done=created", a.ID))
		return
	}
	fp := p.articleForm(0, form, true)
	status := http.StatusUnprocessableEntity
	var ve *accounts.ValidationError
	if errors.As(err, &ve) {
		fp.formErrors(ve)
	} else {
		var ok bool
		var msg string
		status, msg, _, ok = articleMessage(err)
		if !ok {
			p.Logger.ErrorContext(ctx, "create article", "err", err)
			msg = "The article could not be saved because of a server error. Your text is still below; please try again."
		}
		fp.Problem = msg
	}
	p.render(c, status, "article_form.html", view2(c, u, "New article", "articles", fp))
}

func (p *pages) editArticleForm(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	if !u.Can(accounts.PermArticlesWrite) {
		p.forbiddenPage(c, u, "Your roles do not include writing knowledge articles.")
		return
	}
	a, err := p.Knowledge.Get(ctx, u, id, knowledge.ViewWorking)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		p.articleNotFound(c, u)
		return
	case err != nil:
		p.articleServerError(c, u, "load article for edit", err)
		return
	}
	fp := p.articleForm(a.ID, articleValues(a), false)
	p.fillEditForm(fp, newNames(ctx, p.Accounts, p.Logger), a)
	fp.Version, fp.BaseRevision = a.Version, a.CurrentRevision
	fp.Notice = articleNotices[c.Query("done")]
	if a.StatusCategory == workflow.CategoryClosed {
		fp.Problem = "This article is archived and read-only. An editor can restore it to a draft from the article page; then it can be edited."
	}
	p.render(c, http.StatusOK, "article_form.html", view2(c, u, "Edit: "+a.Title, "articles", fp))
}

func (p *pages) fillEditForm(fp *articleFormPage, n *names, a knowledge.Article) {
	fp.Status, fp.StatusClass = p.articleStatus(n, a)
	fp.EditsPublished = a.StatusCategory == workflow.CategoryResolved
}

func (p *pages) updateArticle(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	if !u.Can(accounts.PermArticlesWrite) {
		p.forbiddenPage(c, u, "Your roles do not include writing knowledge articles.")
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		p.forbiddenPage(c, u, "The form could not be read.")
		return
	}
	form := c.Request.PostForm
	form.Set("body", formBody(form.Get("body")))
	version, vok := formVersion(c)
	base, _ := strconv.Atoi(form.Get("base_revision"))
	title, summary, body, category := form.Get("title"), form.Get("summary"), form.Get("body"), form.Get("category")
	tags := splitTags(form.Get("tags"))
	if tags == nil {
		tags = []string{}
	}
	lang, aud := form.Get("language"), form.Get("audience")
	patch := knowledge.Patch{Title: &title, Summary: &summary, Body: &body, Category: &category, Tags: &tags,
		Language: &lang, Audience: &aud, Note: strings.TrimSpace(form.Get("note"))}
	var a knowledge.Article
	var err error = errNoArticleVersion
	if vok {
		a, err = p.Knowledge.Update(ctx, u, id, version, patch)
	}
	if err == nil {
		done := "saved"
		if a.Version == version {
			done = "unchanged"
		}
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d?done=%s", id, done))
		return
	}
	// Refused: the form again with what was typed, against the latest article.
	cur, gerr := p.Knowledge.Get(ctx, u, id, knowledge.ViewWorking)
	if errors.Is(gerr, accounts.ErrNotFound) {
		p.articleNotFound(c, u)
		return
	}
	if gerr != nil {
		p.articleServerError(c, u, "reload article after a refused edit", gerr)
		return
	}
	fp := p.articleForm(id, form, false)
	p.fillEditForm(fp, newNames(ctx, p.Accounts, p.Logger), cur)
	fp.Version, fp.BaseRevision = version, base
	status := http.StatusUnprocessableEntity
	var ve *accounts.ValidationError
	switch {
	case errors.Is(err, accounts.ErrVersionConflict):
		// Keep every word typed; the form now carries the latest version,
		// so saving again (after a look at their change) replaces it.
		status = http.StatusConflict
		fp.Conflict = true
		fp.Version, fp.BaseRevision = cur.Version, cur.CurrentRevision
		if base > 0 && base < cur.CurrentRevision {
			fp.ConflictDiffURL = fmt.Sprintf("/articles/%d/diff?from=%d&to=%d", id, base, cur.CurrentRevision)
		}
	case errors.As(err, &ve):
		fp.formErrors(ve)
	default:
		var ok bool
		var msg string
		status, msg, _, ok = articleMessage(err)
		if !ok {
			p.Logger.ErrorContext(ctx, "update article", "article_id", id, "err", err)
			msg = "The article could not be saved because of a server error. Your text is still below; please try again."
		}
		fp.Problem = msg
	}
	p.render(c, status, "article_form.html", view2(c, u, "Edit: "+cur.Title, "articles", fp))
}

var errNoArticleVersion = &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "version", Message: "the form lacks the article version; reload the page and try again"}}}

// ---- the article page ---------------------------------------------------------------

type articleAction struct {
	Event, Label, To string
	Fields           []fieldInput
	Danger           bool
}

type revisionView struct {
	Number                  int
	Author, When, ISO, Note string
	Current, Published      bool
	DiffURL                 string
	TitleChanged            bool
	Title                   string
}

type articleHistoryView struct {
	Who, When, ISO, What, Comment string
	Revision                      int
}

type flagView struct {
	Who, When, ISO, Reason string
	TicketID               int64
}

type feedbackView struct {
	Who, When, ISO, Comment string
	Helpful                 bool
}

type articlePage struct {
	A                                  knowledge.Article
	Body                               template.HTML
	Status, StatusClass, Owner, Author string
	Language, Audience                 string
	Updated, UpdatedISO                string
	Published, PublishedISO            string
	Staff, CanEdit, CanFlag            bool
	Internal                           bool
	// Working copy vs published revision (staff).
	ViewingPublished                      bool
	LiveRevision                          int // the published revision's number, 0 when none
	WorkingURL, PublishedURL, LiveDiffURL string
	SentBack, SentBackBy                  string
	Outdated                              string
	Actions                               []articleAction
	Revisions                             []revisionView
	History                               []articleHistoryView
	Flags                                 []flagView
	Feedback                              []feedbackView
	FeedbackComment, FlagReason           string
	Notice, Flash                         string
	FlashDetails                          []string
	Conflict                              bool
	FeedbackError, FlagError              string
}

// articleFormState is what a refused form of the article page carried,
// so the page shows it again.
type articleFormState struct {
	Event           string
	Fields          map[string]string
	FeedbackComment string
	FlagReason      string
}

var articleNotices = map[string]string{
	"created":   "Article saved as a draft. Submit it for review when it is ready.",
	"drafted":   "Draft created from the ticket and linked to it. Check the text, then save and submit it for review.",
	"saved":     "Changes saved as a new revision.",
	"unchanged": "Nothing changed, so no new revision was made.",
	"event":     "Article updated.",
	"feedback":  "Thanks for your feedback.",
	"flagged":   "Flagged as outdated. The flag stays until a new revision is published.",
}

func (p *pages) showArticle(c *gin.Context) {
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	notice := articleNotices[c.Query("done")]
	p.renderArticle(c, u, id, http.StatusOK, func(ap *articlePage) { ap.Notice = notice }, articleFormState{})
}

func (p *pages) renderArticle(c *gin.Context, u accounts.User, id int64, status int, decorate func(*articlePage), fs articleFormState) {
	ctx := c.Request.Context()
	if !u.Can(accounts.PermArticlesRead) {
		p.forbiddenPage(c, u, "Your roles do not include reading knowledge articles.")
		return
	}
	view := c.Query("view")
	if view != knowledge.ViewPublished {
		view = ""
	}
	ap, err := p.loadArticlePage(ctx, u, id, view, fs)
	if errors.Is(err, accounts.ErrNotFound) {
		p.articleNotFound(c, u)
		return
	}
	if err != nil {
		p.articleServerError(c, u, "load article page", err)
		return
	}
	if decorate != nil {
		decorate(ap)
	}
	// Article bodies may show images (the renderer allows https and data:
	// image sources); everything else stays as strict as on other pages.
	c.Header("Content-Security-Policy", articleCSP)
	p.render(c, status, "article.html", view2(c, u, ap.A.Title, "articles", ap))
}

func (p *pages) loadArticlePage(ctx context.Context, u accounts.User, id int64, view string, fs articleFormState) (*articlePage, error) {
	n := newNames(ctx, p.Accounts, p.Logger)
	staff := u.Can(accounts.PermArticlesReadDrafts)
	a, err := p.Knowledge.Get(ctx, u, id, view)
	if err != nil {
		return nil, err
	}
	var opts []workflow.Option
	var hist []knowledge.TransitionRecord
	if staff {
		var w knowledge.Article
		opts, w, hist, err = p.Knowledge.Transitions(ctx, u, id)
		if err != nil {
			return nil, err
		}
		// The action forms carry the version they were offered for.
		a.Version = w.Version
	}
	ap := &articlePage{
		A: a, Body: template.HTML(knowledge.RenderHTML(a.Body)), // the service renders safe HTML
		Owner: n.user(a.OwnerID), Author: n.user(a.AuthorID),
		Language: languageLabel(a.Language), Audience: audienceLabels[a.Audience],
		Internal: a.Audience == knowledge.AudienceInternal,
		Updated:  clock(a.UpdatedAt), UpdatedISO: isoTime(a.UpdatedAt),
		Staff:           staff,
		CanEdit:         u.Can(accounts.PermArticlesWrite) && a.StatusCategory != workflow.CategoryClosed,
		CanFlag:         u.Can(accounts.PermArticlesWrite) && a.StatusCategory != workflow.CategoryClosed,
		FeedbackComment: fs.FeedbackComment,
		FlagReason:      fs.FlagReason,
	}
	ap.Status, ap.StatusClass = p.articleStatus(n, a)
	if a.PublishedAt != nil {
		ap.Published, ap.PublishedISO = clock(*a.PublishedAt), isoTime(*a.PublishedAt)
	}
	if a.PublishedRevision != nil {
		ap.LiveRevision = *a.PublishedRevision
	}
	if !staff {
		return ap, nil
	}

	ap.ViewingPublished = a.View == knowledge.ViewPublished
	if ap.LiveRevision > 0 && ap.LiveRevision != a.CurrentRevision {
		ap.WorkingURL = fmt.Sprintf("/articles/%d", id)
		ap.PublishedURL = fmt.Sprintf("/articles/%d?view=published", id)
		ap.LiveDiffURL = fmt.Sprintf("/articles/%d/diff?from=%d&to=%d", id, ap.LiveRevision, a.CurrentRevision)
	}
	if a.Outdated != nil {
		ap.Outdated = a.Outdated.Reason
	}
	if u.Can(accounts.PermArticlesWrite) {
		for _, o := range opts {
			act := articleAction{Event: o.Event, Label: o.Label, To: p.articleStateLabel(n, a.WorkflowVersion, o.To),
				Danger: o.Event == "archive"}
			if act.Label == "" {
				act.Label = humanize(o.Event)
			}
			for _, f := range o.RequireFields {
				in := fieldInput{Name: f, Label: fieldLabel(f), Multiline: multiline(f)}
				if f == "comment" {
					in.Label = "Comment for the author"
				}
				if fs.Event == o.Event {
					in.Value = fs.Fields[f]
				}
				act.Fields = append(act.Fields, in)
			}
			ap.Actions = append(ap.Actions, act)
		}
	}
	def := p.articleDef(n, a.WorkflowVersion)
	for _, h := range hist {
		hv := articleHistoryView{Who: n.userOr(h.ActorID, "System"), When: clock(h.At), ISO: isoTime(h.At), Comment: h.Comment, Revision: h.Revision}
		switch h.Event {
		case "create":
			hv.What = "Created"
		case knowledge.EventEdit:
			hv.What = "Edited the published article (new draft)"
		default:
			hv.What = humanize(h.Event)
			if ev, ok := def.Event(h.Event); ok && ev.Label != "" {
				hv.What = ev.Label
			}
		}
		if h.From != "" && h.To != "" && h.From != h.To {
			hv.What += fmt.Sprintf(" (%s → %s)", p.articleStateLabel(n, a.WorkflowVersion, h.From), p.articleStateLabel(n, a.WorkflowVersion, h.To))
		}
		ap.History = append(ap.History, hv)
	}
	// Sent back: the reviewer's comment stays in view until the next step.
	if len(hist) > 0 {
		last := hist[len(hist)-1]
		from, _ := def.State(last.From)
		to, _ := def.State(last.To)
		if last.To == a.Status && last.Comment != "" && from.Category == workflow.CategoryPending && to.Category == workflow.CategoryNew {
			ap.SentBack, ap.SentBackBy = last.Comment, n.userOr(last.ActorID, "an editor")
		}
	}

	revs, err := p.Knowledge.Revisions(ctx, u, id)
	if err != nil {
		return nil, err
	}
	for i, r := range revs {
		rv := revisionView{Number: r.Number, Author: n.user(r.AuthorID), When: clock(r.CreatedAt), ISO: isoTime(r.CreatedAt),
			Note: r.Note, Current: r.Current, Published: r.Published, Title: r.Title}
		if r.Number > 1 {
			rv.DiffURL = fmt.Sprintf("/articles/%d/diff?from=%d&to=%d", id, r.Number-1, r.Number)
		}
		if i+1 < len(revs) && revs[i+1].Title != r.Title {
			rv.TitleChanged = true
		}
		ap.Revisions = append(ap.Revisions, rv)
	}
	for _, f := range a.Flags {
		fv := flagView{Who: n.user(f.UserID), When: clock(f.CreatedAt), ISO: isoTime(f.CreatedAt), Reason: f.Reason}
		if f.TicketID != nil {
			fv.TicketID = *f.TicketID
		}
		ap.Flags = append(ap.Flags, fv)
	}
	fbs, err := p.Knowledge.FeedbackOf(ctx, u, id)
	if err != nil {
		return nil, err
	}
	for _, f := range fbs {
		if len(ap.Feedback) == 20 {
			break
		}
		ap.Feedback = append(ap.Feedback, feedbackView{Who: n.user(f.UserID), When: clock(f.UpdatedAt), ISO: isoTime(f.UpdatedAt),
			Comment: f.Comment, Helpful: f.Helpful})
	}
	return ap, nil
}

// refusedArticle re-renders the article page with the reason of a refusal.
func (p *pages) refusedArticle(c *gin.Context, u accounts.User, id int64, err error, fs articleFormState, where string) {
	status, msg, details, ok := articleMessage(err)
	if !ok {
		p.Logger.ErrorContext(c.Request.Context(), "article change", "article_id", id, "err", err)
	}
	var ve *accounts.ValidationError
	p.renderArticle(c, u, id, status, func(ap *articlePage) {
		switch {
		case where == "feedback" && errors.As(err, &ve):
			ap.FeedbackError = fieldSummary(ve)
		case where == "flag" && errors.As(err, &ve):
			ap.FlagError = fieldSummary(ve)
		default:
			ap.Flash, ap.FlashDetails = msg, details
			ap.Conflict = errors.Is(err, accounts.ErrVersionConflict)
		}
	}, fs)
}

func (p *pages) fireArticle(c *gin.Context) {
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	tr := knowledge.Transition{Event: c.PostForm("event"), Fields: map[string]string{}}
	for k, vs := range c.Request.PostForm {
		if name, ok := strings.CutPrefix(k, "f_"); ok && name != "" && len(vs) > 0 {
			tr.Fields[name] = strings.TrimSpace(formBody(vs[0]))
		}
	}
	tr.Comment = tr.Fields["comment"]
	delete(tr.Fields, "comment")
	fs := articleFormState{Event: tr.Event, Fields: map[string]string{"comment": tr.Comment}}
	for k, v := range tr.Fields {
		fs.Fields[k] = v
	}
	version, ok := formVersion(c)
	if !ok {
		p.refusedArticle(c, u, id, errNoArticleVersion, fs, "")
		return
	}
	if _, err := p.Knowledge.Fire(c.Request.Context(), u, id, version, tr); err != nil {
		p.refusedArticle(c, u, id, err, fs, "")
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d?done=event", id))
}

func (p *pages) articleFeedback(c *gin.Context) {
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	fs := articleFormState{FeedbackComment: formBody(c.PostForm("comment"))}
	var in knowledge.NewFeedback
	switch c.PostForm("helpful") {
	case "yes":
		in.Helpful = true
	case "no":
	default:
		p.refusedArticle(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "helpful", Message: "choose “Yes” or “No”"}}}, fs, "feedback")
		return
	}
	in.Comment = strings.TrimSpace(fs.FeedbackComment)
	if raw := c.PostForm("ticket_id"); raw != "" {
		if tid, err := strconv.ParseInt(raw, 10, 64); err == nil && tid > 0 {
			in.TicketID = &tid
		}
	}
	if _, _, err := p.Knowledge.AddFeedback(c.Request.Context(), u, id, in); err != nil {
		p.refusedArticle(c, u, id, err, fs, "feedback")
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d?done=feedback#feedback", id))
}

func (p *pages) flagArticle(c *gin.Context) {
	u := sessionUser(c)
	id, ok := articleID(c)
	if !ok {
		p.articleNotFound(c, u)
		return
	}
	fs := articleFormState{FlagReason: formBody(c.PostForm("reason"))}
	in := knowledge.NewFlag{Reason: strings.TrimSpace(fs.FlagReason)}
	if raw := c.PostForm("ticket_id"); raw != "" {
		if tid, err := strconv.ParseInt(raw, 10, 64); err == nil && tid > 0 {
			in.TicketID = &tid
		}
	}
	if _, err := p.Knowledge.FlagOutdated(c.Request.Context(), u, id, in); err != nil {
		p.refusedArticle(c, u, id, err, fs, "flag")
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d?done=flagged#flags", id))
}

// ---- diff ----------------------------------------------------------------------------

type diffLine struct {
	Class, Text string
}

type diffPage struct {
	A                knowledge.Article
	From, To         revisionView
	FromOpts, ToOpts []option
	Changes          []knowledge.FieldChange
	Lines            []diffLine
	Added, Removed   int
	Problem          string
	Same             bool
}

func (p *pages) articleDiff(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	id, ok := articleID(c)
	// Revisions are for staff; to anyone else they do not exist.
	if !ok || !u.Can(accounts.PermArticlesReadDrafts) {
		p.articleNotFound(c, u)
		return
	}
	a, err := p.Knowledge.Get(ctx, u, id, knowledge.ViewWorking)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		p.articleNotFound(c, u)
		return
	case err != nil:
		p.articleServerError(c, u, "load article for diff", err)
		return
	}
	dp := &diffPage{A: a}
	status := http.StatusOK
	num := func(name string) int {
		raw := c.Query(name)
		n, err := strconv.Atoi(raw)
		if raw != "" && (err != nil || n < 1 || n > 1<<30) {
			dp.Problem = fmt.Sprintf("“%s” must be a revision number.", name)
			return 0
		}
		return n
	}
	from, to := num("from"), num("to")
	var d knowledge.Diff
	if dp.Problem == "" {
		d, err = p.Knowledge.Compare(ctx, u, id, from, to)
		var ve *accounts.ValidationError
		switch {
		case errors.As(err, &ve):
			dp.Problem = "These revisions cannot be compared: " + fieldSummary(ve) + "."
		case errors.Is(err, accounts.ErrNotFound):
			p.articleNotFound(c, u)
			return
		case err != nil:
			p.articleServerError(c, u, "compare revisions", err)
			return
		}
	}
	if dp.Problem != "" {
		status = http.StatusBadRequest
	}
	n := newNames(ctx, p.Accounts, p.Logger)
	rv := func(r knowledge.Revision) revisionView {
		return revisionView{Number: r.Number, Author: n.user(r.AuthorID), When: clock(r.CreatedAt), ISO: isoTime(r.CreatedAt),
			Note: r.Note, Current: r.Current, Published: r.Published, Title: r.Title}
	}
	if d.From.Number > 0 {
		dp.From, dp.To = rv(d.From), rv(d.To)
	}
	for i := a.CurrentRevision; i >= 1; i-- {
		label := fmt.Sprintf("Revision %d", i)
		if i == a.CurrentRevision {
			label += " (working copy)"
		}
		if a.PublishedRevision != nil && *a.PublishedRevision == i {
			label += " (published)"
		}
		v := strconv.Itoa(i)
		dp.FromOpts = append(dp.FromOpts, option{Value: v, Label: label, Selected: i == d.From.Number})
		dp.ToOpts = append(dp.ToOpts, option{Value: v, Label: label, Selected: i == d.To.Number})
	}
	for _, ch := range d.Changes {
		dp.Changes = append(dp.Changes, knowledge.FieldChange{Field: humanize(ch.Field), From: ch.From, To: ch.To})
	}
	dp.Added, dp.Removed = d.Added, d.Removed
	dp.Same = dp.Problem == "" && d.Unified == "" && len(d.Changes) == 0
	for _, line := range strings.Split(strings.TrimSuffix(d.Unified, "\n"), "\n") {
		if line == "" && d.Unified == "" {
			break
		}
		cls := "ctx"
		switch {
		case strings.HasPrefix(line, "+++ "), strings.HasPrefix(line, "--- "):
			cls = "file"
		case strings.HasPrefix(line, "@@"):
			cls = "hunk"
		case strings.HasPrefix(line, "+"):
			cls = "add"
		case strings.HasPrefix(line, "-"):
			cls = "del"
		}
		dp.Lines = append(dp.Lines, diffLine{Class: cls, Text: line})
	}
	p.render(c, status, "article_diff.html", view2(c, u, "Changes: "+a.Title, "articles", dp))
}
