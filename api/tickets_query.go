package api

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// The query of GET /tickets: declared once here, both for the route table
// (documentation and the unknown-parameter check) and for the parser.

// Bounds on list filters; anything past them is a mistake or an attack.
const (
	maxQueryRunes   = 500 // q
	maxFilterValues = 50  // values of one repeatable filter
	maxFilterText   = 200 // category, tag
)

var (
	stateNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	ticketSorts      = []string{"newest", "oldest", "updated", "priority"}
	categories       = []workflow.Category{workflow.CategoryNew, workflow.CategoryOpen, workflow.CategoryPending,
		workflow.CategoryResolved, workflow.CategoryClosed}
)

func ticketListQuery() []*Parameter {
	return []*Parameter{
		queryParam("status", "string", true, "workflow state names, e.g. open, in_progress."),
		queryParam("status_category", "string", true, "state categories, the same across workflows.", "new", "open", "pending", "resolved", "closed"),
		queryParam("priority", "string", true, "priorities.", "P1", "P2", "P3", "P4"),
		queryParam("category", "string", false, "the ticket category, exactly."),
		queryParam("department_id", "integer", false, "tickets routed to this department."),
		{Name: "assignee_id", In: "query", Description: `tickets assigned to this user, or "none" for unassigned ones.`,
			Schema: &Schema{AnyOf: []*Schema{{Type: "integer", Format: "int64"}, {Type: "string", Enum: []any{"none"}}}}},
		queryParam("requester_id", "integer", false, "tickets opened by or for this user."),
		queryParam("tag", "string", false, "tickets carrying this tag."),
		queryParam("created_from", "date-time", false, "created at or after this time (a date alone: from its start, UTC)."),
		queryParam("created_to", "date-time", false, "created before this time (exclusive; a date alone includes that whole day, UTC)."),
		queryParam("q", "string", false, fmt.Sprintf("full text over subject, description and comments, Chinese and English (at most %d characters).", maxQueryRunes)),
		queryParam("sort", "string", false, "order; default newest.", ticketSorts...),
		queryParam("sla", "string", false, "breached: some SLA clock of the ticket breached and the ticket is not closed; "+
			"due_soon: a running clock that has not breached is due within due_within_minutes from now.", tickets.SLABreached, tickets.SLADueSoon),
		queryParam("due_within_minutes", "integer", false, fmt.Sprintf("with sla=due_soon: the horizon in minutes, 1 to %d; default %d.",
			int(tickets.MaxSLADueWithin/time.Minute), int(tickets.DefaultSLADueWithin/time.Minute))),
	}
}

// ticketQuery is a parsed GET /tickets query.
type ticketQuery struct {
	Filter tickets.Filter
	Cursor string
	Limit  int
}

// parseTicketQuery reads the filters, limit and cursor of GET /tickets. On
// failure it returns the detail and one error per bad parameter (all of
// them, not just the first); the status is always 400. Unknown parameters
// are the route's onlyQuery's business.
func parseTicketQuery(q url.Values) (ticketQuery, string, []FieldError) {
	out := ticketQuery{Limit: DefaultLimit}
	var fe []FieldError
	bad := func(name, format string, args ...any) {
		fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
	}
	// one returns the single value of a parameter; empty means absent.
	one := func(name string) string {
		vs := q[name]
		if len(vs) > 1 {
			bad(name, "give it once, not %d times", len(vs))
			return ""
		}
		if len(vs) == 0 {
			return ""
		}
		if !utf8.ValidString(vs[0]) {
			bad(name, "is not valid UTF-8")
			return ""
		}
		return strings.TrimSpace(vs[0])
	}
	// many returns the values of a repeatable, comma-separated parameter.
	many := func(name string) []string {
		var vals []string
		for _, raw := range q[name] {
			if !utf8.ValidString(raw) {
				bad(name, "is not valid UTF-8")
				return nil
			}
			for _, v := range strings.Split(raw, ",") {
				if v = strings.TrimSpace(v); v != "" && !slices.Contains(vals, v) {
					vals = append(vals, v)
				}
			}
		}
		if len(vals) > maxFilterValues {
			bad(name, "at most %d values", maxFilterValues)
			return nil
		}
		return vals
	}
	id := func(name, raw, or string) *int64 {
		if raw == "" {
			return nil
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			bad(name, "must be a positive integer%s, not %q", or, clip(raw))
			return nil
		}
		return &n
	}
	text := func(name string) string {
		v := one(name)
		if utf8.RuneCountInString(v) > maxFilterText {
			bad(name, "at most %d characters", maxFilterText)
			return ""
		}
		return v
	}

	f := &out.Filter
	for _, s := range many("status") {
		if !stateNamePattern.MatchString(s) {
			bad("status", "%q is not a state name (lower case letters, digits, underscores)", clip(s))
			continue
		}
		f.Status = append(f.Status, s)
	}
	for _, s := range many("status_category") {
		if !slices.Contains(categories, workflow.Category(s)) {
			bad("status_category", "%q is not one of: new, open, pending, resolved, closed", clip(s))
			continue
		}
		f.StatusCategory = append(f.StatusCategory, workflow.Category(s))
	}
	for _, s := range many("priority") {
		if !slices.Contains(tickets.Priorities, s) {
			bad("priority", "%q is not one of: %s", clip(s), strings.Join(tickets.Priorities, ", "))
			continue
		}
		f.Priority = append(f.Priority, s)
	}
	f.Category = text("category")
	f.Tag = text("tag")
	f.DepartmentID = id("department_id", one("department_id"), "")
	f.RequesterID = id("requester_id", one("requester_id"), "")
	if raw := one("assignee_id"); strings.EqualFold(raw, "none") {
		f.Unassigned = true
	} else {
		f.AssigneeID = id("assignee_id", raw, ` or "none" for unassigned tickets`)
	}
	f.CreatedFrom = createdBound(one("created_from"), false, func(msg string) { bad("created_from", "%s", msg) })
	f.CreatedTo = createdBound(one("created_to"), true, func(msg string) { bad("created_to", "%s", msg) })
	if f.CreatedFrom != nil && f.CreatedTo != nil && f.CreatedTo.Before(*f.CreatedFrom) {
		bad("created_to", "is before created_from")
	}
	f.Q = one("q")
	if n := utf8.RuneCountInString(f.Q); n > maxQueryRunes {
		bad("q", "at most %d characters (got %d); search for the distinctive words", maxQueryRunes, n)
		f.Q = ""
	}
	if s := one("sort"); s != "" {
		if !slices.Contains(ticketSorts, s) {
			bad("sort", "%q is not one of: %s", clip(s), strings.Join(ticketSorts, ", "))
		}
		f.Sort = s
	}
	parseSLAFilter(f, one, bad)
	if raw := one("limit"); raw != "" {
		n, lfe := parseLimit(raw)
		if lfe != nil {
			fe = append(fe, *lfe)
		}
		out.Limit = n
	} else if _, sent := q["limit"]; sent && len(q["limit"]) == 1 {
		bad("limit", "must be 1..%d", MaxLimit)
	}
	out.Cursor = one("cursor")
	if len(out.Cursor) > 512 {
		bad("cursor", "too long")
	}

	if len(fe) == 0 {
		return out, "", nil
	}
	detail := "the query is invalid; see errors"
	if len(fe) == 1 {
		switch fe[0].Field {
		case "limit":
			detail = limitDetail(strings.Join(q["limit"], ","))
		case "cursor":
			detail = badCursorDetail
		default:
			detail = "query parameter " + fe[0].Field + " " + fe[0].Message
		}
	}
	return out, detail, fe
}

// parseSLAFilter reads sla and due_within_minutes into f.
func parseSLAFilter(f *tickets.Filter, one func(string) string, bad func(name, format string, args ...any)) {
	switch s := one("sla"); s {
	case "":
	case tickets.SLABreached, tickets.SLADueSoon:
		f.SLA = s
	default:
		bad("sla", "%q is not one of: %s, %s", clip(s), tickets.SLABreached, tickets.SLADueSoon)
	}
	raw := one("due_within_minutes")
	if raw == "" {
		return
	}
	maxMin := int(tickets.MaxSLADueWithin / time.Minute)
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil || n < 1 || n > maxMin:
		bad("due_within_minutes", "must be a whole number of minutes from 1 to %d, not %q", maxMin, clip(raw))
	case f.SLA != tickets.SLADueSoon:
		bad("due_within_minutes", "applies only with sla=due_soon")
	default:
		f.SLADueWithin = time.Duration(n) * time.Minute
	}
}

// createdBound parses RFC 3339 or a date. The upper bound is exclusive,
// so a date as the upper bound becomes the start of the next day: the whole
// day is included.
func createdBound(raw string, upper bool, bad func(string)) *time.Time {
	if raw == "" {
		return nil
	}
	var t time.Time
	if d, err := time.Parse(time.DateOnly, raw); err == nil {
		t = d
		if upper {
			t = d.AddDate(0, 0, 1)
		}
	} else if ts, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		t = ts.UTC().Truncate(time.Millisecond)
	} else {
		bad(fmt.Sprintf("%q is neither an RFC 3339 date-time (2026-03-01T09:00:00Z) nor a date (2026-03-01)", clip(raw)))
		return nil
	}
	if t.Year() < 1970 || t.Year() > 9998 {
		bad("must be between the years 1970 and 9998")
		return nil
	}
	return &t
}

// clip shortens an echoed value so a 10k-character mistake does not come
// back as a 10k-character error.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:60]) + "…"
}
