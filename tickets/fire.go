package tickets

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/workflow"
)

// Transitions lists the events the actor may fire now.
func (s *Service) Transitions(ctx context.Context, actor accounts.User, id int64) ([]workflow.Option, Ticket, error) {
	db := s.conn(ctx)
	r, tags, links, err := s.loadTicket(ctx, db, actor, id, false)
	if err != nil {
		return nil, Ticket{}, err
	}
	t := toTicket(r, tags, links)
	def, err := s.definition(ctx, db, r.WorkflowKey, r.WorkflowVersion)
	if err != nil {
		return nil, Ticket{}, err
	}
	opts := def.Available(r.Status, s.subjectOf(actor, r, links, nil))
	if opts == nil {
		opts = []workflow.Option{}
	}
	return opts, t, nil
}

func checkCommentBody(v *accounts.ValidationError, field, body string) {
	switch n := utf8.RuneCountInString(body); {
	case !checkUTF8(v, field, body):
	case strings.TrimSpace(body) == "":
		v.Add(field, "is required")
	case n > MaxCommentBody:
		v.Add(field, fmt.Sprintf("must be at most %d characters (got %d)", MaxCommentBody, n))
	}
}

// Fire fires an event; version 0 means no precondition. Workflow refusals
// (*workflow.NotAllowedError, *workflow.GuardError) come back unchanged.
// The comment, if any, is stored as a public reply in the same transaction.
// Concurrent calls share transactions (group.go, fire_batch.go); each
// gets the outcome it would have had alone.
func (s *Service) Fire(ctx context.Context, actor accounts.User, id int64, version int, t Transition) (Ticket, error) {
	fields := make(map[string]string, len(t.Fields)+1)
	bad := &accounts.ValidationError{}
	for k, v := range t.Fields {
		checkUTF8(bad, "fields."+k, k+v)
		fields[k] = v
	}
	if err := bad.Err(); err != nil {
		return Ticket{}, err
	}
	if strings.TrimSpace(t.Comment) != "" {
		v := &accounts.ValidationError{}
		checkCommentBody(v, "comment", t.Comment)
		if err := v.Err(); err != nil {
			return Ticket{}, err
		}
		if !actor.Can(accounts.PermCommentsCreate) {
			return Ticket{}, &ForbiddenError{Permission: string(accounts.PermCommentsCreate)}
		}
		fields["comment"] = t.Comment
	}
	if strings.TrimSpace(t.Event) == "" {
		v := &accounts.ValidationError{}
		v.Add("event", "is required")
		return Ticket{}, v
	}
	return s.fires.run(s, &fireCall{call: call{ctx: ctx}, actor: actor, id: id, version: version, event: t.Event, comment: t.Comment, fields: fields},
		s.fireBatch, s.fireAlone)
}

// fireCall is one Fire waiting for its transaction.
type fireCall struct {
	call
	actor   accounts.User
	id      int64
	version int
	event   string
	comment string
	fields  map[string]string
}

// fireAlone runs c in a transaction of its own.
func (s *Service) fireAlone(c *fireCall) (Ticket, error) {
	var out Ticket
	err := s.inTx(c.ctx, func(tx *gorm.DB) error {
		m, err := s.begin(c.ctx, tx, c.actor, c.id, c.version)
		if err != nil {
			return err
		}
		out, err = m.fire(c)
		return err
	})
	return out, err
}

// fire applies c to the ticket m has locked, and finishes the change.
func (m *mutation) fire(c *fireCall) (Ticket, error) {
	if err := m.transition(c.event, c.fields); err != nil {
		return Ticket{}, err
	}
	if strings.TrimSpace(c.comment) != "" {
		if _, err := m.addComment(c.comment, false); err != nil {
			return Ticket{}, err
		}
	}
	if err := m.finish(); err != nil {
		return Ticket{}, err
	}
	return m.ticket(), nil
}
