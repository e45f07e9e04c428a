package tickets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/workflow"
)

// mutation collects one change to one ticket inside its transaction: the
// columns to set, the history rows and the outbox events, written together
// by finish with one versioned update.
type mutation struct {
	s       *Service
	ctx     context.Context
	tx      *gorm.DB
	actor   accounts.User
	actorID *int64
	now     time.Time

	before ticketRow // as loaded (locked on MySQL)
	cur    ticketRow // with the changes applied
	tags   []string  // sorted; kept current by setTags
	links  int       // knowledge links, read with the row; a change that links or unlinks must keep it current

	set     map[string]any
	changed []string
	hist    []historyRow
	events  []outbox.Event
	reindex bool
	touched bool // a comment: updated_at moves, the version does not
	auto    bool // the assignee was picked by auto-assignment

	// appends, when set, takes the ticket update, history rows and outbox
	// events of the change instead of finish writing them: a batch of
	// transitions writes those of all its calls together (fire_batch.go).
	appends *appendRows
}

// appendRows are the writes of one or more changes in one transaction
// that can wait for its end: ticket updates (the rows are locked), history
// rows and outbox events.
type appendRows struct {
	updates []rowUpdate
	hist    []historyRow
	events  []outbox.Event
}

// add takes a change's history rows and outbox events. The batch writes
// them on its own context, so each event keeps the request ID of ctx, the
// change's.
func (a *appendRows) add(ctx context.Context, hist []historyRow, events []outbox.Event) {
	rid := outbox.RequestID(ctx)
	for i := range events {
		if events[i].RequestID == "" {
			events[i].RequestID = rid
		}
	}
	a.hist = append(a.hist, hist...)
	a.events = append(a.events, events...)
}

// write stores them: the updates, one INSERT for the history, one for the
// outbox.
func (a *appendRows) write(ctx context.Context, tx *gorm.DB) error {
	if err := a.flushUpdates(ctx, tx); err != nil {
		return err
	}
	if err := insertHistory(ctx, tx, a.hist); err != nil {
		return err
	}
	return outbox.Write(ctx, tx, a.events...)
}

// flushUpdates runs the pending ticket updates, one statement for those
// that set the same columns. Whatever reads ticket rows other than its own
// locked one (auto-assignment's load count, a second change to one ticket)
// flushes first.
func (a *appendRows) flushUpdates(ctx context.Context, tx *gorm.DB) error {
	if a == nil || len(a.updates) == 0 {
		return nil
	}
	err := updateRows(ctx, tx, a.updates)
	a.updates = a.updates[:0]
	return err
}

// begin loads and locks ticket id for a change by actor; version 0 means
// no precondition. The same statement reads the tags and the link count, so
// the answer of a change needs no second read: tags change only through a
// mutation (which holds this lock), and the knowledge guard counts links
// again after the lock (see transition).
func (s *Service) begin(ctx context.Context, tx *gorm.DB, actor accounts.User, id int64, version int) (*mutation, error) {
	got, err := s.loadTickets(ctx, tx, []int64{id}, true)
	if err != nil {
		return nil, err
	}
	l, ok := got[id]
	return s.beginLoaded(ctx, tx, actor, l, ok, version)
}

// beginLoaded is begin on a ticket already loaded and locked in tx (ok:
// it exists).
func (s *Service) beginLoaded(ctx context.Context, tx *gorm.DB, actor accounts.User, l loadedTicket, ok bool, version int) (*mutation, error) {
	if !ok || !canSee(actor, &l.row) {
		return nil, accounts.ErrNotFound
	}
	if version != 0 && l.row.Version != version {
		return nil, accounts.ErrVersionConflict
	}
	return &mutation{s: s, ctx: ctx, tx: tx, actor: actor, actorID: idPtr(actor.ID), now: s.clock(),
		before: l.row, cur: l.row, tags: l.tags, links: l.links, set: map[string]any{}}, nil
}

// ticket is the changed ticket as the caller sees it, built from what the
// change read and wrote.
func (m *mutation) ticket() Ticket { return toTicket(m.cur, m.tags, m.links) }

func (m *mutation) history(kind, field, from, to, note string) {
	m.hist = append(m.hist, historyRow{TicketID: m.cur.ID, ActorID: m.actorID, At: m.now, Kind: kind, Field: field, FromValue: from, ToValue: to, Note: note})
}

func (m *mutation) mark(field string) {
	if !contains(m.changed, field) {
		m.changed = append(m.changed, field)
	}
}

// setText changes a plain column and records it.
func (m *mutation) setText(col string, dst *string, val string) {
	if *dst == val {
		return
	}
	from := *dst
	if col == "description" {
		from = "" // descriptions can be long; the history says it changed
	}
	to := val
	if col == "description" {
		to = ""
	}
	m.history(KindField, col, from, to, "")
	*dst = val
	m.set[col] = val
	m.mark(col)
}

func (m *mutation) setDepartment(id *int64) {
	if eqID(m.cur.DepartmentID, id) {
		return
	}
	m.history(KindAssignment, "department_id", idString(m.cur.DepartmentID), idString(id), "")
	m.cur.DepartmentID = id
	m.set["department_id"] = id
	m.mark("department_id")
}

func (m *mutation) setAssignee(id *int64, note string, system bool) {
	if eqID(m.cur.AssigneeID, id) {
		return
	}
	h := historyRow{TicketID: m.cur.ID, ActorID: m.actorID, At: m.now, Kind: KindAssignment, Field: "assignee_id",
		FromValue: idString(m.cur.AssigneeID), ToValue: idString(id), Note: note}
	if system {
		h.ActorID = nil
	}
	m.hist = append(m.hist, h)
	m.cur.AssigneeID = id
	m.set["assignee_id"] = id
	m.mark("assignee_id")
}

// autoAssign gives the ticket an assignee from dept if it has none.
func (m *mutation) autoAssign(dept deptInfo) error {
	if m.cur.AssigneeID != nil {
		return nil
	}
	if err := m.appends.flushUpdates(m.ctx, m.tx); err != nil { // the load count reads tickets
		return err
	}
	a, err := m.s.autoAssign(m.ctx, m.tx, dept)
	if err != nil || a == nil {
		return err
	}
	m.setAssignee(a, "auto-assigned ("+dept.AutoAssign+")", true)
	m.auto = true
	return nil
}

// route moves the ticket into dept: an assignee who is not an active member
// there is cleared, and an unassigned ticket is auto-assigned.
func (m *mutation) route(dept deptInfo) error {
	m.setDepartment(idPtr(dept.ID))
	if m.cur.AssigneeID != nil {
		msg, err := m.s.checkAssignee(m.ctx, m.tx, *m.cur.AssigneeID, &dept.ID)
		if err != nil {
			return err
		}
		if msg != "" {
			m.setAssignee(nil, "not a member of the new department", false)
		}
	}
	return m.autoAssign(dept)
}

// subject is what the workflow guards see of the actor and the ticket now.
// When event has a knowledge guard, links are counted again here, after the
// row lock, so a link committed while this change waited for the lock is
// seen; other events use the count read with the row.
func (m *mutation) subject(def *workflow.Definition, event string, fields map[string]string) (workflow.Subject, error) {
	if knowledgeGuarded(def, m.cur.Status, event) {
		// fields article_id/link_kind link an article first (links.go).
		if err := m.linkFromFields(fields); err != nil {
			return workflow.Subject{}, err
		}
		n, err := linkCount(m.ctx, m.tx, m.cur.ID)
		if err != nil {
			return workflow.Subject{}, err
		}
		m.links = n
	}
	return m.s.subjectOf(m.actor, m.cur, m.links, fields), nil
}

// knowledgeGuarded reports whether firing event from state checks linked
// articles.
func knowledgeGuarded(def *workflow.Definition, state, event string) bool {
	for i := range def.Events {
		if ev := &def.Events[i]; ev.Name == event && ev.Guards.Knowledge && slices.Contains(ev.From, state) {
			return true
		}
	}
	return false
}

func (s *Service) subjectOf(actor accounts.User, r ticketRow, links int, fields map[string]string) workflow.Subject {
	return workflow.Subject{
		Roles:          roleNames(actor.Roles),
		Can:            func(p string) bool { return actor.Can(accounts.Permission(p)) },
		IsRequester:    r.RequesterID == actor.ID,
		HasAssignee:    r.AssigneeID != nil,
		HasDepartment:  r.DepartmentID != nil,
		LinkedArticles: links,
		Fields:         fields,
		StateEnteredAt: r.StateEnteredAt.UTC(),
		Now:            s.clock(),
	}
}

// transition fires event on the pinned workflow version and applies the
// result; workflow errors come back unchanged and nothing is applied.
func (m *mutation) transition(event string, fields map[string]string) error {
	def, err := m.s.definition(m.ctx, m.tx, m.cur.WorkflowKey, m.cur.WorkflowVersion)
	if err != nil {
		return err
	}
	subj, err := m.subject(def, event, fields)
	if err != nil {
		return err
	}
	res, err := def.Fire(m.ctx, m.cur.Status, event, subj)
	if err != nil {
		return err
	}
	fromCat := workflow.Category(m.cur.StatusCategory)
	m.cur.Status, m.cur.StatusCategory, m.cur.StateEnteredAt = res.To, string(res.Category), m.now
	m.set["status"], m.set["status_category"], m.set["state_entered_at"] = res.To, string(res.Category), m.now
	applyCategoryTimes(m.set, fromCat, res.Category, m.now)
	if v, ok := m.set["resolved_at"]; ok {
		m.cur.ResolvedAt = timePtr(v)
	}
	if v, ok := m.set["closed_at"]; ok {
		m.cur.ClosedAt = timePtr(v)
	}
	m.mark("status")
	note := fields["resolution"]
	if r := fields["no_article_reason"]; r != "" {
		if note != "" {
			note += "\n"
		}
		note += "no article linked: " + r
	}
	if note == "" {
		note = fields["reason"]
	}
	m.history(KindState, "status", res.From, res.To, note)
	m.hist[len(m.hist)-1].Event = event
	if err := m.applyActions(res.Actions); err != nil {
		return err
	}
	m.events = append(m.events, ticketEvent(EventTicketTransitioned, m.cur.ID, TransitionedEvent{ID: m.cur.ID, Event: event,
		From: res.From, To: res.To, Category: res.Category, SLA: res.SLA, Actions: res.Actions, Actor: m.actorID}))
	return nil
}

func timePtr(v any) *time.Time {
	if t, ok := v.(time.Time); ok {
		return &t
	}
	return nil
}

func (m *mutation) applyActions(actions []workflow.Action) error {
	for _, a := range actions {
		switch a.Type {
		case workflow.ActionAssignDepartment:
			d, err := m.s.department(m.ctx, m.tx, a.DepartmentID)
			if errors.Is(err, accounts.ErrNotFound) {
				ve := &accounts.ValidationError{}
				ve.Add("event", fmt.Sprintf("the workflow routes this ticket to department %d, which no longer exists; ask an admin to publish a fixed workflow", a.DepartmentID))
				return ve
			}
			if err != nil {
				return err
			}
			if err := m.route(d); err != nil {
				return err
			}
		case workflow.ActionUnassign:
			m.setAssignee(nil, "", false)
		case workflow.ActionAssignActor:
			if m.cur.AssigneeID == nil {
				m.setAssignee(idPtr(m.actor.ID), "", false)
			}
		case workflow.ActionSetPriority:
			m.setText("priority", &m.cur.Priority, a.Priority)
		}
		// notify: consumers of ticket:transitioned read the actions.
	}
	return nil
}

// addComment stores a comment by the actor in the change.
func (m *mutation) addComment(body string, internal bool) (commentRow, error) {
	c := commentRow{TicketID: m.cur.ID, AuthorID: m.actor.ID, Body: body, Internal: internal, CreatedAt: m.now}
	if err := m.tx.Create(&c).Error; err != nil {
		return c, err
	}
	kind := "public"
	if internal {
		kind = "internal"
	}
	m.history(KindComment, "comment", "", strconv.FormatInt(c.ID, 10), kind)
	m.events = append(m.events, outbox.Event{Type: EventCommentAdded, AggregateType: "ticket", AggregateID: strconv.FormatInt(m.cur.ID, 10),
		Payload: CommentEvent{TicketID: m.cur.ID, CommentID: c.ID, Internal: internal, Author: m.actor.ID, ByRequester: m.actor.ID == m.cur.RequesterID}})
	m.reindex, m.touched = true, true
	return c, nil
}

// finish writes the change: one versioned update, the search document, its
// history and the outbox events (with m.appends set, the search document
// only; the rest goes there).
func (m *mutation) finish() error {
	switch {
	case len(m.set) > 0:
		m.set["updated_at"] = m.now
		if m.appends != nil {
			// The row is locked and its version was checked when it was read.
			m.appends.updates = append(m.appends.updates, rowUpdate{id: m.cur.ID, version: m.before.Version, set: m.set})
		} else if err := versionedUpdate(m.ctx, m.tx, m.cur.ID, m.before.Version, m.set); err != nil {
			return err
		}
		m.cur.Version = m.before.Version + 1
		m.cur.UpdatedAt = m.now
	case m.touched:
		if err := m.tx.Table("tickets").Where("id = ?", m.cur.ID).Update("updated_at", m.now).Error; err != nil {
			return err
		}
		m.cur.UpdatedAt = m.now
	}
	if m.reindex {
		if err := m.s.reindex(m.ctx, m.tx, m.cur); err != nil {
			return err
		}
	}
	if len(m.changed) > 0 {
		m.events = append([]outbox.Event{ticketEvent(EventTicketUpdated, m.cur.ID, TicketEvent{ID: m.cur.ID, Changed: m.changed, Actor: m.actorID})}, m.events...)
	}
	if !eqID(m.before.DepartmentID, m.cur.DepartmentID) || !eqID(m.before.AssigneeID, m.cur.AssigneeID) {
		m.events = append(m.events, ticketEvent(EventTicketAssigned, m.cur.ID, AssignedEvent{ID: m.cur.ID,
			FromDepartmentID: m.before.DepartmentID, DepartmentID: m.cur.DepartmentID,
			FromAssigneeID: m.before.AssigneeID, AssigneeID: m.cur.AssigneeID, Auto: m.auto, Actor: m.actorID}))
	}
	if m.appends != nil {
		m.appends.add(m.ctx, m.hist, m.events)
		return nil
	}
	return (&appendRows{hist: m.hist, events: m.events}).write(m.ctx, m.tx)
}

// reindex replaces the ticket's search document: subject (weight 3),
// description and every comment, public and internal (weight 1).
func (s *Service) reindex(ctx context.Context, tx *gorm.DB, r ticketRow) error {
	var bodies []string
	if err := tx.WithContext(ctx).Model(&commentRow{}).Where("ticket_id = ?", r.ID).Order("id").Pluck("body", &bodies).Error; err != nil {
		return err
	}
	fields := make([]search.Field, 0, 2+len(bodies))
	fields = append(fields, search.Field{Text: r.Subject, Weight: 3}, search.Field{Text: r.Description, Weight: 1})
	for _, b := range bodies {
		fields = append(fields, search.Field{Text: b, Weight: 1})
	}
	return s.index.Put(ctx, tx, DocType, r.ID, fields...)
}

// isWorkflowRefusal reports whether err is the workflow saying no (not
// allowed from this state, or a guard failed), as opposed to a failure.
func isWorkflowRefusal(err error) bool {
	var na *workflow.NotAllowedError
	var ge *workflow.GuardError
	return errors.As(err, &na) || errors.As(err, &ge)
}
