package knowledge

import (
	"errors"
	"time"

	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Languages and audiences of an article.
const (
	LanguageZh = "zh"
	LanguageEn = "en"

	AudienceInternal = "internal" // staff only
	AudiencePublic   = "public"   // requesters too, once published
)

// Languages and Audiences list the accepted values.
var (
	Languages = []string{LanguageZh, LanguageEn}
	Audiences = []string{AudienceInternal, AudiencePublic}
)

// Views of an article: its working copy (staff) or its published revision.
const (
	ViewWorking   = "working"
	ViewPublished = "published"
)

// Limits of article fields, in characters (runes).
const (
	MaxTitle    = 200
	MaxSummary  = 1000
	MaxBody     = 100_000
	MaxCategory = 100
	MaxTags     = 20
	MaxTag      = 50
	MaxNote     = 500
	MaxComment  = 2000
	MaxReason   = 2000
)

// Workflow is the key of the workflow articles run on.
const Workflow = tickets.ArticleWorkflow

// EventEdit is the transition recorded when an edit sends a published
// article's working copy back to the workflow's initial state (draft). It
// is not a workflow event: nobody fires it.
const EventEdit = "edit"

// Article is an article as one caller sees it: the working copy or the
// published revision (View says which).
type Article struct {
	ID       int64
	Title    string
	Summary  string
	Body     string // Markdown
	Category string
	Tags     []string
	Language string
	Audience string
	OwnerID  int64

	Status          string            // workflow state of the working copy
	StatusCategory  workflow.Category // its category
	WorkflowVersion int
	StateEnteredAt  time.Time

	View       string // ViewWorking or ViewPublished
	RevisionID int64  // the revision shown
	Revision   int    // its number
	AuthorID   int64  // its author

	CurrentRevisionID   int64
	CurrentRevision     int
	PublishedRevisionID *int64
	PublishedRevision   *int // its number
	PublishedAt         *time.Time

	Version         int
	ReuseCount      int
	HelpfulCount    int
	NotHelpfulCount int
	Outdated        *OutdatedMark // the latest open flag, if any
	Flags           []Flag        // open flags (staff views of one article only)
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// OutdatedMark is an article's latest open "outdated" flag.
type OutdatedMark struct {
	At     time.Time
	By     *int64
	Reason string
}

// NewArticle is the input to Create. With FromTicketID, empty Title and
// Body are filled from the ticket (subject; description and resolution)
// and the ticket is linked created_from.
type NewArticle struct {
	Title        string
	Summary      string
	Body         string
	Category     string
	Tags         []string
	Language     string // zh or en; "" guesses from the text
	Audience     string // internal (default) or public
	Note         string // the revision note
	FromTicketID *int64
}

// Patch changes the non-nil fields; every applied patch is a new revision.
type Patch struct {
	Title    *string
	Summary  *string
	Body     *string
	Category *string
	Tags     *[]string
	Language *string
	Audience *string
	Note     string
}

// Revision is one stored revision.
type Revision struct {
	ID        int64
	ArticleID int64
	Number    int
	Title     string
	Summary   string
	Body      string // empty in lists
	Category  string
	Tags      []string
	Language  string
	Audience  string
	AuthorID  int64
	Note      string
	CreatedAt time.Time
	Current   bool // the working copy
	Published bool // the revision readers see
}

// FieldChange is a change of a one-line field between two revisions.
type FieldChange struct {
	Field string
	From  string
	To    string
}

// Diff compares two revisions of an article.
type Diff struct {
	ArticleID int64
	From      Revision // without body
	To        Revision // without body
	Changes   []FieldChange
	Unified   string // unified diff of title, summary and body ("" when equal)
	Added     int    // lines added in title, summary and body
	Removed   int
}

// TransitionRecord is one entry of an article's workflow history.
type TransitionRecord struct {
	ID         int64
	ArticleID  int64
	Event      string
	From       string
	To         string
	RevisionID *int64
	Revision   int // its number, 0 when unknown
	ActorID    *int64
	Comment    string
	At         time.Time
}

// Transition asks to fire a workflow event on an article.
type Transition struct {
	Event   string
	Comment string            // recorded; satisfies a required "comment" field (reject)
	Fields  map[string]string // other fields the event requires
}

// Filter narrows a list. Zero values mean any.
type Filter struct {
	Status   []string // workflow states (readers: only "published" matches)
	Category string
	Language string
	Audience string
	Q        string // full text, Chinese and English; results are ranked
}

// Hit is an article in a list; Score and Snippet are set for searches.
type Hit struct {
	Article
	Score   float64
	Snippet string // plain text, matches wrapped in « »
}

// Page is one page of a list; NextCursor is empty at the end.
type Page struct {
	Items      []Hit
	NextCursor string
}

// Feedback is a reader's vote on an article.
type Feedback struct {
	ID        int64
	ArticleID int64
	TicketID  *int64
	UserID    int64
	Helpful   bool
	Comment   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewFeedback is the input to AddFeedback.
type NewFeedback struct {
	Helpful  bool
	Comment  string
	TicketID *int64
}

// Flag marks an article outdated ("flag it", KCS).
type Flag struct {
	ID                 int64
	ArticleID          int64
	TicketID           *int64
	UserID             int64
	Reason             string
	CreatedAt          time.Time
	ResolvedAt         *time.Time
	ResolvedRevisionID *int64
}

// NewFlag is the input to FlagOutdated.
type NewFlag struct {
	Reason   string
	TicketID *int64
}

// LinkedArticle is a ticket's link with what the caller may see of the
// article.
type LinkedArticle struct {
	tickets.Link
	Title    string
	Status   string
	Audience string
}

// Suggestion is an article proposed for a ticket.
type Suggestion struct {
	ArticleID  int64
	Title      string
	Summary    string
	Language   string
	Audience   string
	Score      float64
	Snippet    string // plain text, matches wrapped in « »
	ReuseCount int
	Linked     bool // already linked to the ticket
}

// Errors beyond the shared ones (accounts.ErrNotFound, ErrVersionConflict,
// *accounts.ValidationError, workflow's transition errors).
var (
	// ErrForbidden: the caller may not do this to this article. It wraps
	// tickets.ErrForbidden, so the API answers both alike (403).
	ErrForbidden = tickets.ErrForbidden
)

// ForbiddenError says why the caller may not.
type ForbiddenError struct{ Message string }

func (e *ForbiddenError) Error() string { return e.Message }
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// StateError: the article's state does not allow the change now (an
// archived article is read-only); the API answers 409.
type StateError struct{ Message string }

func (e *StateError) Error() string { return e.Message }

// IsStateError reports whether err is a *StateError.
func IsStateError(err error) bool {
	var se *StateError
	return errors.As(err, &se)
}
