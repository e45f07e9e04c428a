package api

import (
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Request and response bodies of /tickets and /workflows (see types.go for
// the tags the schema reflector reads).

func init() {
	enumOf[reflect.TypeFor[workflow.Category]()] = []any{
		string(workflow.CategoryNew), string(workflow.CategoryOpen), string(workflow.CategoryPending),
		string(workflow.CategoryResolved), string(workflow.CategoryClosed)}
	enumOf[reflect.TypeFor[workflow.SLABehaviour]()] = []any{
		string(workflow.SLARunning), string(workflow.SLAPaused), string(workflow.SLAStopped)}
}

const (
	priorityEnum   = "P1,P2,P3,P4"
	channelEnum    = "web,api,email,phone,chat"
	escalationEnum = tickets.EscalationFunctional + "," + tickets.EscalationHierarchical
)

// TicketResponse is a ticket as the API shows it.
type TicketResponse struct {
	ID              int64             `json:"id"`
	Subject         string            `json:"subject"`
	Description     string            `json:"description"`
	Status          string            `json:"status" doc:"the workflow state"`
	StatusCategory  workflow.Category `json:"status_category" doc:"the state's category, the same across workflows"`
	Priority        string            `json:"priority" enum:"P1,P2,P3,P4"`
	Type            string            `json:"type" doc:"the workflow key"`
	WorkflowVersion int               `json:"workflow_version" doc:"the workflow version the ticket runs on until an admin migrates it"`
	Category        string            `json:"category"`
	Tags            []string          `json:"tags"`
	Channel         string            `json:"channel" enum:"web,api,email,phone,chat"`
	CustomFields    map[string]string `json:"custom_fields"`
	DepartmentID    *int64            `json:"department_id"`
	AssigneeID      *int64            `json:"assignee_id"`
	RequesterID     int64             `json:"requester_id"`
	LinkedArticles  int               `json:"linked_articles" doc:"knowledge articles linked to the ticket"`
	Version         int               `json:"version" doc:"also sent as the ETag header"`
	StateEnteredAt  time.Time         `json:"state_entered_at"`
	ResolvedAt      *time.Time        `json:"resolved_at"`
	ClosedAt        *time.Time        `json:"closed_at"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	// SLA is filled by handlers.withSLA (one query per page).
	SLA []SLAClockResponse `json:"sla" doc:"the SLA clocks, one per metric (as GET /tickets/{id}/sla); empty without a matching policy, or for callers without sla:read"`
}

func ticketResponse(t tickets.Ticket) TicketResponse {
	cf := t.CustomFields
	if cf == nil {
		cf = map[string]string{}
	}
	return TicketResponse{ID: t.ID, Subject: t.Subject, Description: t.Description, Status: t.Status,
		StatusCategory: t.StatusCategory, Priority: t.Priority, Type: t.Type, WorkflowVersion: t.WorkflowVersion,
		Category: t.Category, Tags: nonNil(t.Tags), Channel: t.Channel, CustomFields: cf,
		DepartmentID: t.DepartmentID, AssigneeID: t.AssigneeID, RequesterID: t.RequesterID,
		LinkedArticles: t.LinkedArticles, Version: t.Version, StateEnteredAt: t.StateEnteredAt,
		ResolvedAt: t.ResolvedAt, ClosedAt: t.ClosedAt, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		SLA: []SLAClockResponse{}}
}

// CreateTicketRequest opens a ticket.
type CreateTicketRequest struct {
	Subject      string            `json:"subject"`
	Description  string            `json:"description,omitempty"`
	Priority     string            `json:"priority,omitempty" enum:"P1,P2,P3,P4" doc:"default P3"`
	Type         string            `json:"type,omitempty" doc:"workflow key; default support"`
	Category     string            `json:"category,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
	Channel      string            `json:"channel,omitempty" enum:"web,api,email,phone,chat" doc:"default api"`
	CustomFields map[string]string `json:"custom_fields,omitempty" doc:"string values, up to 50 keys"`
	RequesterID  *int64            `json:"requester_id,omitempty" doc:"default: the caller; staff may open a ticket on a requester's behalf"`
	DepartmentID *int64            `json:"department_id,omitempty" doc:"default: none (the front line)"`
	AssigneeID   *int64            `json:"assignee_id,omitempty" doc:"default: auto-assignment if the department uses it"`
}

// Validate catches what the domain would read as "use the default".
func (r *CreateTicketRequest) Validate() []FieldError {
	var fe []FieldError
	fe = positiveID(fe, "requester_id", r.RequesterID)
	fe = positiveID(fe, "department_id", r.DepartmentID)
	fe = positiveID(fe, "assignee_id", r.AssigneeID)
	return fe
}

func (r *CreateTicketRequest) input() tickets.NewTicket {
	in := tickets.NewTicket{Subject: r.Subject, Description: r.Description, Priority: r.Priority, Type: r.Type,
		Category: r.Category, Tags: r.Tags, Channel: r.Channel, CustomFields: r.CustomFields,
		DepartmentID: r.DepartmentID, AssigneeID: r.AssigneeID}
	if r.RequesterID != nil {
		in.RequesterID = *r.RequesterID
	}
	return in
}

func positiveID(fe []FieldError, name string, id *int64) []FieldError {
	if id != nil && *id < 1 {
		fe = append(fe, FieldError{Field: name, Message: "must be a positive id"})
	}
	return fe
}

// UpdateTicketRequest changes the fields present; department_id and
// assignee_id null clear them. Status changes go through transitions.
type UpdateTicketRequest struct {
	Subject      Optional[string]            `json:"subject,omitzero"`
	Description  Optional[string]            `json:"description,omitzero"`
	Priority     Optional[string]            `json:"priority,omitzero" enum:"P1,P2,P3,P4"`
	Category     Optional[string]            `json:"category,omitzero"`
	Tags         Optional[[]string]          `json:"tags,omitzero" doc:"replaces the tags"`
	CustomFields Optional[map[string]string] `json:"custom_fields,omitzero" doc:"replaces the custom fields"`
	DepartmentID Nullable[int64]             `json:"department_id,omitzero" doc:"null clears the department"`
	AssigneeID   Nullable[int64]             `json:"assignee_id,omitzero" doc:"null unassigns"`
}

// Validate rejects a PATCH that would change nothing, and non-positive ids.
func (r *UpdateTicketRequest) Validate() []FieldError {
	if !r.Subject.Set && !r.Description.Set && !r.Priority.Set && !r.Category.Set && !r.Tags.Set &&
		!r.CustomFields.Set && !r.DepartmentID.Set && !r.AssigneeID.Set {
		return []FieldError{{Field: "body", Message: "send at least one of: subject, description, priority, category, tags, custom_fields, department_id, assignee_id"}}
	}
	var fe []FieldError
	if r.DepartmentID.Set && !r.DepartmentID.Null && r.DepartmentID.Value < 1 {
		fe = append(fe, FieldError{Field: "department_id", Message: "must be a positive id, or null to clear"})
	}
	if r.AssigneeID.Set && !r.AssigneeID.Null && r.AssigneeID.Value < 1 {
		fe = append(fe, FieldError{Field: "assignee_id", Message: "must be a positive id, or null to unassign"})
	}
	return fe
}

func (r *UpdateTicketRequest) patch() tickets.Patch {
	p := tickets.Patch{Subject: r.Subject.Ptr(), Description: r.Description.Ptr(), Priority: r.Priority.Ptr(),
		Category: r.Category.Ptr(), Tags: r.Tags.Ptr(), CustomFields: r.CustomFields.Ptr()}
	if r.DepartmentID.Set {
		if r.DepartmentID.Null {
			p.ClearDepartment = true
		} else {
			v := r.DepartmentID.Value
			p.DepartmentID = &v
		}
	}
	if r.AssigneeID.Set {
		if r.AssigneeID.Null {
			p.ClearAssignee = true
		} else {
			v := r.AssigneeID.Value
			p.AssigneeID = &v
		}
	}
	return p
}

// CommentResponse is a public reply or an internal note.
type CommentResponse struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal" doc:"an internal note, never shown to requesters"`
	CreatedAt time.Time `json:"created_at"`
}

func commentResponse(cm tickets.Comment) CommentResponse {
	return CommentResponse{ID: cm.ID, TicketID: cm.TicketID, AuthorID: cm.AuthorID, Body: cm.Body,
		Internal: cm.Internal, CreatedAt: cm.CreatedAt}
}

// CreateCommentRequest adds a comment.
type CreateCommentRequest struct {
	Body     string `json:"body"`
	Internal bool   `json:"internal,omitempty" doc:"true for an internal note (staff only); default false, a public reply"`
}

// TransitionOption is an event the caller may fire now.
type TransitionOption struct {
	Event         string   `json:"event"`
	Label         string   `json:"label" doc:"for buttons; may be empty"`
	To            string   `json:"to" doc:"the state the event leads to"`
	RequireFields []string `json:"require_fields" doc:"send these non-blank in fields; a required comment goes in comment"`
}

// TransitionsResponse is where a ticket is and where the caller may take it.
type TransitionsResponse struct {
	State          string             `json:"state"`
	StatusCategory workflow.Category  `json:"status_category"`
	Version        int                `json:"version" doc:"the ticket version; also the ETag, for If-Match on the POST"`
	Items          []TransitionOption `json:"items" doc:"exactly the events the caller may fire now, in workflow order"`
}

// TransitionRequest fires a workflow event.
type TransitionRequest struct {
	Event   string            `json:"event"`
	Comment string            `json:"comment,omitempty" doc:"a public reply recorded with the event; also satisfies a required comment field"`
	Fields  map[string]string `json:"fields,omitempty" doc:"values the event requires, e.g. resolution, no_article_reason, reason"`
}

// Validate keeps an event name something a workflow could define.
func (r *TransitionRequest) Validate() []FieldError {
	if r.Event == "" || len(r.Event) > 40 {
		return []FieldError{{Field: "event", Message: "must be an event name (1-40 characters); GET the transitions to see which"}}
	}
	return nil
}

// EscalationResponse is one escalation record.
type EscalationResponse struct {
	ID               int64     `json:"id"`
	TicketID         int64     `json:"ticket_id"`
	Kind             string    `json:"kind" enum:"functional,hierarchical"`
	FromDepartmentID *int64    `json:"from_department_id"`
	ToDepartmentID   *int64    `json:"to_department_id"`
	FromAssigneeID   *int64    `json:"from_assignee_id"`
	ToAssigneeID     *int64    `json:"to_assignee_id"`
	Tier             int       `json:"tier"`
	Reason           string    `json:"reason"`
	ByID             int64     `json:"by_id" doc:"who escalated"`
	CreatedAt        time.Time `json:"created_at"`
}

func escalationResponse(e tickets.Escalation) EscalationResponse {
	return EscalationResponse{ID: e.ID, TicketID: e.TicketID, Kind: e.Kind, FromDepartmentID: e.FromDepartmentID,
		ToDepartmentID: e.ToDepartmentID, FromAssigneeID: e.FromAssigneeID, ToAssigneeID: e.ToAssigneeID,
		Tier: e.Tier, Reason: e.Reason, ByID: e.ByID, CreatedAt: e.CreatedAt}
}

// CreateEscalationRequest escalates a ticket: functionally to a department
// (to_department_id) or the first department of a tier (tier), or
// hierarchically to the lead of the ticket's (or the named) department.
type CreateEscalationRequest struct {
	Kind           string `json:"kind" enum:"functional,hierarchical"`
	ToDepartmentID *int64 `json:"to_department_id,omitempty"`
	Tier           *int   `json:"tier,omitempty" doc:"functional only, instead of to_department_id"`
	Reason         string `json:"reason"`
}

// Validate checks the shape; the domain checks the departments.
func (r *CreateEscalationRequest) Validate() []FieldError {
	var fe []FieldError
	fe = positiveID(fe, "to_department_id", r.ToDepartmentID)
	if r.Tier != nil && *r.Tier < 1 {
		fe = append(fe, FieldError{Field: "tier", Message: "must be 1 or more"})
	}
	if r.Kind == tickets.EscalationFunctional && r.ToDepartmentID != nil && r.Tier != nil {
		fe = append(fe, FieldError{Field: "tier", Message: "send to_department_id or tier, not both"})
	}
	if r.Kind == tickets.EscalationFunctional && r.ToDepartmentID == nil && r.Tier == nil {
		fe = append(fe, FieldError{Field: "to_department_id", Message: "functional escalation needs to_department_id or tier"})
	}
	if strings.TrimSpace(r.Reason) == "" {
		fe = append(fe, FieldError{Field: "reason", Message: "say why the ticket is escalated"})
	}
	return fe
}

func (r *CreateEscalationRequest) input() tickets.EscalationRequest {
	return tickets.EscalationRequest{Kind: r.Kind, ToDepartmentID: r.ToDepartmentID, Tier: r.Tier, Reason: r.Reason}
}

// EscalatedResponse is the escalation and the ticket it moved.
type EscalatedResponse struct {
	Escalation EscalationResponse `json:"escalation"`
	Ticket     TicketResponse     `json:"ticket" doc:"the ticket after the escalation; its version is also the ETag"`
}

// HistoryEntryResponse is one change to a ticket.
type HistoryEntryResponse struct {
	ID      int64     `json:"id"`
	ActorID *int64    `json:"actor_id" doc:"who; null for the system (SLA, automation)"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind" enum:"created,field,state,assignment,escalation,comment,link,sla,workflow_migration"`
	Field   string    `json:"field,omitempty" doc:"for kind field: which field; for kind sla: the metric"`
	Event   string    `json:"event,omitempty" doc:"for kind state: the workflow event; for kind sla: started, warning, breach, met, recomputed, paused, running, stopped or policy"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Note    string    `json:"note,omitempty"`
}

func historyResponse(h tickets.HistoryEntry) HistoryEntryResponse {
	return HistoryEntryResponse{ID: h.ID, ActorID: h.ActorID, At: h.At, Kind: h.Kind, Field: h.Field,
		Event: h.Event, From: h.From, To: h.To, Note: h.Note}
}

// WorkflowSummaryResponse names a workflow and its latest version.
type WorkflowSummaryResponse struct {
	Key           string    `json:"key"`
	Name          string    `json:"name"`
	LatestVersion int       `json:"latest_version"`
	PublishedAt   time.Time `json:"published_at"`
}

// PublishWorkflowRequest documents the body of POST /workflows, which is
// read by workflow.Parse into a workflow.Definition (the same document GET
// /workflows/{key} answers, so a fetched definition can be edited and sent
// back).
type PublishWorkflowRequest struct {
	Key     string           `json:"key" doc:"[a-z][a-z0-9_]{1,39}; publishing an existing key adds a version"`
	Version int              `json:"version,omitempty" doc:"ignored: publishing assigns the next version"`
	Name    string           `json:"name"`
	Initial string           `json:"initial" doc:"the state new tickets start in"`
	States  []workflow.State `json:"states"`
	Events  []workflow.Event `json:"events"`
}

// WorkflowMigrationRequest moves a workflow's open tickets between versions.
type WorkflowMigrationRequest struct {
	FromVersion int               `json:"from_version"`
	ToVersion   int               `json:"to_version"`
	StateMap    map[string]string `json:"state_map,omitempty" doc:"old state -> new state; every state open tickets are in must be mapped, even to the same name"`
}

// Validate checks the versions are versions.
func (r *WorkflowMigrationRequest) Validate() []FieldError {
	var fe []FieldError
	if r.FromVersion < 1 {
		fe = append(fe, FieldError{Field: "from_version", Message: "must be 1 or more"})
	}
	if r.ToVersion < 1 {
		fe = append(fe, FieldError{Field: "to_version", Message: "must be 1 or more"})
	}
	if r.FromVersion >= 1 && r.FromVersion == r.ToVersion {
		fe = append(fe, FieldError{Field: "to_version", Message: "must differ from from_version"})
	}
	for k, v := range r.StateMap {
		if !utf8.ValidString(k) || len(k) > 40 || len(v) > 40 {
			fe = append(fe, FieldError{Field: "state_map", Message: "keys and values are state names (at most 40 characters)"})
			break
		}
	}
	return fe
}

// WorkflowMigrationResponse says how many tickets moved.
type WorkflowMigrationResponse struct {
	Migrated int `json:"migrated"`
}
