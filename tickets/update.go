package tickets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
)

// Update changes the non-nil fields of p if the stored version is still
// version (0: no precondition). It needs tickets:write, and tickets:assign
// for department or assignee changes. A ticket moved to another department
// without an assignee who works there is auto-assigned there.
func (s *Service) Update(ctx context.Context, actor accounts.User, id int64, version int, p Patch) (Ticket, error) {
	if !actor.Can(accounts.PermTicketsWrite) {
		return Ticket{}, &ForbiddenError{Permission: string(accounts.PermTicketsWrite)}
	}
	routing := p.DepartmentID != nil || p.ClearDepartment || p.AssigneeID != nil || p.ClearAssignee
	if routing && !actor.Can(accounts.PermTicketsAssign) {
		return Ticket{}, &ForbiddenError{Permission: string(accounts.PermTicketsAssign)}
	}
	v := &accounts.ValidationError{}
	var subject, category string
	if p.Subject != nil {
		subject = checkSubject(v, *p.Subject)
	}
	if p.Description != nil {
		checkDescription(v, *p.Description)
	}
	if p.Priority != nil {
		checkPriority(v, "priority", *p.Priority)
	}
	if p.Category != nil {
		category = checkCategory(v, *p.Category)
	}
	var tags []string
	if p.Tags != nil {
		tags = normalizeTags(v, *p.Tags)
	}
	var custom map[string]string
	if p.CustomFields != nil {
		custom = checkCustomFields(v, *p.CustomFields)
	}
	if p.ClearDepartment && p.DepartmentID != nil {
		v.Add("department_id", "set a department or clear it, not both")
	}
	if p.ClearAssignee && p.AssigneeID != nil {
		v.Add("assignee_id", "set an assignee or clear it, not both")
	}
	var dept *deptInfo
	if p.DepartmentID != nil {
		d, err := s.department(ctx, s.conn(ctx), *p.DepartmentID)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			v.Add("department_id", fmt.Sprintf("unknown department %d", *p.DepartmentID))
		case err != nil:
			return Ticket{}, err
		default:
			dept = &d
		}
	}
	if err := v.Err(); err != nil {
		return Ticket{}, err
	}

	var out Ticket
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		m, err := s.begin(ctx, tx, actor, id, version)
		if err != nil {
			return err
		}
		if p.Subject != nil {
			m.setText("subject", &m.cur.Subject, subject)
		}
		if p.Description != nil {
			m.setText("description", &m.cur.Description, *p.Description)
		}
		m.reindex = m.set["subject"] != nil || m.set["description"] != nil
		if p.Priority != nil {
			m.setText("priority", &m.cur.Priority, *p.Priority)
		}
		if p.Category != nil {
			m.setText("category", &m.cur.Category, category)
		}
		if p.CustomFields != nil {
			m.setCustomFields(custom)
		}
		if p.Tags != nil {
			if err := m.setTags(tags); err != nil {
				return err
			}
		}
		if err := m.reroute(p, dept); err != nil {
			return err
		}
		if err := m.finish(); err != nil {
			return err
		}
		out = m.ticket()
		return nil
	})
	return out, err
}

func (m *mutation) setCustomFields(next map[string]string) {
	prev := decodeCustomFields(m.cur.CustomFields)
	keys := map[string]bool{}
	for k := range prev {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	changed := false
	for _, k := range sorted {
		a, inA := prev[k]
		b, inB := next[k]
		if a == b && inA == inB {
			continue
		}
		changed = true
		m.history(KindField, "custom_fields."+k, a, b, "")
	}
	if changed {
		enc := encodeCustomFields(next)
		m.cur.CustomFields = enc
		m.set["custom_fields"] = enc
		m.mark("custom_fields")
	}
}

func (m *mutation) setTags(next []string) error {
	prev := m.tags // as read under the row lock, sorted
	if strings.Join(prev, "\x00") == strings.Join(next, "\x00") {
		return nil
	}
	if err := m.tx.Where("ticket_id = ?", m.cur.ID).Delete(&tagRow{}).Error; err != nil {
		return err
	}
	if err := insertTags(m.ctx, m.tx, tagsOf(m.cur.ID, next)); err != nil {
		return err
	}
	m.history(KindField, "tags", strings.Join(prev, ","), strings.Join(next, ","), "")
	m.tags = next
	m.mark("tags")
	// Tags live in their own table; the version still moves so ETags change.
	m.set["version"] = gorm.Expr("version + 1")
	return nil
}

// reroute applies the department and assignee parts of a patch.
func (m *mutation) reroute(p Patch, dept *deptInfo) error {
	deptChanged := false
	switch {
	case p.ClearDepartment:
		deptChanged = m.cur.DepartmentID != nil
		m.setDepartment(nil)
	case dept != nil:
		deptChanged = !eqID(m.cur.DepartmentID, &dept.ID)
		m.setDepartment(idPtr(dept.ID))
	}
	switch {
	case p.ClearAssignee:
		m.setAssignee(nil, "", false)
	case p.AssigneeID != nil:
		if !eqID(m.cur.AssigneeID, p.AssigneeID) || deptChanged {
			msg, err := m.s.checkAssignee(m.ctx, m.tx, *p.AssigneeID, m.cur.DepartmentID)
			if err != nil {
				return err
			}
			if msg != "" {
				ve := &accounts.ValidationError{}
				ve.Add("assignee_id", msg)
				return ve
			}
		}
		m.setAssignee(p.AssigneeID, "", false)
	case deptChanged && m.cur.AssigneeID != nil:
		msg, err := m.s.checkAssignee(m.ctx, m.tx, *m.cur.AssigneeID, m.cur.DepartmentID)
		if err != nil {
			return err
		}
		if msg != "" {
			m.setAssignee(nil, "not a member of the new department", false)
		}
	}
	if deptChanged && dept != nil {
		return m.autoAssign(*dept)
	}
	return nil
}
