package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Search document types in the shared index (see the package comment).
const (
	DocType          = "article"
	DocTypePublished = "article_published"
)

// Domain events written to the outbox in the transaction of the change.
const (
	EventArticleCreated      = "article:created"
	EventArticleUpdated      = "article:updated"
	EventArticleTransitioned = "article:transitioned"
	EventArticlePublished    = "article:published"
	EventFeedbackAdded       = "article:feedback"
	EventArticleFlagged      = "article:flagged"
)

// ArticleEvent is the payload of article:created, article:updated and
// article:published.
type ArticleEvent struct {
	ID       int64  `json:"id"`
	Revision int    `json:"revision"`
	Actor    *int64 `json:"actor"`
}

// TransitionedEvent is the payload of article:transitioned.
type TransitionedEvent struct {
	ID       int64             `json:"id"`
	Event    string            `json:"event"`
	From     string            `json:"from"`
	To       string            `json:"to"`
	Category workflow.Category `json:"category"`
	Revision int               `json:"revision"`
	Actor    *int64            `json:"actor"`
}

// FeedbackEvent is the payload of article:feedback.
type FeedbackEvent struct {
	ArticleID int64  `json:"article_id"`
	UserID    int64  `json:"user_id"`
	Helpful   bool   `json:"helpful"`
	TicketID  *int64 `json:"ticket_id"`
}

// FlaggedEvent is the payload of article:flagged.
type FlaggedEvent struct {
	ArticleID int64  `json:"article_id"`
	FlagID    int64  `json:"flag_id"`
	UserID    int64  `json:"user_id"`
	TicketID  *int64 `json:"ticket_id"`
}

// Service is the knowledge domain over one database. It uses the tickets
// service for workflow definitions, ticket visibility and links.
type Service struct {
	db      *database.DB
	tickets *tickets.Service
	index   *search.Index
	now     func() time.Time

	mu   sync.RWMutex
	defs map[int]*workflow.Definition // article workflow versions (immutable)

	suggest *suggester
	faq     *FAQ // FAQ proposals (faq*.go)
}

// Option configures a Service.
type Option func(*Service)

// WithClock injects the time source.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSuggestRefresh sets how often, at most, suggestions check whether
// the knowledge base changed (default 5s).
func WithSuggestRefresh(d time.Duration) Option {
	return func(s *Service) {
		if d >= 0 {
			s.suggest.every = d
		}
	}
}

// New makes the service. tk provides workflows, tickets and their links.
func New(db *database.DB, tk *tickets.Service, opts ...Option) *Service {
	s := &Service{db: db, tickets: tk, index: search.NewIndex(db), now: time.Now, defs: map[int]*workflow.Definition{}}
	s.suggest = newSuggester(s)
	s.faq = &FAQ{s: s, cfg: FAQConfig{}.withDefaults()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock is the current time as stored: UTC, milliseconds.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// inTx runs fn in one transaction, again on deadlocks and SQLite busy errors.
func (s *Service) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.conn(ctx).Transaction(fn)
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 3 * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool { return database.IsRetryable(err) }

// forUpdate locks the rows a query reads on MySQL; SQLite transactions are
// already serialised (immediate).
func (s *Service) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.db.Dialect == database.MySQL {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return accounts.ErrNotFound
	}
	return err
}

// definition returns the article workflow at version (0: the latest),
// cached: published versions never change.
func (s *Service) definition(ctx context.Context, version int) (*workflow.Definition, error) {
	if version > 0 {
		s.mu.RLock()
		d, ok := s.defs[version]
		s.mu.RUnlock()
		if ok {
			return d, nil
		}
	}
	d, err := s.tickets.GetWorkflow(ctx, Workflow, version)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, fmt.Errorf("knowledge: the %q workflow is not published (version %d); EnsureBuiltinWorkflows publishes it", Workflow, version)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.defs[d.Version] = d
	s.mu.Unlock()
	return d, nil
}

// ---- who sees what ----

// seesDrafts: working copies, revisions, history, feedback and flags.
func seesDrafts(actor accounts.User) bool { return actor.Can(accounts.PermArticlesReadDrafts) }

// seesInternal: a requester without articles:read_drafts sees only public
// articles; everyone else with articles:read sees internal ones too.
func seesInternal(actor accounts.User) bool {
	return seesDrafts(actor) || !actor.HasRole(accounts.RoleRequester)
}

func need(actor accounts.User, p accounts.Permission) error {
	if actor.Can(p) {
		return nil
	}
	return &ForbiddenError{Message: "this requires the permission " + string(p) + ", which your roles do not grant"}
}

// ---- rows (mapped onto the migrated tables; never AutoMigrate) ----

type articleRow struct {
	ID                    int64
	Title                 string
	Summary               string
	Body                  string
	Category              string
	Tags                  string // JSON array
	Language              string
	Audience              string
	OwnerID               int64
	Status                string
	StatusCategory        string
	WorkflowVersion       int
	StateEnteredAt        time.Time
	CurrentRevisionID     *int64
	RevisionNumber        int
	PublishedRevisionID   *int64
	PublishedAt           *time.Time
	Version               int
	ReuseCount            int
	HelpfulCount          int
	NotHelpfulCount       int
	FlaggedOutdatedAt     *time.Time
	FlaggedOutdatedBy     *int64
	FlaggedOutdatedReason string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

func (articleRow) TableName() string { return "articles" }

type revisionRow struct {
	ID        int64
	ArticleID int64
	Number    int
	Title     string
	Summary   string
	Body      string
	Category  string
	Tags      string
	Language  string
	Audience  string
	AuthorID  int64
	Note      string
	CreatedAt time.Time
}

func (revisionRow) TableName() string { return "article_revisions" }

type transitionRow struct {
	ID         int64
	ArticleID  int64
	Event      string
	FromState  string
	ToState    string
	RevisionID *int64
	ActorID    *int64
	Comment    string
	At         time.Time
}

func (transitionRow) TableName() string { return "article_transitions" }

type feedbackRow struct {
	ID        int64
	ArticleID int64
	TicketID  *int64
	UserID    int64
	Helpful   bool
	Comment   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (feedbackRow) TableName() string { return "article_feedback" }

type flagRow struct {
	ID                 int64
	ArticleID          int64
	TicketID           *int64
	UserID             int64
	Reason             string
	CreatedAt          time.Time
	ResolvedAt         *time.Time
	ResolvedRevisionID *int64
}

func (flagRow) TableName() string { return "article_flags" }

func encodeTags(tags []string) string {
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

func decodeTags(s string) []string {
	var out []string
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func idPtr(id int64) *int64 { return &id }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// working is the article as its working copy.
func (r articleRow) working(authorID int64) Article {
	a := r.common()
	a.View = ViewWorking
	a.Title, a.Summary, a.Body, a.Category = r.Title, r.Summary, r.Body, r.Category
	a.Tags, a.Language, a.Audience = decodeTags(r.Tags), r.Language, r.Audience
	a.RevisionID, a.Revision, a.AuthorID = deref(r.CurrentRevisionID), r.RevisionNumber, authorID
	return a
}

// published is the article as its published revision rev.
func (r articleRow) published(rev revisionRow) Article {
	a := r.common()
	a.View = ViewPublished
	a.Title, a.Summary, a.Body, a.Category = rev.Title, rev.Summary, rev.Body, rev.Category
	a.Tags, a.Language, a.Audience = decodeTags(rev.Tags), rev.Language, rev.Audience
	a.RevisionID, a.Revision, a.AuthorID = rev.ID, rev.Number, rev.AuthorID
	n := rev.Number
	a.PublishedRevision = &n
	return a
}

func (r articleRow) common() Article {
	a := Article{ID: r.ID, OwnerID: r.OwnerID, Status: r.Status, StatusCategory: workflow.Category(r.StatusCategory),
		WorkflowVersion: r.WorkflowVersion, StateEnteredAt: r.StateEnteredAt.UTC(),
		CurrentRevisionID: deref(r.CurrentRevisionID), CurrentRevision: r.RevisionNumber,
		PublishedRevisionID: r.PublishedRevisionID, PublishedAt: utcPtr(r.PublishedAt),
		Version: r.Version, ReuseCount: r.ReuseCount, HelpfulCount: r.HelpfulCount, NotHelpfulCount: r.NotHelpfulCount,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.FlaggedOutdatedAt != nil {
		a.Outdated = &OutdatedMark{At: r.FlaggedOutdatedAt.UTC(), By: r.FlaggedOutdatedBy, Reason: r.FlaggedOutdatedReason}
	}
	return a
}

func toRevision(r revisionRow, a *articleRow, withBody bool) Revision {
	rev := Revision{ID: r.ID, ArticleID: r.ArticleID, Number: r.Number, Title: r.Title, Summary: r.Summary,
		Category: r.Category, Tags: decodeTags(r.Tags), Language: r.Language, Audience: r.Audience,
		AuthorID: r.AuthorID, Note: r.Note, CreatedAt: r.CreatedAt.UTC()}
	if withBody {
		rev.Body = r.Body
	}
	if a != nil {
		rev.Current = a.CurrentRevisionID != nil && *a.CurrentRevisionID == r.ID
		rev.Published = a.PublishedRevisionID != nil && *a.PublishedRevisionID == r.ID
	}
	return rev
}

func articleEvent(typ string, id int64, payload any) outbox.Event {
	return outbox.Event{Type: typ, AggregateType: "article", AggregateID: strconv.FormatInt(id, 10), Payload: payload}
}

// loadRow reads article id (locked on MySQL when lock).
func (s *Service) loadRow(ctx context.Context, db *gorm.DB, id int64, lock bool) (articleRow, error) {
	var r articleRow
	q := db.WithContext(ctx)
	if lock {
		q = s.forUpdate(q)
	}
	if err := q.Where("id = ?", id).Take(&r).Error; err != nil {
		return r, notFound(err)
	}
	return r, nil
}

func (s *Service) revision(ctx context.Context, db *gorm.DB, id int64) (revisionRow, error) {
	var r revisionRow
	if err := db.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return r, notFound(err)
	}
	return r, nil
}

// visible returns what actor may see of r in view ("" = the default:
// working copy for staff, published revision for readers), or ErrNotFound.
func (s *Service) visible(ctx context.Context, db *gorm.DB, actor accounts.User, r articleRow, view string) (Article, error) {
	if !seesDrafts(actor) {
		view = ViewPublished
	}
	if view == ViewPublished {
		if r.PublishedRevisionID == nil {
			return Article{}, accounts.ErrNotFound
		}
		rev, err := s.revision(ctx, db, *r.PublishedRevisionID)
		if err != nil {
			return Article{}, err
		}
		if rev.Audience != AudiencePublic && !seesInternal(actor) {
			return Article{}, accounts.ErrNotFound
		}
		return r.published(rev), nil
	}
	var author int64
	if r.CurrentRevisionID != nil {
		if err := db.WithContext(ctx).Model(&revisionRow{}).Where("id = ?", *r.CurrentRevisionID).Select("author_id").Scan(&author).Error; err != nil {
			return Article{}, err
		}
	}
	a := r.working(author)
	if r.PublishedRevisionID != nil {
		var n int
		if err := db.WithContext(ctx).Model(&revisionRow{}).Where("id = ?", *r.PublishedRevisionID).Select("number").Scan(&n).Error; err != nil {
			return Article{}, err
		}
		a.PublishedRevision = &n
	}
	return a, nil
}
