package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// NoArticleReasonField is the field that satisfies a Knowledge guard when
// no article is linked: the resolver says why no article applies.
const NoArticleReasonField = "no_article_reason"

// GuardKind tells the API which status a failed guard maps to.
type GuardKind string

const (
	// GuardForbidden: the caller lacks a role, permission or is not the
	// requester (403).
	GuardForbidden GuardKind = "forbidden"
	// GuardMissingFields: the request lacks required fields (422).
	GuardMissingFields GuardKind = "missing_fields"
	// GuardPrecondition: the ticket is not ready (no assignee, department
	// or knowledge link, or the time window has passed) (409).
	GuardPrecondition GuardKind = "precondition"
)

// GuardError says why an allowed event may not fire now, and what to do.
type GuardError struct {
	Event      string
	Kind       GuardKind
	Permission string   // the missing permission, for a permission guard
	Roles      []string // the roles that would pass, for a role guard
	Fields     []string // the missing fields (missing_fields, knowledge)
	Message    string
}

func (e *GuardError) Error() string { return e.Message }

// checkGuards returns the first failing guard of ev in the order forbidden,
// precondition, missing fields, so a caller who may not fire an event learns
// that before being asked for fields. With forOptions, the guards that a
// request can satisfy by sending fields are skipped.
func checkGuards(ev *Event, current State, s *Subject, forOptions bool) *GuardError {
	g := &ev.Guards
	fail := func(kind GuardKind, format string, args ...any) *GuardError {
		return &GuardError{Event: ev.Name, Kind: kind, Message: fmt.Sprintf(format, args...)}
	}

	if len(g.Roles) > 0 || g.RequesterOnly {
		roleOK := slices.ContainsFunc(g.Roles, func(r string) bool { return slices.Contains(s.Roles, r) })
		if !roleOK && !(g.RequesterOnly && s.IsRequester) {
			var e *GuardError
			switch {
			case len(g.Roles) == 0:
				e = fail(GuardForbidden, "only the ticket's requester may fire %q", ev.Name)
			case g.RequesterOnly:
				e = fail(GuardForbidden, "%q needs the ticket's requester or one of the roles %s", ev.Name, strings.Join(g.Roles, ", "))
			default:
				e = fail(GuardForbidden, "%q needs one of the roles %s", ev.Name, strings.Join(g.Roles, ", "))
			}
			e.Roles = slices.Clone(g.Roles)
			return e
		}
	}
	for _, perm := range g.Permissions {
		if s.Can == nil || !s.Can(perm) {
			e := fail(GuardForbidden, "%q needs the permission %s", ev.Name, perm)
			e.Permission = perm
			return e
		}
	}

	if g.AssigneeRequired && !s.HasAssignee {
		return fail(GuardPrecondition, "assign the ticket before firing %q", ev.Name)
	}
	if g.DepartmentRequired && !s.HasDepartment {
		return fail(GuardPrecondition, "route the ticket to a department before firing %q", ev.Name)
	}
	if g.Within != "" {
		window, err := time.ParseDuration(g.Within)
		if err != nil || window <= 0 {
			// Validate rejects this; an unvalidated definition fails closed.
			return fail(GuardPrecondition, "%q has an invalid time window %q", ev.Name, g.Within)
		}
		now := s.Now
		if now.IsZero() {
			now = time.Now()
		}
		// A zero StateEnteredAt means "unknown" and fails, never passes.
		if s.StateEnteredAt.IsZero() || now.Sub(s.StateEnteredAt) > window {
			since := fmt.Sprintf("of entering %q", current.Name)
			if current.Category == CategoryResolved {
				since = "of resolution"
			}
			return fail(GuardPrecondition, "%q is only possible within %s %s", ev.Name, window, since)
		}
	}
	if forOptions {
		return nil
	}
	if g.Knowledge && s.LinkedArticles <= 0 && blank(s.Fields, NoArticleReasonField) {
		e := fail(GuardPrecondition, "link a knowledge article or give %s before firing %q", NoArticleReasonField, ev.Name)
		e.Fields = []string{NoArticleReasonField}
		return e
	}

	var missing []string
	for _, f := range g.RequireFields {
		if blank(s.Fields, f) && !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		noun := "field"
		if len(missing) > 1 {
			noun = "fields"
		}
		e := fail(GuardMissingFields, "%q needs the %s %s", ev.Name, noun, strings.Join(missing, ", "))
		e.Fields = missing
		return e
	}
	return nil
}

// optionFields lists what a request for ev must carry: its required fields,
// plus no_article_reason when a Knowledge guard has no linked article.
func optionFields(ev *Event, s *Subject) []string {
	var fields []string
	for _, f := range ev.Guards.RequireFields {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if ev.Guards.Knowledge && s.LinkedArticles <= 0 && !slices.Contains(fields, NoArticleReasonField) {
		fields = append(fields, NoArticleReasonField)
	}
	return fields
}

func blank(fields map[string]string, name string) bool {
	return strings.TrimSpace(fields[name]) == ""
}
