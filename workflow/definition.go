// Package workflow defines ticket (and article) state machines as data,
// validates them, and fires events through looplab/fsm. It is pure: no
// database, no HTTP. Callers load the stored state and the pinned
// definition, call Fire, and persist the result with a versioned update.
package workflow

import (
	"slices"
	"time"
)

// Category groups states across workflows, so lists, SLAs and reports can
// say "open" or "resolved" without knowing each workflow's state names.
type Category string

const (
	CategoryNew      Category = "new"
	CategoryOpen     Category = "open"
	CategoryPending  Category = "pending"
	CategoryResolved Category = "resolved"
	CategoryClosed   Category = "closed"
)

// SLABehaviour says what SLA clocks do while a ticket is in a state.
type SLABehaviour string

const (
	SLARunning SLABehaviour = "running"
	SLAPaused  SLABehaviour = "paused"
	SLAStopped SLABehaviour = "stopped"
)

// Definition is one published version of a workflow.
type Definition struct {
	Key     string  `json:"key" yaml:"key"`         // e.g. "support"; [a-z][a-z0-9_]{1,39}
	Version int     `json:"version" yaml:"version"` // set on publish; 0 in a draft
	Name    string  `json:"name" yaml:"name"`
	Initial string  `json:"initial" yaml:"initial"` // state a new ticket starts in
	States  []State `json:"states" yaml:"states"`
	Events  []Event `json:"events" yaml:"events"`
}

// State is one node of the machine.
type State struct {
	Name     string       `json:"name" yaml:"name"`
	Label    string       `json:"label,omitempty" yaml:"label,omitempty"`
	Category Category     `json:"category" yaml:"category"`
	SLA      SLABehaviour `json:"sla" yaml:"sla"`
}

// Event moves a ticket from any of From to To when its guards pass.
type Event struct {
	Name    string   `json:"name" yaml:"name"`
	Label   string   `json:"label,omitempty" yaml:"label,omitempty"`
	From    []string `json:"from" yaml:"from"`
	To      string   `json:"to" yaml:"to"`
	Guards  Guards   `json:"guards,omitempty" yaml:"guards,omitempty"`
	Actions []Action `json:"actions,omitempty" yaml:"actions,omitempty"`
}

// Guards must all pass for an event to fire.
type Guards struct {
	// Roles: the caller needs at least one of them (empty: any role).
	Roles []string `json:"roles,omitempty" yaml:"roles,omitempty"`
	// Permissions: the caller needs every one ("resource:action").
	Permissions []string `json:"permissions,omitempty" yaml:"permissions,omitempty"`
	// RequesterOnly: only the ticket's requester may fire it (e.g. a
	// customer confirming a resolution). Staff with Roles still may when
	// both are set.
	RequesterOnly bool `json:"requester_only,omitempty" yaml:"requester_only,omitempty"`
	// Fields that the transition request must carry, non-blank
	// (e.g. "resolution", "comment", "reason").
	RequireFields      []string `json:"require_fields,omitempty" yaml:"require_fields,omitempty"`
	AssigneeRequired   bool     `json:"assignee_required,omitempty" yaml:"assignee_required,omitempty"`
	DepartmentRequired bool     `json:"department_required,omitempty" yaml:"department_required,omitempty"`
	// Knowledge: at least one linked article, or a "no_article_reason" field.
	Knowledge bool `json:"knowledge,omitempty" yaml:"knowledge,omitempty"`
	// Within: only within this long after the ticket entered its current
	// state (Go duration, e.g. "168h" for a 7-day reopen window).
	Within string `json:"within,omitempty" yaml:"within,omitempty"`
}

// Action types. The caller applies actions after a successful transition;
// Fire only reports them, so a vetoed event has no side effects.
const (
	ActionAssignDepartment = "assign_department" // route to DepartmentID
	ActionUnassign         = "unassign"
	ActionAssignActor      = "assign_actor" // the caller picks the ticket up if it is unassigned
	ActionSetPriority      = "set_priority" // Priority P1..P4
	ActionNotify           = "notify"       // Notify: requester, assignee, department, lead
)

// Action is a side effect the caller applies after a successful transition.
type Action struct {
	Type         string `json:"type" yaml:"type"` // one of the Action* constants
	DepartmentID int64  `json:"department_id,omitempty" yaml:"department_id,omitempty"`
	Priority     string `json:"priority,omitempty" yaml:"priority,omitempty"` // P1..P4
	Notify       string `json:"notify,omitempty" yaml:"notify,omitempty"`     // requester, assignee, department, lead
}

// Subject is what guards look at: the caller and the ticket as it is now.
type Subject struct {
	Roles          []string
	Can            func(permission string) bool // nil: no permissions
	IsRequester    bool
	HasAssignee    bool
	HasDepartment  bool
	LinkedArticles int
	Fields         map[string]string // fields sent with the transition
	// Within guards compare Now-StateEnteredAt with their window. A zero
	// StateEnteredAt fails them (unknown is not "recent"); a zero Now
	// means time.Now(), but callers should pass their injected clock.
	StateEnteredAt time.Time
	Now            time.Time
}

// Option is an event the caller may fire now, with the fields it must send.
type Option struct {
	Event         string   `json:"event"`
	Label         string   `json:"label,omitempty"`
	To            string   `json:"to"`
	RequireFields []string `json:"require_fields,omitempty"`
}

// State returns the state called name.
func (d *Definition) State(name string) (State, bool) {
	if d == nil {
		return State{}, false
	}
	for _, st := range d.States {
		if st.Name == name {
			return st, true
		}
	}
	return State{}, false
}

// Event returns a copy of the event called name (the first one, should an
// unvalidated definition repeat it), so callers cannot mutate d through it.
func (d *Definition) Event(name string) (Event, bool) {
	if d == nil {
		return Event{}, false
	}
	for _, ev := range d.Events {
		if ev.Name == name {
			return ev.clone(), true
		}
	}
	return Event{}, false
}

func (e Event) clone() Event {
	e.From = slices.Clone(e.From)
	e.Guards.Roles = slices.Clone(e.Guards.Roles)
	e.Guards.Permissions = slices.Clone(e.Guards.Permissions)
	e.Guards.RequireFields = slices.Clone(e.Guards.RequireFields)
	e.Actions = slices.Clone(e.Actions)
	return e
}
