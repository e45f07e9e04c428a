package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
)

// EventEscalate is the workflow event an escalation fires when the ticket's
// workflow offers it to the actor from the current state.
const EventEscalate = "escalate"

// Escalate records the escalation, moves the ticket and returns both;
// version 0 means no precondition. It needs tickets:escalate.
//
// Functional: to ToDepartmentID, or to the lowest-id department of Tier
// other than the current one; the assignee is cleared and the ticket is
// auto-assigned there. Hierarchical: the lead of ToDepartmentID (the
// ticket moves there) or of the ticket's department becomes the assignee.
// When the workflow has an "escalate" event the actor may fire now (with
// the reason as its "reason" field), it fires in the same transaction.
func (s *Service) Escalate(ctx context.Context, actor accounts.User, id int64, version int, in EscalationRequest) (Escalation, Ticket, error) {
	if !actor.Can(accounts.PermTicketsEscalate) {
		return Escalation{}, Ticket{}, &ForbiddenError{Permission: string(accounts.PermTicketsEscalate)}
	}
	v := &accounts.ValidationError{}
	kind := in.Kind
	if kind == "" {
		kind = EscalationFunctional
	}
	reason := strings.TrimSpace(in.Reason)
	switch n := utf8.RuneCountInString(reason); {
	case !checkUTF8(v, "reason", reason):
	case n == 0:
		v.Add("reason", "is required: say why the ticket needs to move up")
	case n > MaxEscalationNotes:
		v.Add("reason", fmt.Sprintf("must be at most %d characters (got %d)", MaxEscalationNotes, n))
	}
	var named *deptInfo
	switch kind {
	case EscalationFunctional:
		switch {
		case in.ToDepartmentID != nil && in.Tier != nil:
			v.Add("to_department_id", "name a department or a tier, not both")
		case in.ToDepartmentID == nil && in.Tier == nil:
			v.Add("to_department_id", "name the department (or the tier) to escalate to")
		case in.Tier != nil && *in.Tier < 1:
			v.Add("tier", "must be 1 or more")
		}
	case EscalationHierarchical:
		if in.Tier != nil {
			v.Add("tier", "only applies to functional escalation")
		}
	default:
		v.Add("kind", fmt.Sprintf("%q is not an escalation kind; use functional or hierarchical", in.Kind))
	}
	if in.ToDepartmentID != nil {
		d, err := s.department(ctx, s.conn(ctx), *in.ToDepartmentID)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			v.Add("to_department_id", fmt.Sprintf("unknown department %d", *in.ToDepartmentID))
		case err != nil:
			return Escalation{}, Ticket{}, err
		default:
			named = &d
		}
	}
	if err := v.Err(); err != nil {
		return Escalation{}, Ticket{}, err
	}

	var esc escalationRow
	var out Ticket
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		m, err := s.begin(ctx, tx, actor, id, version)
		if err != nil {
			return err
		}
		esc = escalationRow{TicketID: id, Kind: kind, FromDepartmentID: m.cur.DepartmentID, FromAssigneeID: m.cur.AssigneeID,
			Reason: reason, ByID: actor.ID, CreatedAt: m.now}
		if kind == EscalationFunctional {
			err = m.escalateFunctional(named, in.Tier, &esc)
		} else {
			err = m.escalateHierarchical(named, &esc)
		}
		if err != nil {
			return err
		}
		esc.ToDepartmentID, esc.ToAssigneeID = m.cur.DepartmentID, m.cur.AssigneeID
		if err := tx.Create(&esc).Error; err != nil {
			return err
		}
		m.events = append(m.events, ticketEvent(EventTicketEscalated, id, EscalatedEvent{ID: id, EscalationID: esc.ID, Kind: kind,
			DepartmentID: esc.ToDepartmentID, AssigneeID: esc.ToAssigneeID, Actor: actor.ID}))
		def, err := s.definition(ctx, tx, m.cur.WorkflowKey, m.cur.WorkflowVersion)
		if err != nil {
			return err
		}
		if _, ok := def.Event(EventEscalate); ok {
			if err := m.transition(EventEscalate, map[string]string{"reason": reason}); err != nil && !isWorkflowRefusal(err) {
				return err
			}
		}
		if err := m.finish(); err != nil {
			return err
		}
		out = m.ticket()
		return nil
	})
	if err != nil {
		return Escalation{}, Ticket{}, err
	}
	return toEscalation(esc), out, nil
}

func (m *mutation) escalateFunctional(named *deptInfo, tier *int, esc *escalationRow) error {
	var target deptInfo
	if named != nil {
		if m.cur.DepartmentID != nil && *m.cur.DepartmentID == named.ID {
			ve := &accounts.ValidationError{}
			ve.Add("to_department_id", fmt.Sprintf("the ticket is already in department %d", named.ID))
			return ve
		}
		target = *named
	} else {
		q := m.tx.Select("id, name, lead_id, tier, auto_assign, member_capacity").Where("tier = ?", *tier)
		if m.cur.DepartmentID != nil {
			q = q.Where("id <> ?", *m.cur.DepartmentID)
		}
		err := q.Order("id").Limit(1).Take(&target).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			ve := &accounts.ValidationError{}
			ve.Add("tier", fmt.Sprintf("no other department has tier %d", *tier))
			return ve
		}
		if err != nil {
			return err
		}
	}
	esc.Tier = target.Tier
	m.history(KindEscalation, "department_id", idString(m.cur.DepartmentID), idString(&target.ID), esc.Reason)
	m.hist[len(m.hist)-1].Event = EscalationFunctional
	m.setDepartment(idPtr(target.ID))
	m.setAssignee(nil, "escalated to department "+target.Name, false)
	return m.autoAssign(target)
}

func (m *mutation) escalateHierarchical(named *deptInfo, esc *escalationRow) error {
	dept := named
	if dept == nil {
		if m.cur.DepartmentID == nil {
			ve := &accounts.ValidationError{}
			ve.Add("to_department_id", "the ticket has no department; name the department whose lead takes it")
			return ve
		}
		d, err := m.s.department(m.ctx, m.tx, *m.cur.DepartmentID)
		if err != nil {
			return err
		}
		dept = &d
	}
	if dept.LeadID == nil {
		ve := &accounts.ValidationError{}
		field := "to_department_id"
		if named == nil {
			field = "department_id"
		}
		ve.Add(field, fmt.Sprintf("department %s has no lead to escalate to", dept.Name))
		return ve
	}
	esc.Tier = dept.Tier
	m.history(KindEscalation, "assignee_id", idString(m.cur.AssigneeID), idString(dept.LeadID), esc.Reason)
	m.hist[len(m.hist)-1].Event = EscalationHierarchical
	if named != nil {
		m.setDepartment(idPtr(named.ID))
	}
	m.setAssignee(idPtr(*dept.LeadID), "lead of "+dept.Name, false)
	return nil
}

func toEscalation(r escalationRow) Escalation {
	return Escalation{ID: r.ID, TicketID: r.TicketID, Kind: r.Kind, FromDepartmentID: r.FromDepartmentID, ToDepartmentID: r.ToDepartmentID,
		FromAssigneeID: r.FromAssigneeID, ToAssigneeID: r.ToAssigneeID, Tier: r.Tier, Reason: r.Reason, ByID: r.ByID, CreatedAt: r.CreatedAt.UTC()}
}

// Escalations lists a ticket's escalations, oldest first.
func (s *Service) Escalations(ctx context.Context, actor accounts.User, id int64) ([]Escalation, error) {
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, actor, id, false); err != nil {
		return nil, err
	}
	var rows []escalationRow
	if err := db.Where("ticket_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Escalation, len(rows))
	for i, r := range rows {
		out[i] = toEscalation(r)
	}
	return out, nil
}

// History lists every change of a ticket, oldest first. Actors who cannot
// read internal notes do not see the entries of internal notes either.
func (s *Service) History(ctx context.Context, actor accounts.User, id int64) ([]HistoryEntry, error) {
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, actor, id, false); err != nil {
		return nil, err
	}
	q := db.Where("ticket_id = ?", id)
	if !seesInternal(actor) {
		q = q.Where("NOT (kind = ? AND note = ?)", KindComment, "internal")
	}
	var rows []historyRow
	if err := q.Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, len(rows))
	for i, r := range rows {
		out[i] = HistoryEntry{ID: r.ID, TicketID: r.TicketID, ActorID: r.ActorID, At: r.At.UTC(), Kind: r.Kind, Field: r.Field,
			Event: r.Event, From: r.FromValue, To: r.ToValue, Note: r.Note}
	}
	return out, nil
}
