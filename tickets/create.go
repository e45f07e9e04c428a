package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/workflow"
)

// Channels a ticket may arrive through.
var Channels = []string{"web", "api", "email", "phone", "chat"}

// Input limits.
const (
	MaxSubject         = 300
	MaxDescription     = 100_000
	MaxCategory        = 100
	MaxTags            = 20
	MaxTagLen          = 50
	MaxCustomFields    = 50
	MaxCustomValue     = 1000
	MaxCommentBody     = 50_000
	MaxEscalationNotes = 2000
)

var customKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// checkUTF8 refuses text that is not UTF-8: MySQL would refuse it at the
// INSERT (a 500), SQLite would store bytes no page can show.
func checkUTF8(v *accounts.ValidationError, field, s string) bool {
	if utf8.ValidString(s) {
		return true
	}
	v.Add(field, "is not valid UTF-8 text")
	return false
}

func checkSubject(v *accounts.ValidationError, subject string) string {
	subject = strings.TrimSpace(subject)
	switch n := utf8.RuneCountInString(subject); {
	case !checkUTF8(v, "subject", subject):
	case n == 0:
		v.Add("subject", "is required")
	case n > MaxSubject:
		v.Add("subject", fmt.Sprintf("must be at most %d characters (got %d)", MaxSubject, n))
	}
	return subject
}

func checkDescription(v *accounts.ValidationError, d string) {
	if !checkUTF8(v, "description", d) {
		return
	}
	if n := utf8.RuneCountInString(d); n > MaxDescription {
		v.Add("description", fmt.Sprintf("must be at most %d characters (got %d)", MaxDescription, n))
	}
}

func checkPriority(v *accounts.ValidationError, field, p string) {
	if !contains(Priorities, p) {
		v.Add(field, fmt.Sprintf("%q is not a priority; use one of %s", p, strings.Join(Priorities, ", ")))
	}
}

func checkCategory(v *accounts.ValidationError, c string) string {
	c = strings.TrimSpace(c)
	if !checkUTF8(v, "category", c) {
		return c
	}
	if n := utf8.RuneCountInString(c); n > MaxCategory {
		v.Add("category", fmt.Sprintf("must be at most %d characters", MaxCategory))
	}
	return c
}

// normalizeTags lowercases, trims and dedupes tags, reporting each bad one.
func normalizeTags(v *accounts.ValidationError, tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		// Checked before ToLower, which would turn bad bytes into U+FFFD.
		if !checkUTF8(v, fmt.Sprintf("tags[%d]", i), t) {
			continue
		}
		t = strings.ToLower(strings.TrimSpace(t))
		switch n := utf8.RuneCountInString(t); {
		case n == 0:
			v.Add(fmt.Sprintf("tags[%d]", i), "must not be empty")
			continue
		case n > MaxTagLen:
			v.Add(fmt.Sprintf("tags[%d]", i), fmt.Sprintf("must be at most %d characters", MaxTagLen))
			continue
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		v.Add("tags", fmt.Sprintf("at most %d tags (got %d)", MaxTags, len(out)))
	}
	sort.Strings(out)
	return out
}

func checkCustomFields(v *accounts.ValidationError, m map[string]string) map[string]string {
	if len(m) > MaxCustomFields {
		v.Add("custom_fields", fmt.Sprintf("at most %d fields (got %d)", MaxCustomFields, len(m)))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(m))
	for _, k := range keys {
		val := m[k]
		if !customKeyPattern.MatchString(k) {
			v.Add("custom_fields."+k, "names must match "+customKeyPattern.String())
		}
		if !checkUTF8(v, "custom_fields."+k, val) {
			continue
		}
		if n := utf8.RuneCountInString(val); n > MaxCustomValue {
			v.Add("custom_fields."+k, fmt.Sprintf("must be at most %d characters (got %d)", MaxCustomValue, n))
		}
		out[k] = val
	}
	return out
}

func encodeCustomFields(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // map[string]string always encodes
	return string(b)
}

func decodeCustomFields(s string) map[string]string {
	out := map[string]string{}
	if s != "" && s != "{}" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	return out
}

// deptInfo is what assignment needs to know of a department.
type deptInfo struct {
	ID             int64
	Name           string
	LeadID         *int64
	Tier           int
	AutoAssign     string
	MemberCapacity int
}

func (deptInfo) TableName() string { return "departments" }

func (s *Service) department(ctx context.Context, db *gorm.DB, id int64) (deptInfo, error) {
	var d deptInfo
	err := db.WithContext(ctx).Select("id, name, lead_id, tier, auto_assign, member_capacity").Where("id = ?", id).Take(&d).Error
	return d, notFound(err)
}

// checkAssignee says why user cannot be the assignee ("" if they can): an
// active member of dept, or any active staff user when there is no department.
func (s *Service) checkAssignee(ctx context.Context, db *gorm.DB, user int64, dept *int64) (string, error) {
	type urow struct {
		Active bool
		Role   *string
	}
	var rows []urow
	err := db.WithContext(ctx).Table("users u").Select("u.active, r.role").
		Joins("LEFT JOIN user_roles r ON r.user_id = u.id").Where("u.id = ?", user).Scan(&rows).Error
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return fmt.Sprintf("unknown user %d", user), nil
	}
	if !rows[0].Active {
		return fmt.Sprintf("user %d is deactivated", user), nil
	}
	if dept != nil {
		var n int64
		if err := db.WithContext(ctx).Table("department_members").Where("department_id = ? AND user_id = ?", *dept, user).Count(&n).Error; err != nil {
			return "", err
		}
		if n == 0 {
			return fmt.Sprintf("user %d is not a member of department %d", user, *dept), nil
		}
		return "", nil
	}
	roles := make([]accounts.Role, 0, len(rows))
	for _, r := range rows {
		if r.Role != nil {
			roles = append(roles, accounts.Role(*r.Role))
		}
	}
	if !accounts.Can(roles, accounts.PermTicketsWrite) {
		return fmt.Sprintf("user %d does not work tickets", user), nil
	}
	return "", nil
}

func (s *Service) userExists(ctx context.Context, db *gorm.DB, id int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Table("users").Where("id = ?", id).Count(&n).Error
	return n > 0, err
}

// createPlan is a validated NewTicket.
type createPlan struct {
	row  ticketRow
	tags []string
	dept *deptInfo
	def  *workflow.Definition
}

func (s *Service) planCreate(ctx context.Context, actor accounts.User, in NewTicket) (createPlan, error) {
	v := &accounts.ValidationError{}
	db := s.conn(ctx)
	var p createPlan
	subject := checkSubject(v, in.Subject)
	checkDescription(v, in.Description)
	priority := in.Priority
	if priority == "" {
		priority = "P3"
	}
	checkPriority(v, "priority", priority)
	typ := strings.TrimSpace(in.Type)
	if typ == "" {
		typ = DefaultType
	}
	if typ == ArticleWorkflow {
		v.Add("type", "\"article\" is the knowledge article workflow; tickets cannot use it")
	} else {
		ver, err := s.latestVersion(ctx, db, typ, false)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			v.Add("type", fmt.Sprintf("no workflow %q is published", typ))
		case err != nil:
			return p, err
		default:
			if p.def, err = s.definition(ctx, db, typ, ver); err != nil {
				return p, err
			}
		}
	}
	channel := in.Channel
	if channel == "" {
		channel = "api"
	}
	if !contains(Channels, channel) {
		v.Add("channel", fmt.Sprintf("%q is not a channel; use one of %s", channel, strings.Join(Channels, ", ")))
	}
	category := checkCategory(v, in.Category)
	p.tags = normalizeTags(v, in.Tags)
	custom := checkCustomFields(v, in.CustomFields)

	if in.DepartmentID != nil {
		d, err := s.department(ctx, db, *in.DepartmentID)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			v.Add("department_id", fmt.Sprintf("unknown department %d", *in.DepartmentID))
		case err != nil:
			return p, err
		default:
			p.dept = &d
		}
	}
	if in.AssigneeID != nil && (in.DepartmentID == nil || p.dept != nil) {
		msg, err := s.checkAssignee(ctx, db, *in.AssigneeID, in.DepartmentID)
		if err != nil {
			return p, err
		}
		if msg != "" {
			v.Add("assignee_id", msg)
		}
	}
	requester := actor.ID
	if in.RequesterID != 0 && in.RequesterID != actor.ID {
		if !actor.Can(accounts.PermTicketsReadAll) && !actor.Can(accounts.PermTicketsWrite) {
			v.Add("requester_id", "you may only open tickets for yourself")
		} else if ok, err := s.userExists(ctx, db, in.RequesterID); err != nil {
			return p, err
		} else if !ok {
			v.Add("requester_id", fmt.Sprintf("unknown user %d", in.RequesterID))
		}
		requester = in.RequesterID
	}
	if err := v.Err(); err != nil {
		return p, err
	}
	st, _ := p.def.State(p.def.Initial)
	now := s.clock()
	p.row = ticketRow{Subject: subject, Description: in.Description, Status: st.Name, StatusCategory: string(st.Category),
		Priority: priority, WorkflowKey: typ, WorkflowVersion: p.def.Version, Category: category, Channel: channel,
		CustomFields: encodeCustomFields(custom), DepartmentID: in.DepartmentID, AssigneeID: in.AssigneeID,
		RequesterID: requester, Version: 1, StateEnteredAt: now, CreatedAt: now, UpdatedAt: now}
	return p, nil
}

// Create validates in and stores a new ticket in the initial state of the
// latest version of its workflow, auto-assigning it when it lands in a
// department that says so. It needs tickets:create (and tickets:assign to
// name an assignee).
func (s *Service) Create(ctx context.Context, actor accounts.User, in NewTicket) (Ticket, error) {
	if !actor.Can(accounts.PermTicketsCreate) {
		return Ticket{}, &ForbiddenError{Permission: string(accounts.PermTicketsCreate)}
	}
	if in.AssigneeID != nil && !actor.Can(accounts.PermTicketsAssign) {
		return Ticket{}, &ForbiddenError{Permission: string(accounts.PermTicketsAssign)}
	}
	p, err := s.planCreate(ctx, actor, in)
	if err != nil {
		return Ticket{}, err
	}
	return s.creates.run(s, &createCall{call: call{ctx: ctx}, actor: actor, plan: p}, s.createBatch, s.createAlone)
}

// createCall is one Create waiting for its transaction.
type createCall struct {
	call
	actor accounts.User
	plan  createPlan
}

// createAlone stores c in a transaction of its own.
func (s *Service) createAlone(c *createCall) (Ticket, error) {
	var out Ticket
	err := s.inTx(c.ctx, func(tx *gorm.DB) error {
		var rows createRows
		t, err := s.createIn(c.ctx, tx, c, &rows)
		if err != nil {
			return err
		}
		out = t
		return rows.write(c.ctx, tx, s.index)
	})
	return out, err
}

// createBatch stores concurrent Create calls in one transaction (group.go):
// one INSERT per ticket (its ID is needed), then one statement each for
// all their tags, history rows, search documents, postings and outbox
// events. Calls landing in departments run in department order, so two
// batches take the departments' assignment locks in the same order.
func (s *Service) createBatch(ctx context.Context, tx *gorm.DB, calls []*createCall, out []outcome) error {
	order := callOrder(calls, func(c *createCall) int64 {
		if c.plan.dept == nil {
			return 0
		}
		return c.plan.dept.ID
	})
	var rows createRows
	for _, i := range order {
		cctx, cancel := callContext(ctx, calls[i].ctx)
		t, err := s.createIn(cctx, tx, calls[i], &rows)
		cancel()
		if err != nil {
			return err
		}
		out[i] = outcome{t: t}
	}
	return rows.write(ctx, tx, s.index)
}

// createRows are the rows of new tickets that wait for the end of their
// transaction.
type createRows struct {
	appendRows
	tags []ticketTag
	docs []search.Doc
}

func (r *createRows) write(ctx context.Context, tx *gorm.DB, ix *search.Index) error {
	if err := insertTags(ctx, tx, r.tags); err != nil {
		return err
	}
	if err := ix.PutNew(ctx, tx, DocType, r.docs...); err != nil {
		return err
	}
	return r.appendRows.write(ctx, tx)
}

// createIn inserts c's ticket in tx, auto-assigning it when it lands in a
// department that says so, and adds its other rows to rows.
func (s *Service) createIn(ctx context.Context, tx *gorm.DB, c *createCall, rows *createRows) (Ticket, error) {
	p := c.plan
	actorID := idPtr(c.actor.ID)
	row := p.row // a fresh copy on every attempt
	auto := false
	if p.dept != nil && row.AssigneeID == nil {
		// Loads count the tickets inserted before this one, batch or not:
		// their rows are written at once.
		a, err := s.autoAssign(ctx, tx, *p.dept)
		if err != nil {
			return Ticket{}, err
		}
		row.AssigneeID, auto = a, a != nil
	}
	if err := insertTicket(ctx, tx, &row); err != nil {
		return Ticket{}, err
	}
	rows.tags = append(rows.tags, tagsOf(row.ID, p.tags)...)
	hist := []historyRow{{TicketID: row.ID, ActorID: actorID, At: row.CreatedAt, Kind: KindCreated, Field: "status", ToValue: row.Status}}
	if auto {
		hist = append(hist, historyRow{TicketID: row.ID, At: row.CreatedAt, Kind: KindAssignment, Field: "assignee_id",
			ToValue: idString(row.AssigneeID), Note: "auto-assigned (" + p.dept.AutoAssign + ")"})
	}
	rows.docs = append(rows.docs, search.Doc{ID: row.ID, Fields: []search.Field{{Text: row.Subject, Weight: 3}, {Text: row.Description, Weight: 1}}})
	events := []outbox.Event{ticketEvent(EventTicketCreated, row.ID, TicketEvent{ID: row.ID, Actor: actorID})}
	if row.AssigneeID != nil || row.DepartmentID != nil {
		events = append(events, ticketEvent(EventTicketAssigned, row.ID, AssignedEvent{ID: row.ID,
			DepartmentID: row.DepartmentID, AssigneeID: row.AssigneeID, Auto: auto, Actor: actorID}))
	}
	rows.add(ctx, hist, events)
	return toTicket(row, p.tags, 0), nil
}

// openCategories are the categories whose tickets count as a member's load.
var closedCategories = []string{string(workflow.CategoryResolved), string(workflow.CategoryClosed)}

// autoAssign picks an assignee for a ticket landing in dept, or nil when
// the department does not auto-assign or every member is at capacity. It
// locks the department's department_assignment row first, so concurrent
// assignments into one department run one after the other and each sees
// the loads the previous one left. Load is a member's open tickets (any
// department, category neither resolved nor closed).
func (s *Service) autoAssign(ctx context.Context, tx *gorm.DB, dept deptInfo) (*int64, error) {
	if dept.AutoAssign != accounts.AutoAssignRoundRobin && dept.AutoAssign != accounts.AutoAssignLeastLoaded {
		return nil, nil
	}
	var st assignmentRow
	err := s.forUpdate(tx).Where("department_id = ?", dept.ID).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&assignmentRow{DepartmentID: dept.ID}).Error; err != nil {
			return nil, err
		}
		err = s.forUpdate(tx).Where("department_id = ?", dept.ID).Take(&st).Error
	}
	if err != nil {
		return nil, err
	}
	var members []int64
	err = tx.Table("department_members dm").Joins("JOIN users u ON u.id = dm.user_id").
		Where("dm.department_id = ? AND u.active = ?", dept.ID, true).Order("dm.user_id").Pluck("dm.user_id", &members).Error
	if err != nil || len(members) == 0 {
		return nil, err
	}
	loads := map[int64]int{}
	if dept.AutoAssign == accounts.AutoAssignLeastLoaded || dept.MemberCapacity > 0 {
		var counts []struct {
			AssigneeID int64
			N          int
		}
		err := tx.Table("tickets").Select("assignee_id, COUNT(*) AS n").
			Where("assignee_id IN ? AND status_category NOT IN ?", members, closedCategories).
			Group("assignee_id").Scan(&counts).Error
		if err != nil {
			return nil, err
		}
		for _, c := range counts {
			loads[c.AssigneeID] = c.N
		}
	}
	free := func(m int64) bool { return dept.MemberCapacity == 0 || loads[m] < dept.MemberCapacity }
	var pick int64
	if dept.AutoAssign == accounts.AutoAssignRoundRobin {
		start := 0
		if st.LastAssigneeID != nil {
			start = sort.Search(len(members), func(i int) bool { return members[i] > *st.LastAssigneeID })
		}
		for i := range members {
			if m := members[(start+i)%len(members)]; free(m) {
				pick = m
				break
			}
		}
	} else {
		best := -1
		for _, m := range members { // ascending ids: ties go to the lowest
			if free(m) && (best < 0 || loads[m] < best) {
				pick, best = m, loads[m]
			}
		}
	}
	if pick == 0 {
		return nil, nil
	}
	if err := tx.Model(&assignmentRow{}).Where("department_id = ?", dept.ID).Update("last_assignee_id", pick).Error; err != nil {
		return nil, err
	}
	return idPtr(pick), nil
}

func toTicket(r ticketRow, tags []string, links int) Ticket {
	if tags == nil {
		tags = []string{}
	}
	return Ticket{ID: r.ID, Subject: r.Subject, Description: r.Description, Status: r.Status,
		StatusCategory: workflow.Category(r.StatusCategory), Priority: r.Priority, Type: r.WorkflowKey,
		WorkflowVersion: r.WorkflowVersion, Category: r.Category, Tags: tags, Channel: r.Channel,
		CustomFields: decodeCustomFields(r.CustomFields), DepartmentID: r.DepartmentID, AssigneeID: r.AssigneeID,
		RequesterID: r.RequesterID, LinkedArticles: links, Version: r.Version, StateEnteredAt: r.StateEnteredAt.UTC(),
		ResolvedAt: utcPtr(r.ResolvedAt), ClosedAt: utcPtr(r.ClosedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}
