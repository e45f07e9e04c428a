package knowledge

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// The review workflow is the "article" workflow definition (builtin:
// draft -> in_review -> published -> archived, reject back to draft with a
// comment, restore from archived). Events are fired like a ticket's: a
// fresh looplab/fsm machine per transition (workflow.Definition.Fire) over
// the stored state and the pinned version, guards deciding roles (only
// knowledge editors and admins approve, reject, archive and restore) and
// required fields. On top of the guards:
//
//   - nobody approves their own words: the author of the revision in review
//     may not fire an event that publishes it (a *workflow.GuardError of
//     kind forbidden, so it reads like the other guards);
//   - entering a resolved-category state (published) publishes the current
//     revision: published_revision_id moves to it, open "outdated" flags
//     close, and the readers' search document is rewritten;
//   - entering a closed-category state (archived) withdraws it: readers no
//     longer see the article, and restoring it needs a new approval.

// publishes reports whether firing ev leads into a published (resolved
// category) state.
func publishes(def *workflow.Definition, ev workflow.Option) bool {
	st, ok := def.State(ev.To)
	return ok && st.Category == workflow.CategoryResolved
}

func (s *Service) subjectOf(actor accounts.User, r articleRow, fields map[string]string) workflow.Subject {
	roles := make([]string, len(actor.Roles))
	for i, ro := range actor.Roles {
		roles[i] = string(ro)
	}
	return workflow.Subject{
		Roles:          roles,
		Can:            func(p string) bool { return actor.Can(accounts.Permission(p)) },
		Fields:         fields,
		StateEnteredAt: r.StateEnteredAt.UTC(),
		Now:            s.clock(),
	}
}

// Transitions lists the events actor may fire now on article id (an
// author is not offered approving their own revision), the article's
// working copy and its workflow history, oldest first
// (articles:read_drafts).
func (s *Service) Transitions(ctx context.Context, actor accounts.User, id int64) ([]workflow.Option, Article, []TransitionRecord, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return nil, Article{}, nil, err
	}
	db := s.conn(ctx)
	r, err := s.loadRow(ctx, db, id, false)
	if err != nil {
		return nil, Article{}, nil, err
	}
	a, err := s.visible(ctx, db, actor, r, ViewWorking)
	if err != nil {
		return nil, Article{}, nil, err
	}
	def, err := s.definition(ctx, r.WorkflowVersion)
	if err != nil {
		return nil, Article{}, nil, err
	}
	opts := []workflow.Option{}
	for _, o := range def.Available(r.Status, s.subjectOf(actor, r, nil)) {
		if publishes(def, o) && a.AuthorID == actor.ID {
			continue
		}
		opts = append(opts, o)
	}
	hist, err := s.history(ctx, db, id)
	return opts, a, hist, err
}

func (s *Service) history(ctx context.Context, db *gorm.DB, id int64) ([]TransitionRecord, error) {
	var rows []transitionRow
	if err := db.WithContext(ctx).Where("article_id = ?", id).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	var revIDs []int64
	for _, r := range rows {
		if r.RevisionID != nil {
			revIDs = append(revIDs, *r.RevisionID)
		}
	}
	numbers := map[int64]int{}
	if len(revIDs) > 0 {
		var rr []revisionRow
		if err := db.WithContext(ctx).Select("id, number").Where("id IN ?", revIDs).Find(&rr).Error; err != nil {
			return nil, err
		}
		for _, r := range rr {
			numbers[r.ID] = r.Number
		}
	}
	out := make([]TransitionRecord, len(rows))
	for i, r := range rows {
		out[i] = TransitionRecord{ID: r.ID, ArticleID: r.ArticleID, Event: r.Event, From: r.FromState, To: r.ToState,
			RevisionID: r.RevisionID, Revision: numbers[deref(r.RevisionID)], ActorID: r.ActorID, Comment: r.Comment, At: r.At.UTC()}
	}
	return out, nil
}

// Fire fires a workflow event on article id; version 0 means no
// precondition. Workflow refusals (*workflow.NotAllowedError,
// *workflow.GuardError) come back unchanged; nothing is applied then.
func (s *Service) Fire(ctx context.Context, actor accounts.User, id int64, version int, t Transition) (Article, error) {
	if err := need(actor, accounts.PermArticlesWrite); err != nil {
		return Article{}, err
	}
	v := &accounts.ValidationError{}
	if strings.TrimSpace(t.Event) == "" {
		v.Add("event", "is required")
	}
	checkText(v, "comment", t.Comment, false, MaxComment)
	if err := v.Err(); err != nil {
		return Article{}, err
	}
	fields := make(map[string]string, len(t.Fields)+1)
	for k, val := range t.Fields {
		fields[k] = val
	}
	if strings.TrimSpace(t.Comment) != "" {
		fields["comment"] = t.Comment
	}
	var out Article
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = s.fireTx(ctx, tx, actor, id, version, t, fields, false)
		return err
	})
	return out, err
}

// fireTx is Fire inside the caller's transaction, with the request already
// validated. selfReview lifts the "nobody approves their own words" rule:
// only for an FAQ proposal approved with publish, where the editor who
// approves the proposal is the reviewer of the text it becomes (see
// FAQ.Approve); the workflow's guards (roles) still apply.
func (s *Service) fireTx(ctx context.Context, tx *gorm.DB, actor accounts.User, id int64, version int, t Transition,
	fields map[string]string, selfReview bool) (Article, error) {
	var out Article
	err := func() error {
		r, err := s.loadRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if version != 0 && r.Version != version {
			return accounts.ErrVersionConflict
		}
		def, err := s.definition(ctx, r.WorkflowVersion)
		if err != nil {
			return err
		}
		res, err := def.Fire(ctx, r.Status, t.Event, s.subjectOf(actor, r, fields))
		if err != nil {
			return err
		}
		cur, err := s.revision(ctx, tx, deref(r.CurrentRevisionID))
		if err != nil {
			return err
		}
		now := s.clock()
		set := map[string]any{"status": res.To, "status_category": string(res.Category), "updated_at": now,
			"version": gorm.Expr("version + 1")}
		if res.To != r.Status {
			set["state_entered_at"] = now
		}
		var events []outbox.Event
		switch res.Category {
		case workflow.CategoryResolved:
			if cur.AuthorID == actor.ID && !selfReview {
				return &workflow.GuardError{Event: t.Event, Kind: workflow.GuardForbidden,
					Message: fmt.Sprintf("you wrote revision %d of article %d, so you may not approve it: another knowledge editor must review it", cur.Number, id)}
			}
			set["published_revision_id"], set["published_at"] = cur.ID, now
			set["flagged_outdated_at"], set["flagged_outdated_by"], set["flagged_outdated_reason"] = nil, nil, ""
			if err := tx.Model(&flagRow{}).Where("article_id = ? AND resolved_at IS NULL", id).
				UpdateColumns(map[string]any{"resolved_at": now, "resolved_revision_id": cur.ID}).Error; err != nil {
				return err
			}
			r.PublishedRevisionID, r.PublishedAt = &cur.ID, &now
			r.FlaggedOutdatedAt, r.FlaggedOutdatedBy, r.FlaggedOutdatedReason = nil, nil, ""
			if err := s.index.Put(ctx, tx, DocTypePublished, id, contentFields(revContent(cur))...); err != nil {
				return err
			}
			events = append(events, articleEvent(EventArticlePublished, id, ArticleEvent{ID: id, Revision: cur.Number, Actor: idPtr(actor.ID)}))
		case workflow.CategoryClosed:
			set["published_revision_id"], set["published_at"] = nil, nil
			r.PublishedRevisionID, r.PublishedAt = nil, nil
			if err := s.index.Delete(ctx, tx, DocTypePublished, id); err != nil {
				return err
			}
		}
		res2 := tx.Model(&articleRow{}).Where("id = ? AND version = ?", id, r.Version).UpdateColumns(set)
		if res2.Error != nil {
			return res2.Error
		}
		if res2.RowsAffected != 1 {
			return accounts.ErrVersionConflict
		}
		if err := tx.Create(&transitionRow{ArticleID: id, Event: t.Event, FromState: res.From, ToState: res.To,
			RevisionID: &cur.ID, ActorID: idPtr(actor.ID), Comment: t.Comment, At: now}).Error; err != nil {
			return err
		}
		r.Status, r.StatusCategory, r.UpdatedAt, r.Version = res.To, string(res.Category), now, r.Version+1
		if res.To != res.From {
			r.StateEnteredAt = now
		}
		if res.Category == workflow.CategoryResolved || res.Category == workflow.CategoryClosed {
			if err := s.reindex(ctx, tx, r); err != nil {
				return err
			}
		}
		if out, err = s.visible(ctx, tx, actor, r, ViewWorking); err != nil {
			return err
		}
		events = append([]outbox.Event{articleEvent(EventArticleTransitioned, id, TransitionedEvent{ID: id, Event: t.Event,
			From: res.From, To: res.To, Category: res.Category, Revision: cur.Number, Actor: idPtr(actor.ID)})}, events...)
		return outbox.Write(ctx, tx, events...)
	}()
	return out, err
}
