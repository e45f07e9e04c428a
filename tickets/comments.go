package tickets

import (
	"context"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
)

// EventCustomerReplied is the workflow event a requester's reply fires when
// the ticket's state offers it (the ticket waited on the customer).
const EventCustomerReplied = "customer_replied"

// AddComment stores a public reply (comments:create) or an internal note
// (comments:internal) on a ticket the actor can see. A public reply by the
// requester fires "customer_replied" in the same transaction when the
// workflow allows it from the current state, so the ticket resumes.
func (s *Service) AddComment(ctx context.Context, actor accounts.User, id int64, in NewComment) (Comment, error) {
	perm := accounts.PermCommentsCreate
	if in.Internal {
		perm = accounts.PermCommentsInternal
	}
	if !actor.Can(perm) {
		return Comment{}, &ForbiddenError{Permission: string(perm)}
	}
	v := &accounts.ValidationError{}
	checkCommentBody(v, "body", in.Body)
	if err := v.Err(); err != nil {
		return Comment{}, err
	}
	var c commentRow
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		m, err := s.begin(ctx, tx, actor, id, 0)
		if err != nil {
			return err
		}
		if c, err = m.addComment(in.Body, in.Internal); err != nil {
			return err
		}
		if !in.Internal && m.cur.RequesterID == actor.ID {
			def, err := s.definition(ctx, tx, m.cur.WorkflowKey, m.cur.WorkflowVersion)
			if err != nil {
				return err
			}
			if _, ok := def.Event(EventCustomerReplied); ok {
				if err := m.transition(EventCustomerReplied, map[string]string{}); err != nil && !isWorkflowRefusal(err) {
					return err
				}
			}
		}
		return m.finish()
	})
	if err != nil {
		return Comment{}, err
	}
	return toComment(c), nil
}

func toComment(c commentRow) Comment {
	return Comment{ID: c.ID, TicketID: c.TicketID, AuthorID: c.AuthorID, Body: c.Body, Internal: c.Internal, CreatedAt: c.CreatedAt.UTC()}
}

// seesInternal reports whether actor may read internal notes.
func seesInternal(actor accounts.User) bool { return actor.Can(accounts.PermCommentsInternal) }

// Comments lists comments oldest first; requesters never see internal notes.
func (s *Service) Comments(ctx context.Context, actor accounts.User, id int64) ([]Comment, error) {
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, actor, id, false); err != nil {
		return nil, err
	}
	q := db.Where("ticket_id = ?", id)
	if !seesInternal(actor) {
		q = q.Where("internal = ?", false)
	}
	var rows []commentRow
	if err := q.Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Comment, len(rows))
	for i, r := range rows {
		out[i] = toComment(r)
	}
	return out, nil
}
