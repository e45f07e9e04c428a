package web

// The knowledge side of the ticket page: for staff, the articles the
// knowledge service suggests for the ticket (with "Link as solution"), the
// ticket's linked articles (with unlink), an article choice in the forms of
// knowledge-guarded events (resolve) so one step resolves and links, and
// "Create article from this ticket". Requesters see only the linked
// articles they may read.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

const ticketSuggestions = 5

func (p *pages) mountTicketArticles(g *gin.RouterGroup) {
	g.POST("/tickets/:id/articles", p.requireSession, p.requireCSRF, p.linkTicketArticle)
	g.POST("/tickets/:id/articles/unlink", p.requireSession, p.requireCSRF, p.unlinkTicketArticle)
	g.POST("/tickets/:id/articles/draft", p.requireSession, p.requireCSRF, p.draftFromTicket)
}

type suggestionView struct {
	ID               int64
	Title, Summary   string
	Snippet          []snippetPart
	Linked, Internal bool
	ReuseCount       int
}

type linkedView struct {
	ID                     int64
	Title, Kind, KindLabel string
	Status, StatusClass    string
	By, When, ISO          string
	Internal               bool
}

// ticketKnowledge is the ticket page's knowledge cards.
type ticketKnowledge struct {
	Staff, CanLink, CanDraft bool
	Suggested                []suggestionView
	Linked                   []linkedView
	Problem                  string
}

var linkKindLabels = map[string]string{
	tickets.LinkSolvedBy:    "Solution",
	tickets.LinkReferenced:  "Referenced",
	tickets.LinkCreatedFrom: "Written from this ticket",
}

// addTicketKnowledge fills the knowledge cards of tp and the article choice
// of its knowledge-guarded event forms. A failing knowledge service costs
// the cards, never the ticket page.
func (p *pages) addTicketKnowledge(ctx context.Context, u accounts.User, n *names, t tickets.Ticket, wf *workflow.Definition, tp *ticketPage, fs formState) {
	if p.Knowledge == nil || !u.Can(accounts.PermArticlesRead) {
		return
	}
	staff := isStaff(u)
	kb := &ticketKnowledge{Staff: staff,
		CanLink:  staff && (u.Can(accounts.PermTicketsWrite) || u.Can(accounts.PermArticlesWrite)),
		CanDraft: staff && u.Can(accounts.PermArticlesWrite)}
	links, err := p.Knowledge.TicketArticles(ctx, u, t.ID)
	if err != nil {
		p.Logger.WarnContext(ctx, "list ticket articles", "ticket_id", t.ID, "err", err)
		kb.Problem = "The knowledge articles could not be loaded. Reload the page to try again."
	}
	artDef := p.articleDef(n, 0)
	seen := map[int64]bool{}
	var choices []option
	for _, l := range links {
		if !staff && seen[l.ArticleID] {
			continue // readers see each article once
		}
		lv := linkedView{ID: l.ArticleID, Title: l.Title, Kind: l.Kind, KindLabel: linkKindLabels[l.Kind],
			When: clock(l.CreatedAt), ISO: isoTime(l.CreatedAt), Internal: l.Audience == knowledge.AudienceInternal}
		if lv.KindLabel == "" {
			lv.KindLabel = humanize(l.Kind)
		}
		st, ok := artDef.State(l.Status)
		if staff {
			lv.Status, lv.StatusClass = humanize(l.Status), "st-new"
			if ok {
				lv.Status, lv.StatusClass = st.Label, "st-"+string(st.Category)
			}
			lv.By = n.userOr(l.CreatedBy, "System")
		}
		kb.Linked = append(kb.Linked, lv)
		if !seen[l.ArticleID] && (!ok || st.Category != workflow.CategoryClosed) {
			label := l.Title
			if ok && st.Category != workflow.CategoryResolved {
				label += " (" + st.Label + ")"
			}
			choices = append(choices, option{Value: strconv.FormatInt(l.ArticleID, 10), Label: label + " · linked"})
		}
		seen[l.ArticleID] = true
	}
	if staff {
		sugg, err := p.Knowledge.Suggest(ctx, u, t.ID, ticketSuggestions)
		if err != nil {
			p.Logger.WarnContext(ctx, "suggest articles", "ticket_id", t.ID, "err", err)
			kb.Problem = "Article suggestions are not available right now. Reload the page to try again."
		}
		for _, s := range sugg {
			kb.Suggested = append(kb.Suggested, suggestionView{ID: s.ArticleID, Title: s.Title, Summary: s.Summary,
				Snippet: highlight(s.Snippet), Linked: s.Linked, Internal: s.Audience == knowledge.AudienceInternal, ReuseCount: s.ReuseCount})
			if !seen[s.ArticleID] {
				seen[s.ArticleID] = true
				choices = append(choices, option{Value: strconv.FormatInt(s.ArticleID, 10), Label: s.Title + " · suggested"})
			}
		}
	}
	if kb.CanLink && len(choices) > 0 {
		for i := range tp.Events {
			ev, ok := wf.Event(tp.Events[i].Event)
			if !ok || !ev.Guards.Knowledge {
				continue
			}
			sel := ""
			if fs.Event == ev.Name {
				sel = fs.Fields[tickets.FieldArticleID]
			}
			opts := []option{{Value: "", Label: "No article", Selected: sel == ""}}
			for _, c := range choices {
				c.Selected = c.Value == sel
				opts = append(opts, c)
			}
			tp.Events[i].Articles = opts
			for j := range tp.Events[i].Fields {
				if tp.Events[i].Fields[j].Name == workflow.NoArticleReasonField {
					tp.Events[i].Fields[j].Optional = true
					tp.Events[i].Fields[j].Hint = "Only needed when you choose no article above."
				}
			}
		}
	}
	if !staff && len(kb.Linked) == 0 {
		return
	}
	tp.KB = kb
}

// formArticleID reads the article_id of a link form.
func formArticleID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(c.PostForm("article_id")), 10, 64)
	if err != nil || id <= 0 {
		return 0, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "article_id", Message: "choose an article from the list"}}}
	}
	return id, nil
}

func (p *pages) linkTicketArticle(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	aid, err := formArticleID(c)
	if err == nil {
		kind := c.PostForm("kind")
		if kind == "" {
			kind = tickets.LinkSolvedBy
		}
		_, _, err = p.Knowledge.Link(c.Request.Context(), u, id, aid, kind)
	}
	if err != nil {
		p.refused(c, u, id, err, formState{})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=linked#kb-linked", id))
}

func (p *pages) unlinkTicketArticle(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	aid, err := formArticleID(c)
	if err == nil {
		err = p.Knowledge.Unlink(c.Request.Context(), u, id, aid, c.PostForm("kind"))
	}
	if err != nil {
		p.refused(c, u, id, err, formState{})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=unlinked#kb-linked", id))
}

func (p *pages) draftFromTicket(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	a, err := p.Knowledge.Create(c.Request.Context(), u, knowledge.NewArticle{FromTicketID: &id})
	var ve *accounts.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Field == "from_ticket_id" {
				p.notFoundPage(c, u) // the ticket is out of sight
				return
			}
		}
	}
	if err != nil {
		p.refused(c, u, id, err, formState{})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/articles/%d/edit?done=drafted", a.ID))
}
