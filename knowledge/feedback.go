package knowledge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// checkTicket reports a ticket_id the actor cannot see as a validation
// error on field.
func (s *Service) checkTicket(ctx context.Context, actor accounts.User, v *accounts.ValidationError, field string, id *int64) error {
	if id == nil {
		return nil
	}
	if *id <= 0 {
		v.Add(field, "must be a positive ticket id")
		return nil
	}
	_, err := s.tickets.Get(ctx, actor, *id)
	if errors.Is(err, accounts.ErrNotFound) {
		v.Add(field, fmt.Sprintf("there is no ticket %d that you can see", *id))
		return nil
	}
	return err
}

// AddFeedback records actor's vote on article id: helpful or not, with an
// optional comment and the ticket it came from. Anyone who can read the
// article may vote (requesters: public published articles); one vote per
// person and article, a new one replaces it (created is false then).
func (s *Service) AddFeedback(ctx context.Context, actor accounts.User, id int64, in NewFeedback) (Feedback, bool, error) {
	if err := need(actor, accounts.PermArticlesRead); err != nil {
		return Feedback{}, false, err
	}
	v := &accounts.ValidationError{}
	checkText(v, "comment", in.Comment, false, MaxComment)
	if err := s.checkTicket(ctx, actor, v, "ticket_id", in.TicketID); err != nil {
		return Feedback{}, false, err
	}
	if err := v.Err(); err != nil {
		return Feedback{}, false, err
	}
	var out Feedback
	created := false
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		created = false
		r, err := s.loadRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if _, err := s.visible(ctx, tx, actor, r, ""); err != nil {
			return err
		}
		now := s.clock()
		var prev []feedbackRow
		if err := tx.Where("article_id = ? AND user_id = ?", id, actor.ID).Limit(1).Find(&prev).Error; err != nil {
			return err
		}
		delta := map[bool]int{}
		row := feedbackRow{ArticleID: id, TicketID: in.TicketID, UserID: actor.ID, Helpful: in.Helpful,
			Comment: strings.TrimSpace(in.Comment), CreatedAt: now, UpdatedAt: now}
		if len(prev) == 0 {
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			delta[in.Helpful]++
			created = true
		} else {
			row.ID, row.CreatedAt = prev[0].ID, prev[0].CreatedAt
			if err := tx.Model(&feedbackRow{}).Where("id = ?", row.ID).UpdateColumns(map[string]any{
				"ticket_id": row.TicketID, "helpful": row.Helpful, "comment": row.Comment, "updated_at": now}).Error; err != nil {
				return err
			}
			if prev[0].Helpful != in.Helpful {
				delta[in.Helpful]++
				delta[prev[0].Helpful]--
			}
		}
		if delta[true] != 0 || delta[false] != 0 {
			if err := tx.Model(&articleRow{}).Where("id = ?", id).UpdateColumns(map[string]any{
				"helpful_count":     gorm.Expr("helpful_count + ?", delta[true]),
				"not_helpful_count": gorm.Expr("not_helpful_count + ?", delta[false]),
			}).Error; err != nil {
				return err
			}
		}
		out = toFeedback(row)
		return outbox.Write(ctx, tx, articleEvent(EventFeedbackAdded, id, FeedbackEvent{ArticleID: id, UserID: actor.ID,
			Helpful: in.Helpful, TicketID: in.TicketID}))
	})
	return out, created, err
}

func toFeedback(r feedbackRow) Feedback {
	return Feedback{ID: r.ID, ArticleID: r.ArticleID, TicketID: r.TicketID, UserID: r.UserID, Helpful: r.Helpful,
		Comment: r.Comment, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// FeedbackOf lists the votes on article id, newest first
// (articles:read_drafts).
func (s *Service) FeedbackOf(ctx context.Context, actor accounts.User, id int64) ([]Feedback, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return nil, err
	}
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, id, false); err != nil {
		return nil, err
	}
	var rows []feedbackRow
	if err := db.Where("article_id = ?", id).Order("updated_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Feedback, len(rows))
	for i, r := range rows {
		out[i] = toFeedback(r)
	}
	return out, nil
}

// FlagOutdated reports article id as outdated ("flag it or fix it"), with
// a reason and usually the ticket that showed it (articles:write). The
// flag stays open, and the article marked, until a new revision is
// published. Archived articles cannot be flagged (*StateError).
func (s *Service) FlagOutdated(ctx context.Context, actor accounts.User, id int64, in NewFlag) (Flag, error) {
	if err := need(actor, accounts.PermArticlesWrite); err != nil {
		return Flag{}, err
	}
	v := &accounts.ValidationError{}
	checkText(v, "reason", in.Reason, true, MaxReason)
	if err := s.checkTicket(ctx, actor, v, "ticket_id", in.TicketID); err != nil {
		return Flag{}, err
	}
	if err := v.Err(); err != nil {
		return Flag{}, err
	}
	var out Flag
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := s.loadRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if workflow.Category(r.StatusCategory) == workflow.CategoryClosed {
			return &StateError{Message: fmt.Sprintf("article %d is %s; restore it before flagging it", id, r.Status)}
		}
		now := s.clock()
		row := flagRow{ArticleID: id, TicketID: in.TicketID, UserID: actor.ID, Reason: strings.TrimSpace(in.Reason), CreatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Model(&articleRow{}).Where("id = ?", id).UpdateColumns(map[string]any{
			"flagged_outdated_at": now, "flagged_outdated_by": actor.ID, "flagged_outdated_reason": row.Reason}).Error; err != nil {
			return err
		}
		out = toFlag(row)
		return outbox.Write(ctx, tx, articleEvent(EventArticleFlagged, id, FlaggedEvent{ArticleID: id, FlagID: row.ID,
			UserID: actor.ID, TicketID: in.TicketID}))
	})
	return out, err
}

func toFlag(r flagRow) Flag {
	return Flag{ID: r.ID, ArticleID: r.ArticleID, TicketID: r.TicketID, UserID: r.UserID, Reason: r.Reason,
		CreatedAt: r.CreatedAt.UTC(), ResolvedAt: utcPtr(r.ResolvedAt), ResolvedRevisionID: r.ResolvedRevisionID}
}

// Flags lists the flags of article id, newest first; open only unless all
// (articles:read_drafts).
func (s *Service) Flags(ctx context.Context, actor accounts.User, id int64, all bool) ([]Flag, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return nil, err
	}
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, id, false); err != nil {
		return nil, err
	}
	if !all {
		return s.openFlags(ctx, db, id)
	}
	var rows []flagRow
	if err := db.Where("article_id = ?", id).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	return toFlags(rows), nil
}

func (s *Service) openFlags(ctx context.Context, db *gorm.DB, id int64) ([]Flag, error) {
	var rows []flagRow
	if err := db.WithContext(ctx).Where("article_id = ? AND resolved_at IS NULL", id).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	return toFlags(rows), nil
}

func toFlags(rows []flagRow) []Flag {
	out := make([]Flag, len(rows))
	for i, r := range rows {
		out[i] = toFlag(r)
	}
	return out
}
