package api

import (
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Request and response bodies of /articles, /tickets/{id}/articles and
// /tickets/{id}/suggested-articles (see types.go for the tags the schema
// reflector reads).

const (
	languageEnum = knowledge.LanguageZh + "," + knowledge.LanguageEn
	audienceEnum = knowledge.AudienceInternal + "," + knowledge.AudiencePublic
	linkKindEnum = tickets.LinkSolvedBy + "," + tickets.LinkReferenced + "," + tickets.LinkCreatedFrom
	viewEnum     = knowledge.ViewWorking + "," + knowledge.ViewPublished
)

// OutdatedResponse is an article's latest open "outdated" flag.
type OutdatedResponse struct {
	At     time.Time `json:"at"`
	By     *int64    `json:"by" doc:"the user who flagged it"`
	Reason string    `json:"reason"`
}

// FlagResponse is one "outdated" flag.
type FlagResponse struct {
	ID                 int64      `json:"id"`
	ArticleID          int64      `json:"article_id"`
	TicketID           *int64     `json:"ticket_id" doc:"the ticket that showed the article outdated, if any"`
	UserID             int64      `json:"user_id"`
	Reason             string     `json:"reason"`
	CreatedAt          time.Time  `json:"created_at"`
	ResolvedAt         *time.Time `json:"resolved_at" doc:"when a newer revision was published; null while open"`
	ResolvedRevisionID *int64     `json:"resolved_revision_id"`
}

func flagResponse(f knowledge.Flag) FlagResponse {
	return FlagResponse{ID: f.ID, ArticleID: f.ArticleID, TicketID: f.TicketID, UserID: f.UserID, Reason: f.Reason,
		CreatedAt: f.CreatedAt, ResolvedAt: f.ResolvedAt, ResolvedRevisionID: f.ResolvedRevisionID}
}

// ArticleResponse is an article as the caller may see it: its working copy
// (staff, by default) or its published revision (view says which).
type ArticleResponse struct {
	ID                  int64             `json:"id"`
	Title               string            `json:"title"`
	Summary             string            `json:"summary"`
	Body                string            `json:"body" doc:"Markdown"`
	BodyHTML            string            `json:"body_html" doc:"body rendered to HTML: raw HTML is never passed through, and links or images with scripts or other unsafe URLs are reduced to their text"`
	Category            string            `json:"category"`
	Tags                []string          `json:"tags"`
	Language            string            `json:"language" enum:"zh,en"`
	Audience            string            `json:"audience" enum:"internal,public" doc:"public articles are shown to requesters once published"`
	OwnerID             int64             `json:"owner_id"`
	Status              string            `json:"status" doc:"workflow state of the working copy: draft, in_review, published or archived"`
	StatusCategory      workflow.Category `json:"status_category"`
	WorkflowVersion     int               `json:"workflow_version"`
	View                string            `json:"view" enum:"working,published" doc:"which text this is: the working copy or the published revision"`
	Revision            int               `json:"revision" doc:"number of the revision shown"`
	RevisionID          int64             `json:"revision_id"`
	AuthorID            int64             `json:"author_id" doc:"author of the revision shown"`
	CurrentRevision     int               `json:"current_revision" doc:"number of the working copy's revision"`
	PublishedRevision   *int              `json:"published_revision" doc:"number of the revision readers see; null while none is published"`
	PublishedRevisionID *int64            `json:"published_revision_id"`
	PublishedAt         *time.Time        `json:"published_at"`
	Version             int               `json:"version" doc:"also sent as the ETag header"`
	ReuseCount          int               `json:"reuse_count" doc:"tickets linked solved_by or referenced"`
	HelpfulCount        int               `json:"helpful_count"`
	NotHelpfulCount     int               `json:"not_helpful_count"`
	Outdated            *OutdatedResponse `json:"outdated" doc:"the latest open outdated flag; null when none"`
	Flags               []FlagResponse    `json:"flags" doc:"open outdated flags, newest first (staff only; empty for others)"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
}

func articleResponse(a knowledge.Article) ArticleResponse {
	out := ArticleResponse{ID: a.ID, Title: a.Title, Summary: a.Summary, Body: a.Body, BodyHTML: knowledge.RenderHTML(a.Body),
		Category: a.Category, Tags: nonNil(a.Tags), Language: a.Language, Audience: a.Audience, OwnerID: a.OwnerID,
		Status: a.Status, StatusCategory: a.StatusCategory, WorkflowVersion: a.WorkflowVersion, View: a.View,
		Revision: a.Revision, RevisionID: a.RevisionID, AuthorID: a.AuthorID, CurrentRevision: a.CurrentRevision,
		PublishedRevision: a.PublishedRevision, PublishedRevisionID: a.PublishedRevisionID, PublishedAt: a.PublishedAt,
		Version: a.Version, ReuseCount: a.ReuseCount, HelpfulCount: a.HelpfulCount, NotHelpfulCount: a.NotHelpfulCount,
		Flags: make([]FlagResponse, 0, len(a.Flags)), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.Outdated != nil {
		out.Outdated = &OutdatedResponse{At: a.Outdated.At, By: a.Outdated.By, Reason: a.Outdated.Reason}
	}
	for _, f := range a.Flags {
		out.Flags = append(out.Flags, flagResponse(f))
	}
	return out
}

// ArticleListItem is an article in a list: no body; searches add score and
// a snippet.
type ArticleListItem struct {
	ID                int64             `json:"id"`
	Title             string            `json:"title"`
	Summary           string            `json:"summary"`
	Category          string            `json:"category"`
	Tags              []string          `json:"tags"`
	Language          string            `json:"language" enum:"zh,en"`
	Audience          string            `json:"audience" enum:"internal,public"`
	Status            string            `json:"status"`
	StatusCategory    workflow.Category `json:"status_category"`
	View              string            `json:"view" enum:"working,published"`
	Revision          int               `json:"revision"`
	PublishedRevision *int              `json:"published_revision"`
	Version           int               `json:"version"`
	ReuseCount        int               `json:"reuse_count"`
	HelpfulCount      int               `json:"helpful_count"`
	NotHelpfulCount   int               `json:"not_helpful_count"`
	Outdated          bool              `json:"outdated" doc:"an outdated flag is open"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Score             *float64          `json:"score,omitempty" doc:"with q: relevance (BM25), higher is better"`
	Snippet           string            `json:"snippet,omitempty" doc:"with q: plain text around the first match, matches wrapped in « and »"`
	SnippetHTML       string            `json:"snippet_html,omitempty" doc:"with q: the snippet as HTML-escaped text with matches in <mark>"`
}

func articleListItem(h knowledge.Hit, search bool) ArticleListItem {
	out := ArticleListItem{ID: h.ID, Title: h.Title, Summary: h.Summary, Category: h.Category, Tags: nonNil(h.Tags),
		Language: h.Language, Audience: h.Audience, Status: h.Status, StatusCategory: h.StatusCategory, View: h.View,
		Revision: h.Revision, PublishedRevision: h.PublishedRevision, Version: h.Version, ReuseCount: h.ReuseCount,
		HelpfulCount: h.HelpfulCount, NotHelpfulCount: h.NotHelpfulCount, Outdated: h.Outdated != nil, UpdatedAt: h.UpdatedAt}
	if search {
		s := h.Score
		out.Score = &s
		out.Snippet = h.Snippet
		out.SnippetHTML = snippetHTML(h.Snippet)
	}
	return out
}

// snippetHTML escapes a snippet and marks its matches.
func snippetHTML(s string) string {
	s = html.EscapeString(s)
	s = strings.ReplaceAll(s, "«", "<mark>")
	return strings.ReplaceAll(s, "»", "</mark>")
}

// CreateArticleRequest writes a new article (a draft, revision 1).
type CreateArticleRequest struct {
	Title        string   `json:"title,omitempty" doc:"required unless from_ticket_id gives it (the ticket's subject); at most 200 characters"`
	Summary      string   `json:"summary,omitempty" doc:"at most 1000 characters"`
	Body         string   `json:"body,omitempty" doc:"Markdown, at most 100000 characters; required unless from_ticket_id gives it (the ticket's description and resolution)"`
	Category     string   `json:"category,omitempty"`
	Tags         []string `json:"tags,omitempty" doc:"at most 20, each at most 50 characters; stored lowercase"`
	Language     string   `json:"language,omitempty" enum:"zh,en" doc:"default: zh when the title or body has Chinese characters, else en"`
	Audience     string   `json:"audience,omitempty" enum:"internal,public" doc:"default internal"`
	Note         string   `json:"note,omitempty" doc:"what this revision is about"`
	FromTicketID *int64   `json:"from_ticket_id,omitempty" doc:"draft from this ticket: missing title, body, category and tags are taken from it, and the ticket is linked created_from"`
}

// Validate checks what the domain would otherwise reject late.
func (r *CreateArticleRequest) Validate() []FieldError {
	var fe []FieldError
	if r.FromTicketID == nil {
		if strings.TrimSpace(r.Title) == "" {
			fe = append(fe, FieldError{Field: "title", Message: "is required (or give from_ticket_id to take the ticket's subject)"})
		}
		if strings.TrimSpace(r.Body) == "" {
			fe = append(fe, FieldError{Field: "body", Message: "is required (or give from_ticket_id to draft it from the ticket)"})
		}
	} else if *r.FromTicketID < 1 {
		fe = append(fe, FieldError{Field: "from_ticket_id", Message: "must be a positive ticket id"})
	}
	return append(fe, articleSizes(r.Title, r.Summary, r.Body)...)
}

func articleSizes(title, summary, body string) []FieldError {
	var fe []FieldError
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{{"title", title, knowledge.MaxTitle}, {"summary", summary, knowledge.MaxSummary}, {"body", body, knowledge.MaxBody}} {
		if n := utf8.RuneCountInString(f.v); n > f.max {
			fe = append(fe, FieldError{Field: f.name, Message: "must be at most " + strconv.Itoa(f.max) + " characters (got " + strconv.Itoa(n) + ")"})
		}
	}
	return fe
}

func (r *CreateArticleRequest) input() knowledge.NewArticle {
	return knowledge.NewArticle{Title: r.Title, Summary: r.Summary, Body: r.Body, Category: r.Category, Tags: r.Tags,
		Language: r.Language, Audience: r.Audience, Note: r.Note, FromTicketID: r.FromTicketID}
}

// UpdateArticleRequest changes the fields present; every change is a new
// revision.
type UpdateArticleRequest struct {
	Title    Optional[string]   `json:"title,omitzero"`
	Summary  Optional[string]   `json:"summary,omitzero"`
	Body     Optional[string]   `json:"body,omitzero" doc:"Markdown"`
	Category Optional[string]   `json:"category,omitzero"`
	Tags     Optional[[]string] `json:"tags,omitzero"`
	Language Optional[string]   `json:"language,omitzero" enum:"zh,en"`
	Audience Optional[string]   `json:"audience,omitzero" enum:"internal,public"`
	Note     string             `json:"note,omitempty" doc:"what this revision changes"`
}

// Validate rejects a PATCH that would change nothing and oversize texts.
func (r *UpdateArticleRequest) Validate() []FieldError {
	if !r.Title.Set && !r.Summary.Set && !r.Body.Set && !r.Category.Set && !r.Tags.Set && !r.Language.Set && !r.Audience.Set {
		return []FieldError{{Field: "body", Message: "send at least one of: title, summary, body, category, tags, language, audience"}}
	}
	return articleSizes(r.Title.Value, r.Summary.Value, r.Body.Value)
}

func (r *UpdateArticleRequest) patch() knowledge.Patch {
	return knowledge.Patch{Title: r.Title.Ptr(), Summary: r.Summary.Ptr(), Body: r.Body.Ptr(), Category: r.Category.Ptr(),
		Tags: r.Tags.Ptr(), Language: r.Language.Ptr(), Audience: r.Audience.Ptr(), Note: r.Note}
}

// RevisionResponse is one revision; lists leave out the body.
type RevisionResponse struct {
	ID        int64     `json:"id"`
	ArticleID int64     `json:"article_id"`
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	Summary   string    `json:"summary"`
	Body      string    `json:"body,omitempty" doc:"Markdown; only when one revision is asked for"`
	BodyHTML  string    `json:"body_html,omitempty" doc:"the body rendered safely; only when one revision is asked for"`
	Category  string    `json:"category"`
	Tags      []string  `json:"tags"`
	Language  string    `json:"language" enum:"zh,en"`
	Audience  string    `json:"audience" enum:"internal,public"`
	AuthorID  int64     `json:"author_id" doc:"who wrote it"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at" doc:"when"`
	Current   bool      `json:"current" doc:"the working copy"`
	Published bool      `json:"published" doc:"the revision readers see"`
}

func revisionResponse(r knowledge.Revision) RevisionResponse {
	out := RevisionResponse{ID: r.ID, ArticleID: r.ArticleID, Number: r.Number, Title: r.Title, Summary: r.Summary, Body: r.Body,
		Category: r.Category, Tags: nonNil(r.Tags), Language: r.Language, Audience: r.Audience, AuthorID: r.AuthorID,
		Note: r.Note, CreatedAt: r.CreatedAt, Current: r.Current, Published: r.Published}
	if r.Body != "" {
		out.BodyHTML = knowledge.RenderHTML(r.Body)
	}
	return out
}

// FieldChangeResponse is a one-line field that changed.
type FieldChangeResponse struct {
	Field string `json:"field" enum:"category,tags,language,audience"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// DiffResponse compares two revisions.
type DiffResponse struct {
	ArticleID int64                 `json:"article_id"`
	From      RevisionResponse      `json:"from"`
	To        RevisionResponse      `json:"to"`
	Changes   []FieldChangeResponse `json:"changes" doc:"category, tags, language and audience changes"`
	Unified   string                `json:"unified" doc:"a line-based unified diff (3 lines of context) of title, summary and body, one --- / +++ section per changed field; empty when they are equal"`
	Added     int                   `json:"added" doc:"lines added"`
	Removed   int                   `json:"removed" doc:"lines removed"`
}

func diffResponse(d knowledge.Diff) DiffResponse {
	out := DiffResponse{ArticleID: d.ArticleID, From: revisionResponse(d.From), To: revisionResponse(d.To),
		Changes: make([]FieldChangeResponse, 0, len(d.Changes)), Unified: d.Unified, Added: d.Added, Removed: d.Removed}
	for _, c := range d.Changes {
		out.Changes = append(out.Changes, FieldChangeResponse{Field: c.Field, From: c.From, To: c.To})
	}
	return out
}

// ArticleTransitionRecord is one entry of an article's workflow history.
type ArticleTransitionRecord struct {
	ID       int64     `json:"id"`
	Event    string    `json:"event" doc:"the workflow event; create for the first revision, edit when an edit sent a published article back to draft"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Revision int       `json:"revision" doc:"the revision number it applied to"`
	ActorID  *int64    `json:"actor_id"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// ArticleTransitionsResponse is where an article is, where the caller may
// take it, and how it got there.
type ArticleTransitionsResponse struct {
	State          string                    `json:"state"`
	StatusCategory workflow.Category         `json:"status_category"`
	Version        int                       `json:"version" doc:"the article version; also the ETag, for If-Match on the POST"`
	Revision       int                       `json:"revision" doc:"the working copy's revision number"`
	Items          []TransitionOption        `json:"items" doc:"the events the caller may fire now, in workflow order (an author is not offered approving their own revision)"`
	History        []ArticleTransitionRecord `json:"history" doc:"every transition, oldest first: who, when, from, to, comment"`
}

// ArticleTransitionRequest fires a workflow event on an article.
type ArticleTransitionRequest struct {
	Event   string            `json:"event" doc:"submit, approve, reject, archive or restore (builtin workflow)"`
	Comment string            `json:"comment,omitempty" doc:"recorded in the history; required by reject"`
	Fields  map[string]string `json:"fields,omitempty" doc:"other fields the event requires"`
}

// Validate keeps an event name something a workflow could define.
func (r *ArticleTransitionRequest) Validate() []FieldError {
	var fe []FieldError
	if r.Event == "" || len(r.Event) > 40 {
		fe = append(fe, FieldError{Field: "event", Message: "must be an event name (1-40 characters); GET the transitions to see which"})
	}
	if n := utf8.RuneCountInString(r.Comment); n > knowledge.MaxComment {
		fe = append(fe, FieldError{Field: "comment", Message: "must be at most " + strconv.Itoa(knowledge.MaxComment) + " characters"})
	}
	return fe
}

// FeedbackRequest votes on an article.
type FeedbackRequest struct {
	Helpful  bool   `json:"helpful" doc:"did the article help?"`
	Comment  string `json:"comment,omitempty" doc:"at most 2000 characters"`
	TicketID *int64 `json:"ticket_id,omitempty" doc:"the ticket the article was read for"`
}

// FeedbackResponse is a vote (one per person and article; voting again
// replaces it).
type FeedbackResponse struct {
	ID        int64     `json:"id"`
	ArticleID int64     `json:"article_id"`
	TicketID  *int64    `json:"ticket_id"`
	UserID    int64     `json:"user_id"`
	Helpful   bool      `json:"helpful"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func feedbackResponse(f knowledge.Feedback) FeedbackResponse {
	return FeedbackResponse{ID: f.ID, ArticleID: f.ArticleID, TicketID: f.TicketID, UserID: f.UserID, Helpful: f.Helpful,
		Comment: f.Comment, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt}
}

// FlagRequest reports an article outdated.
type FlagRequest struct {
	Reason   string `json:"reason" doc:"what is wrong or missing; at most 2000 characters"`
	TicketID *int64 `json:"ticket_id,omitempty" doc:"the ticket that showed it"`
}

// LinkRequest links an article to a ticket, or (DELETE) removes a link.
type LinkRequest struct {
	ArticleID int64  `json:"article_id"`
	Kind      string `json:"kind,omitempty" enum:"solved_by,referenced,created_from" doc:"POST: default solved_by. DELETE: absent removes every kind"`
}

// Validate checks the id.
func (r *LinkRequest) Validate() []FieldError {
	if r.ArticleID < 1 {
		return []FieldError{{Field: "article_id", Message: "must be a positive article id"}}
	}
	return nil
}

// LinkedArticleResponse is a ticket's link to an article.
type LinkedArticleResponse struct {
	TicketID  int64     `json:"ticket_id"`
	ArticleID int64     `json:"article_id"`
	Kind      string    `json:"kind" enum:"solved_by,referenced,created_from"`
	Title     string    `json:"title" doc:"as the caller may see the article"`
	Status    string    `json:"status"`
	Audience  string    `json:"audience" enum:"internal,public"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func linkedArticleResponse(l knowledge.LinkedArticle) LinkedArticleResponse {
	return LinkedArticleResponse{TicketID: l.TicketID, ArticleID: l.ArticleID, Kind: l.Kind, Title: l.Title, Status: l.Status,
		Audience: l.Audience, CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt}
}

// SuggestionResponse is an article proposed for a ticket.
type SuggestionResponse struct {
	ArticleID   int64   `json:"article_id"`
	Title       string  `json:"title"`
	Summary     string  `json:"summary"`
	Language    string  `json:"language" enum:"zh,en"`
	Audience    string  `json:"audience" enum:"internal,public"`
	Score       float64 `json:"score" doc:"0 to 1, higher is better; comparable within one answer"`
	Snippet     string  `json:"snippet" doc:"plain text of the article around the ticket's words, matches wrapped in « and »"`
	SnippetHTML string  `json:"snippet_html" doc:"the snippet HTML-escaped, matches in <mark>"`
	ReuseCount  int     `json:"reuse_count"`
	Linked      bool    `json:"linked" doc:"already linked to this ticket"`
}
