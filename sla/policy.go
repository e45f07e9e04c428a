package sla

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
)

// Duration is a time.Duration written as a Go duration string ("4h30m") in
// JSON, as API.md specifies for targets.
type Duration time.Duration

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string such as "45m" or "8h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30m\" or \"8h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it like \"30m\", \"4h\" or \"1h30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Policy says which tickets it covers and what it promises them. Policies
// are ordered by Position; the first active one that matches a ticket wins.
type Policy struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Position   int       `json:"position"`
	Active     bool      `json:"active"`
	CalendarID *int64    `json:"calendar_id"` // nil: 24x7
	Match      Match     `json:"match"`
	Targets    []Target  `json:"targets"`
	Version    int       `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Match conditions; an empty list matches everything. All non-empty lists
// must match.
type Match struct {
	Priority     []string `json:"priority,omitempty"`      // P1..P4
	Type         []string `json:"type,omitempty"`          // workflow keys
	Category     []string `json:"category,omitempty"`      // ticket categories
	DepartmentID []int64  `json:"department_id,omitempty"` // the ticket's department
	Tier         []int    `json:"tier,omitempty"`          // the tier of the ticket's department
	// Organization matches the requester's organisation, taken as the domain
	// of their email address ("example.com").
	Organization []string `json:"organization,omitempty"`
}

// Target is one metric's promise.
type Target struct {
	Metric Metric   `json:"metric"`
	Within Duration `json:"within"` // business time
	// Warning point: WarnBefore the due instant, or WarnPercent of Within
	// elapsed; at most one of the two. Neither: no warning.
	WarnBefore  Duration `json:"warn_before,omitempty"`
	WarnPercent int      `json:"warn_percent,omitempty"`
	OnWarning   []Action `json:"on_warning,omitempty"`
	OnBreach    []Action `json:"on_breach,omitempty"`
}

// warnOffset is the business time after the start at which the warning is
// due, or -1 for no warning.
func (t Target) warnOffset() time.Duration {
	within := time.Duration(t.Within)
	switch {
	case t.WarnBefore > 0:
		return max(within-time.Duration(t.WarnBefore), 0)
	case t.WarnPercent > 0:
		return within * time.Duration(t.WarnPercent) / 100
	}
	return -1
}

// Action kinds.
const (
	ActionNotify        = "notify"
	ActionEscalate      = "escalate"
	ActionRaisePriority = "raise_priority"
)

// Notify recipients besides "user:<id>" and email addresses.
const (
	RecipientAssignee       = "assignee"
	RecipientDepartmentLead = "department_lead"
	RecipientDepartment     = "department"
)

// Action is what happens on a warning or a breach.
type Action struct {
	Action string `json:"action"` // notify, escalate, raise_priority
	// notify: "assignee", "department_lead", "department", "user:<id>" or an
	// email address.
	To []string `json:"to,omitempty"`
	// escalate: "functional" (to ToDepartmentID, or to Tier) or
	// "hierarchical" (to the lead of the ticket's department).
	Kind           string `json:"kind,omitempty"`
	ToDepartmentID *int64 `json:"to_department_id,omitempty"`
	Tier           *int   `json:"tier,omitempty"`
	// raise_priority: the priority to set; empty raises one step (P4 -> P3).
	Priority string `json:"priority,omitempty"`
}

var priorities = []string{"P1", "P2", "P3", "P4"}

// Validate lists every problem with p at once. Department and calendar
// existence are checked by the service, which knows the database.
func (p *Policy) Validate() *accounts.ValidationError {
	ve := &accounts.ValidationError{}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		ve.Add("name", "give the policy a name")
	} else if len([]rune(p.Name)) > 100 {
		ve.Add("name", "keep the name under 100 characters")
	}
	if p.Position < 0 {
		ve.Add("position", "position is 0 or more; lower positions are tried first")
	}
	for i, pr := range p.Match.Priority {
		if !slices.Contains(priorities, pr) {
			ve.Add(fmt.Sprintf("match.priority[%d]", i), fmt.Sprintf("%q is not a priority; use P1, P2, P3 or P4", pr))
		}
	}
	for i, t := range p.Match.Tier {
		if t < 1 {
			ve.Add(fmt.Sprintf("match.tier[%d]", i), "tiers start at 1")
		}
	}
	for i, o := range p.Match.Organization {
		if o == "" || strings.ContainsAny(o, "@ ") {
			ve.Add(fmt.Sprintf("match.organization[%d]", i), fmt.Sprintf("%q is not an email domain such as example.com", o))
		}
	}
	if len(p.Targets) == 0 {
		ve.Add("targets", "add at least one target (first_response, next_response or resolution)")
	}
	seen := map[Metric]bool{}
	for i, t := range p.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		if !slices.Contains(Metrics, t.Metric) {
			ve.Add(f+".metric", fmt.Sprintf("%q is not a metric; use first_response, next_response or resolution", t.Metric))
		} else if seen[t.Metric] {
			ve.Add(f+".metric", fmt.Sprintf("%s appears twice; one target per metric", t.Metric))
		}
		seen[t.Metric] = true
		if t.Within <= 0 {
			ve.Add(f+".within", "within must be a positive duration such as \"4h\"")
		} else if time.Duration(t.Within) > 365*24*time.Hour {
			ve.Add(f+".within", "within is at most a year")
		}
		if t.WarnBefore < 0 {
			ve.Add(f+".warn_before", "warn_before cannot be negative")
		}
		if t.WarnBefore > 0 && t.Within > 0 && t.WarnBefore >= t.Within {
			ve.Add(f+".warn_before", "warn_before must be shorter than within")
		}
		if t.WarnPercent < 0 || t.WarnPercent >= 100 {
			ve.Add(f+".warn_percent", "warn_percent is between 1 and 99")
		}
		if t.WarnBefore > 0 && t.WarnPercent > 0 {
			ve.Add(f+".warn_percent", "give warn_before or warn_percent, not both")
		}
		if len(t.OnWarning) > 0 && t.warnOffset() < 0 {
			ve.Add(f+".on_warning", "on_warning needs a warning point: set warn_before or warn_percent")
		}
		validateActions(ve, f+".on_warning", t.OnWarning)
		validateActions(ve, f+".on_breach", t.OnBreach)
	}
	if len(ve.Fields) == 0 {
		return nil
	}
	return ve
}

func validateActions(ve *accounts.ValidationError, field string, actions []Action) {
	if len(actions) > 10 {
		ve.Add(field, "at most 10 actions")
	}
	for i, a := range actions {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch a.Action {
		case ActionNotify:
			if len(a.To) == 0 {
				ve.Add(f+".to", "say whom to notify: assignee, department_lead, department, user:<id> or an email address")
			}
			for j, to := range a.To {
				if !validRecipient(to) {
					ve.Add(fmt.Sprintf("%s.to[%d]", f, j), fmt.Sprintf("%q is not a recipient; use assignee, department_lead, department, user:<id> or an email address", to))
				}
			}
		case ActionEscalate:
			switch a.Kind {
			case "functional":
				if (a.ToDepartmentID == nil) == (a.Tier == nil) {
					ve.Add(f, "a functional escalation names to_department_id or tier (one of them)")
				}
				if a.Tier != nil && *a.Tier < 1 {
					ve.Add(f+".tier", "tiers start at 1")
				}
			case "hierarchical":
				if a.ToDepartmentID != nil || a.Tier != nil {
					ve.Add(f, "a hierarchical escalation goes to the department lead; drop to_department_id and tier")
				}
			default:
				ve.Add(f+".kind", "kind is functional or hierarchical")
			}
		case ActionRaisePriority:
			if a.Priority != "" && !slices.Contains(priorities, a.Priority) {
				ve.Add(f+".priority", fmt.Sprintf("%q is not a priority; use P1..P4, or leave it out to raise one step", a.Priority))
			}
		default:
			ve.Add(f+".action", fmt.Sprintf("%q is not an action; use notify, escalate or raise_priority", a.Action))
		}
	}
}

func validRecipient(s string) bool {
	switch s {
	case RecipientAssignee, RecipientDepartmentLead, RecipientDepartment:
		return true
	}
	if id, ok := strings.CutPrefix(s, "user:"); ok {
		n, err := strconv.ParseInt(id, 10, 64)
		return err == nil && n > 0
	}
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " ,;<>")
}

// Facts are what policy matching looks at.
type Facts struct {
	Priority       string
	Type           string
	Category       string
	DepartmentID   *int64
	DepartmentTier int // 0 without a department
	RequesterEmail string
}

// Matches says whether p covers a ticket with these facts.
func (p *Policy) Matches(f Facts) bool {
	m := p.Match
	if len(m.Priority) > 0 && !slices.Contains(m.Priority, f.Priority) {
		return false
	}
	if len(m.Type) > 0 && !slices.Contains(m.Type, f.Type) {
		return false
	}
	if len(m.Category) > 0 && !slices.Contains(m.Category, f.Category) {
		return false
	}
	if len(m.DepartmentID) > 0 && (f.DepartmentID == nil || !slices.Contains(m.DepartmentID, *f.DepartmentID)) {
		return false
	}
	if len(m.Tier) > 0 && !slices.Contains(m.Tier, f.DepartmentTier) {
		return false
	}
	if len(m.Organization) > 0 {
		_, domain, _ := strings.Cut(strings.ToLower(f.RequesterEmail), "@")
		if !slices.ContainsFunc(m.Organization, func(o string) bool { return strings.EqualFold(o, domain) }) {
			return false
		}
	}
	return true
}

// Choose returns the first active policy, by position then id, matching f.
func Choose(policies []Policy, f Facts) (Policy, bool) {
	sorted := slices.Clone(policies)
	slices.SortStableFunc(sorted, func(a, b Policy) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return int(a.ID - b.ID)
	})
	for _, p := range sorted {
		if p.Active && p.Matches(f) {
			return p, true
		}
	}
	return Policy{}, false
}
