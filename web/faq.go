package web

// FAQ review pages for knowledge editors (faq:review): the proposals the
// miner found, largest impact first, a "Mine now" button, and a proposal's
// page with its draft, member tickets and the editor's decisions (edit,
// approve, reject, merge, attach). The knowledge service decides; these
// pages follow the article pages' pattern: a CSRF-checked POST redirects
// (303) on success or re-renders the page with the input kept and a
// readable message on refusal. Without faq:review the pages answer 403,
// like the article form does for those who may not write.

import (
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
)

const faqPageSize = 50

const faqForbidden = "Your roles do not include reviewing FAQ proposals."

func (p *pages) mountFAQ(g *gin.RouterGroup) {
	g.GET("/faq-proposals", p.requireSession, p.faqList)
	g.POST("/faq-proposals/mine", p.requireSession, p.requireCSRF, p.faqMine)
	g.GET("/faq-proposals/:id", p.requireSession, p.faqShow)
	g.POST("/faq-proposals/:id/edit", p.requireSession, p.requireCSRF, p.faqUpdate)
	g.POST("/faq-proposals/:id/approve", p.requireSession, p.requireCSRF, p.faqApprove)
	g.POST("/faq-proposals/:id/reject", p.requireSession, p.requireCSRF, p.faqReject)
	g.POST("/faq-proposals/:id/merge", p.requireSession, p.requireCSRF, p.faqMerge)
	g.POST("/faq-proposals/:id/attach", p.requireSession, p.requireCSRF, p.faqAttach)
}

var faqStatusLabels = map[string]string{
	knowledge.ProposalOpen:     "Open",
	knowledge.ProposalApproved: "Approved",
	knowledge.ProposalRejected: "Rejected",
	knowledge.ProposalMerged:   "Merged",
	knowledge.ProposalAttached: "Attached",
}

var faqStatusClasses = map[string]string{
	knowledge.ProposalOpen:     "st-open",
	knowledge.ProposalApproved: "st-resolved",
	knowledge.ProposalRejected: "st-closed",
	knowledge.ProposalMerged:   "st-pending",
	knowledge.ProposalAttached: "st-resolved",
}

// faqAllowed answers 403 to users without faq:review.
func (p *pages) faqAllowed(c *gin.Context, u accounts.User) bool {
	if u.Can(accounts.PermFAQReview) {
		return true
	}
	p.forbiddenPage(c, u, faqForbidden)
	return false
}

func (p *pages) faqNotFound(c *gin.Context, u accounts.User) {
	v := view2(c, u, "FAQ proposal not found", "faq", nil)
	v.Error = "There is no such FAQ proposal. Check the link, or go back to the list of proposals."
	p.render(c, http.StatusNotFound, "error.html", v)
}

func (p *pages) faqServerError(c *gin.Context, u accounts.User, what string, err error) {
	p.Logger.ErrorContext(c.Request.Context(), what, "err", err)
	v := view2(c, u, "Error", "faq", nil)
	v.Error = "The page could not be loaded because of a server error. Please try again."
	p.render(c, http.StatusInternalServerError, "error.html", v)
}

// ---- the list -------------------------------------------------------------------

type faqItem struct {
	ID                           int64
	Question, Category, Language string
	Status, StatusClass          string
	Members, Requesters          int
	LastSeen, LastSeenISO        string
	FirstSeen, FirstSeenISO      string
	Edited, Reopened             bool
}

type faqListPage struct {
	Status            string
	Tabs              []faqTab
	Rows              []faqItem
	NextURL, FirstURL string
	Problem, Notice   string
}

type faqTab struct {
	Label, URL string
	On         bool
}

func (p *pages) faqList(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !p.faqAllowed(c, u) {
		return
	}
	in := c.Request.URL.Query()
	status := in.Get("status")
	if !slices.Contains(knowledge.ProposalStatuses, status) {
		status = knowledge.ProposalOpen
	}
	lp := faqListPage{Status: status, Notice: mineNotice(in)}
	for _, st := range knowledge.ProposalStatuses {
		tab := faqTab{Label: faqStatusLabels[st], URL: "/faq-proposals", On: st == status}
		if st != knowledge.ProposalOpen {
			tab.URL += "?status=" + st
		}
		lp.Tabs = append(lp.Tabs, tab)
	}
	cursor := in.Get("cursor")
	code := http.StatusOK
	page, err := p.Knowledge.FAQ().List(ctx, u, knowledge.ProposalFilter{Status: []string{status}}, cursor, faqPageSize)
	var ve *accounts.ValidationError
	switch {
	case errors.As(err, &ve):
		code = http.StatusBadRequest
		lp.Problem = "This list cannot be shown: " + fieldSummary(ve) + ". Start again from the first page."
	case err != nil:
		p.Logger.ErrorContext(ctx, "list FAQ proposals", "err", err)
		code = http.StatusInternalServerError
		lp.Problem = "The proposals could not be loaded because of a server error. Please try again."
	}
	for _, pr := range page.Items {
		lp.Rows = append(lp.Rows, faqItem{ID: pr.ID, Question: pr.Question, Category: pr.Category, Language: languageLabel(pr.Language),
			Status: faqStatusLabels[pr.Status], StatusClass: faqStatusClasses[pr.Status],
			Members: pr.MemberCount, Requesters: pr.RequesterCount,
			LastSeen: clock(pr.LastSeen), LastSeenISO: isoTime(pr.LastSeen),
			FirstSeen: clock(pr.FirstSeen), FirstSeenISO: isoTime(pr.FirstSeen),
			Edited: pr.EditedAt != nil, Reopened: pr.ReopenedFrom != nil})
	}
	base := url.Values{}
	if status != knowledge.ProposalOpen {
		base.Set("status", status)
	}
	if page.NextCursor != "" {
		next := url.Values{"cursor": {page.NextCursor}}
		if status != knowledge.ProposalOpen {
			next.Set("status", status)
		}
		lp.NextURL = "/faq-proposals?" + next.Encode()
	}
	if cursor != "" {
		lp.FirstURL = "/faq-proposals"
		if len(base) > 0 {
			lp.FirstURL += "?" + base.Encode()
		}
	}
	p.render(c, code, "faq_proposals.html", view2(c, u, "FAQ proposals", "faq", lp))
}

// mineCounts are the miner's counts the list's notice shows, in the order
// of the redirect's query.
var mineCounts = []string{"tickets", "groups", "created", "joined", "updated", "covered"}

// mineNotice reads the counts a "Mine now" redirect carries.
func mineNotice(q url.Values) string {
	if q.Get("mined") != "1" {
		return ""
	}
	n := map[string]int{}
	for _, k := range mineCounts {
		v, err := strconv.Atoi(q.Get(k))
		if err != nil || v < 0 {
			v = 0
		}
		n[k] = v
	}
	return fmt.Sprintf("Mining done: %s clustered into %s; %s, %s joined open proposals, %s updated, %s already covered by articles.",
		plural(n["tickets"], "resolved ticket", "resolved tickets"), plural(n["groups"], "group", "groups"),
		plural(n["created"], "new proposal", "new proposals"), plural(n["joined"], "ticket", "tickets"),
		plural(n["updated"], "proposal", "proposals"), plural(n["covered"], "group", "groups"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (p *pages) faqMine(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !p.faqAllowed(c, u) {
		return
	}
	res, err := p.Knowledge.FAQ().Mine(ctx)
	if err != nil {
		p.Logger.ErrorContext(ctx, "mine FAQ proposals", "err", err)
		v := view2(c, u, "Mining failed", "faq", nil)
		v.Error = "The miner could not run because of a server error. Go back and try again in a moment."
		p.render(c, http.StatusInternalServerError, "error.html", v)
		return
	}
	q := url.Values{"mined": {"1"}}
	for k, v := range map[string]int{"tickets": res.Tickets, "groups": res.Groups, "created": res.Created,
		"joined": res.Joined, "updated": res.Updated, "covered": res.Covered} {
		q.Set(k, strconv.Itoa(v))
	}
	c.Redirect(http.StatusSeeOther, "/faq-proposals?"+q.Encode())
}

// ---- the proposal page ----------------------------------------------------------------

type faqSourceView struct {
	TicketID   int64
	Kind, Text string
	Similarity string
	Used       bool
}

type faqMemberView struct {
	TicketID            int64
	Subject, Status     string
	Similarity          string
	Created, CreatedISO string
}

type faqProposalPage struct {
	P                       knowledge.Proposal
	Status, StatusClass     string
	Language                string
	Answer                  template.HTML // rendered Markdown of the draft
	FirstSeen, FirstSeenISO string
	LastSeen, LastSeenISO   string
	Handling                string
	EditedBy, DecidedBy     string
	Decided, DecidedISO     string
	Sources                 []faqSourceView
	Members                 []faqMemberView
	Open, CanApprove        bool
	CanPublish              bool

	// The forms, with what a refused one carried.
	Question, AnswerText, Category, Tags string
	Publish                              bool
	Audiences                            []option
	Reason                               string
	MergeOptions                         []option
	ArticleID                            string

	EditErrors                            map[string]string
	EditProblem                           string
	ApproveError, RejectError, MergeError string
	AttachError                           string
	Notice, Flash                         string
	Conflict                              bool
}

// faqForm is what a refused form of the proposal page carried.
type faqForm struct {
	Name string // edit, approve, reject, merge, attach
	Vals url.Values
}

var faqNotices = map[string]string{
	"saved":     "Draft saved. The miner keeps your text from now on and only adds tickets.",
	"unchanged": "Nothing changed.",
	"approved":  "Proposal approved: the article was written and every member ticket is linked to it.",
	"rejected":  "Proposal rejected. The same group is proposed again only once it has grown considerably.",
	"attached":  "Member tickets linked to the article; the proposal is closed as attached.",
}

func proposalID(c *gin.Context) (int64, bool) { return articleID(c) }

func (p *pages) faqShow(c *gin.Context) {
	u := sessionUser(c)
	if !p.faqAllowed(c, u) {
		return
	}
	id, ok := proposalID(c)
	if !ok {
		p.faqNotFound(c, u)
		return
	}
	notice := faqNotices[c.Query("done")]
	if c.Query("done") == "merged" {
		if from, err := strconv.ParseInt(c.Query("from"), 10, 64); err == nil && from > 0 {
			notice = fmt.Sprintf("FAQ proposal %d was merged into this one; its tickets are now members here.", from)
		}
	}
	p.renderProposal(c, u, id, http.StatusOK, func(fp *faqProposalPage) { fp.Notice = notice }, faqForm{})
}

func (p *pages) renderProposal(c *gin.Context, u accounts.User, id int64, status int, decorate func(*faqProposalPage), form faqForm) {
	ctx := c.Request.Context()
	pr, err := p.Knowledge.FAQ().Get(ctx, u, id)
	if errors.Is(err, accounts.ErrNotFound) {
		p.faqNotFound(c, u)
		return
	}
	if err != nil {
		p.faqServerError(c, u, "load FAQ proposal", err)
		return
	}
	n := newNames(ctx, p.Accounts, p.Logger)
	fp := &faqProposalPage{P: pr, Status: faqStatusLabels[pr.Status], StatusClass: faqStatusClasses[pr.Status],
		Language: languageLabel(pr.Language), Answer: template.HTML(knowledge.RenderHTML(pr.Answer)), // the service renders safe HTML
		FirstSeen: clock(pr.FirstSeen), FirstSeenISO: isoTime(pr.FirstSeen),
		LastSeen: clock(pr.LastSeen), LastSeenISO: isoTime(pr.LastSeen),
		Open:       pr.Status == knowledge.ProposalOpen,
		CanApprove: u.Can(accounts.PermArticlesWrite),
		CanPublish: u.Can(accounts.PermArticlesApprove),
		EditErrors: map[string]string{},
	}
	if pr.HandlingSeconds > 0 {
		fp.Handling = fmt.Sprintf("%.1f hours in total", float64(pr.HandlingSeconds)/3600)
	}
	if pr.EditedBy != nil {
		fp.EditedBy = n.user(*pr.EditedBy)
	}
	if pr.DecidedBy != nil {
		fp.DecidedBy = n.user(*pr.DecidedBy)
	}
	if pr.DecidedAt != nil {
		fp.Decided, fp.DecidedISO = clock(*pr.DecidedAt), isoTime(*pr.DecidedAt)
	}
	for _, s := range pr.Sources {
		fp.Sources = append(fp.Sources, faqSourceView{TicketID: s.TicketID, Kind: humanize(s.Kind), Text: s.Text,
			Similarity: fmt.Sprintf("%.2f", s.Similarity), Used: s.Used})
	}
	for _, m := range pr.Members {
		fp.Members = append(fp.Members, faqMemberView{TicketID: m.TicketID, Subject: m.Subject, Status: humanize(m.Status),
			Similarity: fmt.Sprintf("%.2f", m.Similarity), Created: clock(m.CreatedAt), CreatedISO: isoTime(m.CreatedAt)})
	}

	// The forms: the draft, unless a refused form brings its own input.
	vals := form.Vals
	if vals == nil {
		vals = url.Values{}
	}
	fp.Question, fp.AnswerText, fp.Category, fp.Tags = pr.Question, pr.Answer, pr.Category, strings.Join(pr.Tags, ", ")
	if form.Name == "edit" {
		fp.Question, fp.AnswerText, fp.Category, fp.Tags = vals.Get("question"), vals.Get("answer"), vals.Get("category"), vals.Get("tags")
	}
	aud := knowledge.AudienceInternal
	if form.Name == "approve" {
		fp.Publish = vals.Get("publish") != ""
		if slices.Contains(knowledge.Audiences, vals.Get("audience")) {
			aud = vals.Get("audience")
		}
	}
	fp.Audiences = options(aud, knowledge.AudienceInternal, audienceLabels[knowledge.AudienceInternal],
		knowledge.AudiencePublic, audienceLabels[knowledge.AudiencePublic])
	if form.Name == "reject" {
		fp.Reason = vals.Get("reason")
	}
	if form.Name == "attach" {
		fp.ArticleID = vals.Get("article_id")
	}
	if fp.Open {
		into := ""
		if form.Name == "merge" {
			into = vals.Get("into")
		}
		others, err := p.Knowledge.FAQ().List(ctx, u, knowledge.ProposalFilter{}, "", 200)
		if err != nil {
			p.Logger.WarnContext(ctx, "list open FAQ proposals for merge", "err", err)
		}
		for _, o := range others.Items {
			if o.ID == pr.ID {
				continue
			}
			v := strconv.FormatInt(o.ID, 10)
			fp.MergeOptions = append(fp.MergeOptions, option{Value: v, Selected: v == into,
				Label: fmt.Sprintf("#%d %s (%d tickets)", o.ID, o.Question, o.MemberCount)})
		}
	}
	if decorate != nil {
		decorate(fp)
	}
	title := "FAQ proposal"
	if pr.Question != "" {
		title = pr.Question + " · FAQ proposal"
	}
	c.Header("Content-Security-Policy", articleCSP)
	p.render(c, status, "faq_proposal.html", view2(c, u, title, "faq", fp))
}

// faqMessage turns a refusal into a status and a message a person can act
// on; ok is false for bugs (500).
func faqMessage(err error) (status int, msg string, ok bool) {
	var se *knowledge.StateError
	var kf *knowledge.ForbiddenError
	var ve *accounts.ValidationError
	switch {
	case errors.Is(err, accounts.ErrVersionConflict):
		return http.StatusConflict, "Someone else changed this proposal after you opened this page, so your change was not saved. The page now shows the latest version; check it, then try again.", true
	case errors.As(err, &se):
		return http.StatusConflict, sentence(se.Message), true
	case errors.As(err, &kf):
		return http.StatusForbidden, "You are not allowed to do this: " + sentence(kf.Message), true
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, fieldSummary(ve) + ".", true
	}
	status, msg, _, ok = articleMessage(err)
	if !ok {
		msg = "Nothing was saved because of a server error. Please try again."
	}
	return status, msg, ok
}

// refusedProposal re-renders the proposal page with the reason of a
// refusal next to the form that was sent, and that form's input kept.
func (p *pages) refusedProposal(c *gin.Context, u accounts.User, id int64, err error, form faqForm) {
	if errors.Is(err, accounts.ErrNotFound) {
		p.faqNotFound(c, u)
		return
	}
	status, msg, ok := faqMessage(err)
	if !ok {
		p.Logger.ErrorContext(c.Request.Context(), "FAQ proposal change", "proposal_id", id, "err", err)
	}
	conflict := errors.Is(err, accounts.ErrVersionConflict)
	var ve *accounts.ValidationError
	p.renderProposal(c, u, id, status, func(fp *faqProposalPage) {
		if conflict {
			fp.Conflict = true
			fp.Flash = msg
			if form.Name == "edit" && fp.Open {
				fp.Flash = "Someone else changed this proposal after you opened this page, so your edit was not saved. Your text is kept in the form below; the draft above is the latest version. Save again to replace it with your text."
			}
			return
		}
		switch form.Name {
		case "edit":
			if errors.As(err, &ve) {
				for _, f := range ve.Fields {
					name := baseField(f.Field)
					if !slices.Contains([]string{"question", "answer", "category", "tags"}, name) {
						fp.EditProblem = fieldSummary(ve)
						continue
					}
					fp.EditErrors[name] = fieldMessage(name, f.Message)
				}
				return
			}
			fp.EditProblem = msg
		case "approve":
			fp.ApproveError = msg
		case "reject":
			fp.RejectError = msg
		case "merge":
			fp.MergeError = msg
		case "attach":
			fp.AttachError = msg
		default:
			fp.Flash = msg
		}
	}, form)
}

// faqPost reads the common parts of a proposal form: the id, the version
// and the form's values. ok is false when the answer was already sent.
func (p *pages) faqPost(c *gin.Context, name string) (u accounts.User, id int64, version int, form faqForm, ok bool) {
	u = sessionUser(c)
	if !p.faqAllowed(c, u) {
		return u, 0, 0, form, false
	}
	id, ok = proposalID(c)
	if !ok {
		p.faqNotFound(c, u)
		return u, 0, 0, form, false
	}
	if err := c.Request.ParseForm(); err != nil {
		p.forbiddenPage(c, u, "The form could not be read.")
		return u, 0, 0, form, false
	}
	form = faqForm{Name: name, Vals: c.Request.PostForm}
	version, vok := formVersion(c)
	if !vok {
		p.refusedProposal(c, u, id, errNoProposalVersion, form)
		return u, 0, 0, form, false
	}
	return u, id, version, form, true
}

var errNoProposalVersion = &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "version", Message: "the form lacks the proposal version; reload the page and try again"}}}

func (p *pages) faqUpdate(c *gin.Context) {
	u, id, version, form, ok := p.faqPost(c, "edit")
	if !ok {
		return
	}
	form.Vals.Set("answer", formBody(form.Vals.Get("answer")))
	q, a, cat := form.Vals.Get("question"), form.Vals.Get("answer"), form.Vals.Get("category")
	tags := splitTags(form.Vals.Get("tags"))
	if tags == nil {
		tags = []string{}
	}
	pr, err := p.Knowledge.FAQ().Update(c.Request.Context(), u, id, version,
		knowledge.ProposalPatch{Question: &q, Answer: &a, Category: &cat, Tags: &tags})
	if err != nil {
		p.refusedProposal(c, u, id, err, form)
		return
	}
	done := "saved"
	if pr.Version == version {
		done = "unchanged"
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/faq-proposals/%d?done=%s", id, done))
}

func (p *pages) faqApprove(c *gin.Context) {
	u, id, version, form, ok := p.faqPost(c, "approve")
	if !ok {
		return
	}
	opts := knowledge.ApproveOptions{Publish: form.Vals.Get("publish") != "", Audience: form.Vals.Get("audience")}
	if _, err := p.Knowledge.FAQ().Approve(c.Request.Context(), u, id, version, opts); err != nil {
		p.refusedProposal(c, u, id, err, form)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/faq-proposals/%d?done=approved", id))
}

func (p *pages) faqReject(c *gin.Context) {
	u, id, version, form, ok := p.faqPost(c, "reject")
	if !ok {
		return
	}
	form.Vals.Set("reason", formBody(form.Vals.Get("reason")))
	if _, err := p.Knowledge.FAQ().Reject(c.Request.Context(), u, id, version, form.Vals.Get("reason")); err != nil {
		p.refusedProposal(c, u, id, err, form)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/faq-proposals/%d?done=rejected", id))
}

func (p *pages) faqMerge(c *gin.Context) {
	u, id, version, form, ok := p.faqPost(c, "merge")
	if !ok {
		return
	}
	into, err := strconv.ParseInt(form.Vals.Get("into"), 10, 64)
	if err != nil || into <= 0 {
		p.refusedProposal(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "into", Message: "choose the open proposal to merge into"}}}, form)
		return
	}
	if _, err := p.Knowledge.FAQ().Merge(c.Request.Context(), u, id, version, into); err != nil {
		p.refusedProposal(c, u, id, err, form)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/faq-proposals/%d?done=merged&from=%d", into, id))
}

func (p *pages) faqAttach(c *gin.Context) {
	u, id, version, form, ok := p.faqPost(c, "attach")
	if !ok {
		return
	}
	aid, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(form.Vals.Get("article_id")), "#"), 10, 64)
	if err != nil || aid <= 0 {
		p.refusedProposal(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "article_id", Message: "must be an article number"}}}, form)
		return
	}
	if _, err := p.Knowledge.FAQ().Attach(c.Request.Context(), u, id, version, aid); err != nil {
		p.refusedProposal(c, u, id, err, form)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/faq-proposals/%d?done=attached", id))
}
