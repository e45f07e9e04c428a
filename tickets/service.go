package tickets

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/workflow"
)

// Service is the tickets domain over one database.
type Service struct {
	db    *database.DB
	acc   *accounts.Service
	index *search.Index
	now   func() time.Time

	fires   group[*fireCall] // concurrent calls share transactions (group.go)
	creates group[*createCall]

	mu     sync.RWMutex
	defs   map[defKey]*workflow.Definition // immutable once published
	latest map[string]latestVersion        // key -> latest version, briefly cached
}

type defKey struct {
	key     string
	version int
}

type latestVersion struct {
	version int
	at      time.Time
}

// latestTTL bounds how long a replica keeps creating tickets on a workflow
// version after another replica published a newer one. Publishing on this
// replica takes effect at once.
const latestTTL = 2 * time.Second

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

// New makes the service. acc resolves departments, leads and members.
func New(db *database.DB, acc *accounts.Service, opts ...Option) *Service {
	s := &Service{db: db, acc: acc, index: search.NewIndex(db), now: time.Now,
		defs: map[defKey]*workflow.Definition{}, latest: map[string]latestVersion{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock is the current time as stored: UTC, milliseconds.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// Search document type of tickets in the shared index.
const DocType = "ticket"

// Domain events written to the outbox in the transaction of the change.
const (
	EventTicketCreated      = "ticket:created"
	EventTicketUpdated      = "ticket:updated"
	EventTicketAssigned     = "ticket:assigned"
	EventTicketTransitioned = "ticket:transitioned"
	EventTicketEscalated    = "ticket:escalated"
	EventTicketMigrated     = "ticket:migrated"
	EventCommentAdded       = "comment:added"
	EventWorkflowPublished  = "workflow:published"
)

// History kinds.
const (
	KindCreated    = "created"
	KindField      = "field"
	KindState      = "state"
	KindAssignment = "assignment"
	KindEscalation = "escalation"
	KindComment    = "comment"
	KindLink       = "link"
	KindSLA        = "sla"
	KindMigration  = "workflow_migration"
)

// Event payloads. Consumers re-read the ticket; payloads say what happened.
type (
	// TicketEvent is the payload of ticket:created, ticket:updated and ticket:migrated.
	TicketEvent struct {
		ID      int64    `json:"id"`
		Changed []string `json:"changed,omitempty"`
		Actor   *int64   `json:"actor"`
	}
	// AssignedEvent is the payload of ticket:assigned.
	AssignedEvent struct {
		ID               int64  `json:"id"`
		FromDepartmentID *int64 `json:"from_department_id"`
		DepartmentID     *int64 `json:"department_id"`
		FromAssigneeID   *int64 `json:"from_assignee_id"`
		AssigneeID       *int64 `json:"assignee_id"`
		Auto             bool   `json:"auto"`
		Actor            *int64 `json:"actor"`
	}
	// TransitionedEvent is the payload of ticket:transitioned.
	TransitionedEvent struct {
		ID       int64                 `json:"id"`
		Event    string                `json:"event"`
		From     string                `json:"from"`
		To       string                `json:"to"`
		Category workflow.Category     `json:"category"`
		SLA      workflow.SLABehaviour `json:"sla"`
		Actions  []workflow.Action     `json:"actions,omitempty"`
		Actor    *int64                `json:"actor"`
	}
	// EscalatedEvent is the payload of ticket:escalated.
	EscalatedEvent struct {
		ID           int64  `json:"id"`
		EscalationID int64  `json:"escalation_id"`
		Kind         string `json:"kind"`
		DepartmentID *int64 `json:"department_id"`
		AssigneeID   *int64 `json:"assignee_id"`
		Actor        int64  `json:"actor"`
	}
	// CommentEvent is the payload of comment:added.
	CommentEvent struct {
		TicketID    int64 `json:"ticket_id"`
		CommentID   int64 `json:"comment_id"`
		Internal    bool  `json:"internal"`
		Author      int64 `json:"author"`
		ByRequester bool  `json:"by_requester"`
	}
)

func ticketEvent(typ string, id int64, payload any) outbox.Event {
	return outbox.Event{Type: typ, AggregateType: "ticket", AggregateID: strconv.FormatInt(id, 10), Payload: payload}
}

// Rows mapped onto the migrated tables; never used for AutoMigrate.
type ticketRow struct {
	ID              int64
	Subject         string
	Description     string
	Status          string
	StatusCategory  string
	Priority        string
	WorkflowKey     string
	WorkflowVersion int
	Category        string
	Channel         string
	CustomFields    string
	DepartmentID    *int64
	AssigneeID      *int64
	RequesterID     int64
	Version         int
	StateEnteredAt  time.Time
	ResolvedAt      *time.Time
	ClosedAt        *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (ticketRow) TableName() string { return "tickets" }

type tagRow struct {
	TicketID int64
	Tag      string
}

func (tagRow) TableName() string { return "ticket_tags" }

type commentRow struct {
	ID        int64
	TicketID  int64
	AuthorID  int64
	Body      string
	Internal  bool
	CreatedAt time.Time
}

func (commentRow) TableName() string { return "ticket_comments" }

type escalationRow struct {
	ID               int64
	TicketID         int64
	Kind             string
	FromDepartmentID *int64
	ToDepartmentID   *int64
	FromAssigneeID   *int64
	ToAssigneeID     *int64
	Tier             int
	Reason           string
	ByID             int64
	CreatedAt        time.Time
}

func (escalationRow) TableName() string { return "ticket_escalations" }

type historyRow struct {
	ID        int64
	TicketID  int64
	ActorID   *int64
	At        time.Time
	Kind      string
	Field     string
	Event     string
	FromValue string
	ToValue   string
	Note      string
}

func (historyRow) TableName() string { return "ticket_history" }

type linkRow struct {
	TicketID  int64
	ArticleID int64
	Kind      string
	CreatedBy *int64
	CreatedAt time.Time
}

func (linkRow) TableName() string { return "ticket_article_links" }

type assignmentRow struct {
	DepartmentID   int64 `gorm:"primaryKey;autoIncrement:false"`
	LastAssigneeID *int64
}

func (assignmentRow) TableName() string { return "department_assignment" }

type workflowRow struct {
	Key        string `gorm:"column:key;primaryKey"`
	Version    int    `gorm:"primaryKey;autoIncrement:false"`
	Name       string
	Definition string
	CreatedBy  *int64
	CreatedAt  time.Time
}

func (workflowRow) TableName() string { return "workflow_definitions" }

// errRetry asks inTx to run the whole transaction again.
var errRetry = errors.New("tickets: retry transaction")

// inTx runs fn in one transaction (READ COMMITTED on MySQL, see
// database.Open, so a count taken after a lock sees every transaction that
// held the lock before). Deadlocks and errRetry run fn again a few times.
func (s *Service) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.runTx(ctx, nil, fn)
}

func (s *Service) runTx(ctx context.Context, opts []*sql.TxOptions, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.conn(ctx).Transaction(fn, opts...)
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 3 * time.Millisecond):
		}
	}
	if errors.Is(err, errRetry) {
		return accounts.ErrVersionConflict
	}
	return err
}

func retryable(err error) bool {
	return errors.Is(err, errRetry) || database.IsRetryable(err)
}

// forUpdate locks the rows a query reads on MySQL; SQLite transactions are
// already serialised (immediate).
func (s *Service) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.db.Dialect == database.MySQL {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// notFound maps gorm's miss to the domain error.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return accounts.ErrNotFound
	}
	return err
}

func idPtr(id int64) *int64 { return &id }

func eqID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func idString(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	}
	return n
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func roleNames(rs []accounts.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}
