// Package tickets owns tickets, comments, assignment, escalations, history
// and the stored workflow versions. Every change is one transaction that
// also writes its history rows and outbox events.
package tickets

import (
	"errors"
	"time"

	"github.com/loopdesk/loopdesk/workflow"
)

// Priorities, most urgent first.
var Priorities = []string{"P1", "P2", "P3", "P4"}

// Escalation kinds.
const (
	EscalationFunctional   = "functional"   // to another department or a higher tier
	EscalationHierarchical = "hierarchical" // to the department lead
)

// Ticket is a request moving through its workflow.
type Ticket struct {
	ID              int64             `json:"id"`
	Subject         string            `json:"subject"`
	Description     string            `json:"description"`
	Status          string            `json:"status"`          // workflow state name
	StatusCategory  workflow.Category `json:"status_category"` // new, open, pending, resolved, closed
	Priority        string            `json:"priority"`        // P1..P4
	Type            string            `json:"type"`            // workflow key
	WorkflowVersion int               `json:"workflow_version"`
	Category        string            `json:"category"`
	Tags            []string          `json:"tags"`
	Channel         string            `json:"channel"` // web, api, email, phone, chat
	CustomFields    map[string]string `json:"custom_fields"`
	DepartmentID    *int64            `json:"department_id"`
	AssigneeID      *int64            `json:"assignee_id"`
	RequesterID     int64             `json:"requester_id"`
	LinkedArticles  int               `json:"linked_articles"`
	Version         int               `json:"version"`
	StateEnteredAt  time.Time         `json:"state_entered_at"`
	ResolvedAt      *time.Time        `json:"resolved_at"`
	ClosedAt        *time.Time        `json:"closed_at"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// NewTicket is the input to Create.
type NewTicket struct {
	Subject      string
	Description  string
	Priority     string // default P3
	Type         string // workflow key; default "support"
	Category     string
	Tags         []string
	Channel      string            // default "api"
	CustomFields map[string]string // up to 50 keys
	RequesterID  int64             // 0: the caller
	DepartmentID *int64            // nil: none (front line)
	AssigneeID   *int64            // nil: auto-assign if the department says so
}

// Patch changes the non-nil fields. Clear* removes a department/assignee.
type Patch struct {
	Subject         *string
	Description     *string
	Priority        *string
	Category        *string
	Tags            *[]string
	CustomFields    *map[string]string
	DepartmentID    *int64
	ClearDepartment bool
	AssigneeID      *int64
	ClearAssignee   bool
}

// Transition is a request to fire a workflow event.
type Transition struct {
	Event   string
	Comment string            // optional public reply recorded with the event
	Fields  map[string]string // e.g. resolution, no_article_reason, reason
}

// Comment is a public reply or an internal note.
type Comment struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

// NewComment is the input to AddComment.
type NewComment struct {
	Body     string
	Internal bool
}

// EscalationRequest asks to move a ticket up. Functional escalation names a
// department or a tier (the lowest-id department of that tier); hierarchical
// goes to the lead of the ticket's (or the named) department.
type EscalationRequest struct {
	Kind           string
	ToDepartmentID *int64
	Tier           *int
	Reason         string
}

// Escalation is the record of one escalation.
type Escalation struct {
	ID               int64     `json:"id"`
	TicketID         int64     `json:"ticket_id"`
	Kind             string    `json:"kind"`
	FromDepartmentID *int64    `json:"from_department_id"`
	ToDepartmentID   *int64    `json:"to_department_id"`
	FromAssigneeID   *int64    `json:"from_assignee_id"`
	ToAssigneeID     *int64    `json:"to_assignee_id"`
	Tier             int       `json:"tier"`
	Reason           string    `json:"reason"`
	ByID             int64     `json:"by_id"`
	CreatedAt        time.Time `json:"created_at"`
}

// HistoryEntry is one append-only change record.
type HistoryEntry struct {
	ID       int64     `json:"id"`
	TicketID int64     `json:"ticket_id"`
	ActorID  *int64    `json:"actor_id"` // nil: the system (SLA, automation)
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"` // created, field, state, assignment, escalation, comment, link, sla, workflow_migration
	Field    string    `json:"field,omitempty"`
	Event    string    `json:"event,omitempty"` // the workflow event of a state change
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Filter narrows a ticket list. Zero values mean "any".
type Filter struct {
	Status         []string
	StatusCategory []workflow.Category
	Priority       []string
	Category       string
	DepartmentID   *int64
	AssigneeID     *int64
	Unassigned     bool
	RequesterID    *int64
	Tag            string
	CreatedFrom    *time.Time
	CreatedTo      *time.Time
	Q              string // full text over subject, description, comments (Chinese and English)
	Sort           string // newest (default), oldest, updated, priority
	// SLA is "", SLABreached or SLADueSoon (see sla_filter.go);
	// SLADueWithin is the due_soon horizon (0: DefaultSLADueWithin).
	SLA          string
	SLADueWithin time.Duration
}

// Page is one page of a list; NextCursor is empty at the end.
type Page struct {
	Items      []Ticket
	NextCursor string
}

// WorkflowSummary lists a workflow key with its latest version.
type WorkflowSummary struct {
	Key           string    `json:"key"`
	Name          string    `json:"name"`
	LatestVersion int       `json:"latest_version"`
	PublishedAt   time.Time `json:"published_at"`
}

// Errors beyond the shared ones in accounts (ErrNotFound, ErrVersionConflict,
// *ValidationError) and workflow's transition errors.
var (
	ErrForbidden = errors.New("you may not do this to this ticket")
)

// ForbiddenError names the permission the caller lacks.
type ForbiddenError struct{ Permission string }

func (e *ForbiddenError) Error() string {
	return "this requires the permission " + e.Permission + ", which your roles do not grant"
}

func (e *ForbiddenError) Unwrap() error { return ErrForbidden }
