package accounts

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
)

// AutoAssignModes lists the accepted Department.AutoAssign values.
var AutoAssignModes = []string{AutoAssignNone, AutoAssignRoundRobin, AutoAssignLeastLoaded}

func checkDepartmentName(name string) string {
	if name == "" {
		return "is required"
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		return fmt.Sprintf("must be at most %d characters", maxNameLen)
	}
	return ""
}

func checkAutoAssign(mode string) string {
	for _, m := range AutoAssignModes {
		if mode == m {
			return ""
		}
	}
	return "must be one of: " + strings.Join(AutoAssignModes, ", ")
}

// checkUsers reports unknown user ids under field and returns the set.
func (s *Service) checkUsers(ctx context.Context, v *ValidationError, field string, ids []int64) ([]int64, error) {
	ids = uniqueIDs(ids)
	missing, err := missingIDs(ctx, s.db.DB, "users", ids)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		v.Add(field, "unknown users: "+joinIDs(missing))
	}
	return ids, nil
}

func (s *Service) checkLead(ctx context.Context, v *ValidationError, lead int64) error {
	missing, err := missingIDs(ctx, s.db.DB, "users", []int64{lead})
	if err == nil && len(missing) > 0 {
		v.Add("lead_id", "unknown user "+strconv.FormatInt(lead, 10))
	}
	return err
}

// withLead adds the lead to the members: a lead always works the queue.
func withLead(members []int64, lead *int64) []int64 {
	if lead == nil {
		return members
	}
	return uniqueIDs(append(append([]int64{}, members...), *lead))
}

// CreateDepartment validates and stores a department; the lead becomes a member.
func (s *Service) CreateDepartment(ctx context.Context, in NewDepartment) (Department, error) {
	row, members, err := s.planNewDepartment(ctx, in)
	if err != nil {
		return Department{}, err
	}
	defer s.tokens.clear() // memberships, roles or the active flag may have moved
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return ErrNameTaken
			}
			return err
		}
		if err := insertMembers(tx, row.ID, members); err != nil {
			return err
		}
		changed := []string{"name", "tier", "auto_assign", "member_capacity", "member_ids"}
		if row.LeadID != nil {
			changed = append(changed, "lead_id")
		}
		if err := outbox.Write(ctx, tx, departmentEvent(EventDepartmentCreated, row.ID, changed)); err != nil {
			return err
		}
		return s.touchUsers(ctx, tx, members)
	})
	if err != nil {
		return Department{}, err
	}
	return toDepartment(row, members), nil
}

func (s *Service) planNewDepartment(ctx context.Context, in NewDepartment) (departmentRow, []int64, error) {
	v := &ValidationError{}
	name := strings.TrimSpace(in.Name)
	if msg := checkDepartmentName(name); msg != "" {
		v.Add("name", msg)
	}
	tier := in.Tier
	if tier == 0 {
		tier = 1
	}
	if tier < 1 {
		v.Add("tier", "must be 1 or more")
	}
	mode := in.AutoAssign
	if mode == "" {
		mode = AutoAssignNone
	}
	if msg := checkAutoAssign(mode); msg != "" {
		v.Add("auto_assign", msg)
	}
	if in.MemberCapacity < 0 {
		v.Add("member_capacity", "must be 0 (no cap) or more")
	}
	if in.LeadID != nil {
		if err := s.checkLead(ctx, v, *in.LeadID); err != nil {
			return departmentRow{}, nil, err
		}
	}
	members, err := s.checkUsers(ctx, v, "member_ids", in.MemberIDs)
	if err != nil {
		return departmentRow{}, nil, err
	}
	if err := v.Err(); err != nil {
		return departmentRow{}, nil, err
	}
	now := s.clock()
	row := departmentRow{Name: name, LeadID: in.LeadID, Tier: tier, AutoAssign: mode, MemberCapacity: in.MemberCapacity, Version: 1, CreatedAt: now, UpdatedAt: now}
	return row, withLead(members, in.LeadID), nil
}

func insertMembers(tx *gorm.DB, deptID int64, userIDs []int64) error {
	if len(userIDs) == 0 {
		return nil
	}
	rows := make([]memberRow, len(userIDs))
	for i, u := range userIDs {
		rows[i] = memberRow{DepartmentID: deptID, UserID: u}
	}
	return tx.Create(&rows).Error
}

func departmentEvent(typ string, id int64, changed []string) outbox.Event {
	return outbox.Event{Type: typ, AggregateType: "department", AggregateID: strconv.FormatInt(id, 10),
		Payload: EventPayload{ID: id, Changed: changed}}
}

// touchDepartments bumps the version of departments changed through a user
// (membership), so their ETags move and consumers hear of it.
func (s *Service) touchDepartments(ctx context.Context, tx *gorm.DB, ids []int64, field string) error {
	ids = uniqueIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	err := tx.Table("departments").Where("id IN ?", ids).
		Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.clock()}).Error
	if err != nil {
		return err
	}
	events := make([]outbox.Event, len(ids))
	for i, id := range ids {
		events[i] = departmentEvent(EventDepartmentUpdated, id, []string{field})
	}
	return outbox.Write(ctx, tx, events...)
}

func toDepartment(r departmentRow, members []int64) Department {
	if members == nil {
		members = []int64{}
	}
	return Department{ID: r.ID, Name: r.Name, LeadID: r.LeadID, Tier: r.Tier, MemberIDs: members,
		AutoAssign: r.AutoAssign, MemberCapacity: r.MemberCapacity, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// loadDepartments attaches member ids to rows with one query.
func loadDepartments(ctx context.Context, db *gorm.DB, rows []departmentRow) ([]Department, error) {
	if len(rows) == 0 {
		return []Department{}, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var members []memberRow
	if err := db.WithContext(ctx).Where("department_id IN ?", ids).Order("user_id").Find(&members).Error; err != nil {
		return nil, err
	}
	byDept := map[int64][]int64{}
	for _, m := range members {
		byDept[m.DepartmentID] = append(byDept[m.DepartmentID], m.UserID)
	}
	out := make([]Department, len(rows))
	for i, r := range rows {
		out[i] = toDepartment(r, byDept[r.ID])
	}
	return out, nil
}

func getDepartment(ctx context.Context, db *gorm.DB, id int64) (Department, error) {
	var row departmentRow
	if err := db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Department{}, notFound(err)
	}
	ds, err := loadDepartments(ctx, db, []departmentRow{row})
	if err != nil {
		return Department{}, err
	}
	return ds[0], nil
}

// GetDepartment returns the department with id, or ErrNotFound.
func (s *Service) GetDepartment(ctx context.Context, id int64) (Department, error) {
	return getDepartment(ctx, s.db.DB, id)
}

// ListDepartments returns a keyset page ordered by id.
func (s *Service) ListDepartments(ctx context.Context, p Page) ([]Department, error) {
	var rows []departmentRow
	err := s.conn(ctx).Where("id > ?", p.AfterID).Order("id").Limit(clampLimit(p.Limit)).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	return loadDepartments(ctx, s.db.DB, rows)
}

// departmentUpdate is a validated DepartmentPatch.
type departmentUpdate struct {
	set     map[string]any
	changed []string
	members []int64 // nil: keep the set
}

func (up *departmentUpdate) field(col string, val any) {
	up.set[col] = val
	up.changed = append(up.changed, col)
}

func (s *Service) planDepartmentPatch(ctx context.Context, p DepartmentPatch) (departmentUpdate, error) {
	up := departmentUpdate{set: map[string]any{}}
	v := &ValidationError{}
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if msg := checkDepartmentName(name); msg != "" {
			v.Add("name", msg)
		}
		up.field("name", name)
	}
	if p.Tier != nil {
		if *p.Tier < 1 {
			v.Add("tier", "must be 1 or more")
		}
		up.field("tier", *p.Tier)
	}
	if p.AutoAssign != nil {
		if msg := checkAutoAssign(*p.AutoAssign); msg != "" {
			v.Add("auto_assign", msg)
		}
		up.field("auto_assign", *p.AutoAssign)
	}
	if p.MemberCapacity != nil {
		if *p.MemberCapacity < 0 {
			v.Add("member_capacity", "must be 0 (no cap) or more")
		}
		up.field("member_capacity", *p.MemberCapacity)
	}
	if err := s.planLeadPatch(ctx, v, p, &up); err != nil {
		return up, err
	}
	if p.MemberIDs != nil {
		members, err := s.checkUsers(ctx, v, "member_ids", *p.MemberIDs)
		if err != nil {
			return up, err
		}
		up.members = members
		up.changed = append(up.changed, "member_ids")
	}
	return up, v.Err()
}

func (s *Service) planLeadPatch(ctx context.Context, v *ValidationError, p DepartmentPatch, up *departmentUpdate) error {
	switch {
	case p.ClearLead && p.LeadID != nil:
		v.Add("lead_id", "set a lead or clear it, not both")
	case p.ClearLead:
		up.field("lead_id", nil)
	case p.LeadID != nil:
		if err := s.checkLead(ctx, v, *p.LeadID); err != nil {
			return err
		}
		up.field("lead_id", *p.LeadID)
	}
	return nil
}

// UpdateDepartment applies p if the stored version is still version (0: no
// precondition). MemberIDs replaces the set; the lead is always kept in it.
func (s *Service) UpdateDepartment(ctx context.Context, id int64, version int, p DepartmentPatch) (Department, error) {
	up, err := s.planDepartmentPatch(ctx, p)
	if err != nil {
		return Department{}, err
	}
	var d Department
	defer s.tokens.clear() // memberships, roles or the active flag may have moved
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		up.set["updated_at"] = s.clock()
		if err := versioned(ctx, tx, "departments", id, version, up.set); err != nil {
			if database.IsUniqueViolation(err) {
				return ErrNameTaken
			}
			return err
		}
		if err := s.syncMembers(ctx, tx, id, &up); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, departmentEvent(EventDepartmentUpdated, id, up.changed)); err != nil {
			return err
		}
		d, err = getDepartment(ctx, tx, id)
		return err
	})
	return d, err
}

// syncMembers writes the member set after an update: the requested set (or
// the current one) plus the lead, touching every user whose membership moved.
func (s *Service) syncMembers(ctx context.Context, tx *gorm.DB, id int64, up *departmentUpdate) error {
	var row departmentRow
	if err := tx.Select("lead_id").Where("id = ?", id).Take(&row).Error; err != nil {
		return err
	}
	var before []int64
	if err := tx.Model(&memberRow{}).Where("department_id = ?", id).Pluck("user_id", &before).Error; err != nil {
		return err
	}
	after := before
	if up.members != nil {
		after = up.members
	}
	after = withLead(after, row.LeadID)
	moved := symmetricDiff(before, after)
	if len(moved) == 0 {
		return nil
	}
	if err := tx.Where("department_id = ?", id).Delete(&memberRow{}).Error; err != nil {
		return err
	}
	if err := insertMembers(tx, id, after); err != nil {
		return err
	}
	if up.members == nil {
		up.changed = append(up.changed, "member_ids")
	}
	return s.touchUsers(ctx, tx, moved)
}
