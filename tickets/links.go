package tickets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// Links between tickets and knowledge articles (ticket_article_links).
//
// They live here, not in knowledge, because the resolve step creates one in
// the transaction that fires it (field article_id), before the knowledge
// guard counts them, and tickets must not import knowledge (knowledge
// imports tickets). So this file reads the articles table by name, as the
// guard's count reads the links table: an article must exist and not be
// archived (status category closed) to be linked, and linking solved_by or
// referenced moves the article's reuse_count.

// Link kinds.
const (
	LinkSolvedBy    = "solved_by"    // the article solved the ticket
	LinkReferenced  = "referenced"   // the article was used or sent while working it
	LinkCreatedFrom = "created_from" // the article was written from the ticket
)

// LinkKinds lists the kinds in documentation order.
var LinkKinds = []string{LinkSolvedBy, LinkReferenced, LinkCreatedFrom}

// Transition fields that link an article while firing a knowledge-guarded
// event (resolve): article_id, and link_kind (default solved_by).
const (
	FieldArticleID = "article_id"
	FieldLinkKind  = "link_kind"
)

// Domain events of links, written to the outbox with the change.
const (
	EventArticleLinked   = "ticket:article_linked"
	EventArticleUnlinked = "ticket:article_unlinked"
)

// LinkEvent is the payload of ticket:article_linked and ticket:article_unlinked.
type LinkEvent struct {
	TicketID  int64  `json:"ticket_id"`
	ArticleID int64  `json:"article_id"`
	Kind      string `json:"kind"`
	Actor     int64  `json:"actor"`
}

// Link is one ticket-article link.
type Link struct {
	TicketID  int64     `json:"ticket_id"`
	ArticleID int64     `json:"article_id"`
	Kind      string    `json:"kind"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// countsReuse reports whether a link of kind counts as a reuse of the
// article (created_from is where it came from, not a use of it).
func countsReuse(kind string) bool { return kind == LinkSolvedBy || kind == LinkReferenced }

// ValidLinkKind reports whether kind is one of LinkKinds.
func ValidLinkKind(kind string) bool { return contains(LinkKinds, kind) }

// canLink: staff who work tickets or write articles; requesters cannot.
func canLink(actor accounts.User) error {
	if actor.Can(accounts.PermTicketsWrite) || actor.Can(accounts.PermArticlesWrite) {
		return nil
	}
	return &ForbiddenError{Permission: string(accounts.PermTicketsWrite)}
}

// LinkArticle links article to ticket id as kind (created is false when
// that link already existed: nothing changes then). It needs tickets:write
// or articles:write and a ticket the actor can see; the article must exist
// and not be archived. The ticket gets a history entry (kind "link"); its
// version does not move.
func (s *Service) LinkArticle(ctx context.Context, actor accounts.User, id, articleID int64, kind string) (l Link, created bool, err error) {
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		l, created, err = s.LinkArticleTx(ctx, tx, actor, id, articleID, kind)
		return err
	})
	return l, created, err
}

// LinkArticleTx is LinkArticle inside the caller's transaction tx (the
// knowledge service drafts an article from a ticket and links it
// created_from in one transaction).
func (s *Service) LinkArticleTx(ctx context.Context, tx *gorm.DB, actor accounts.User, id, articleID int64, kind string) (Link, bool, error) {
	if err := canLink(actor); err != nil {
		return Link{}, false, err
	}
	v := &accounts.ValidationError{}
	checkLinkKind(v, "kind", kind)
	if articleID <= 0 {
		v.Add("article_id", "must be a positive article id")
	}
	if err := v.Err(); err != nil {
		return Link{}, false, err
	}
	m, err := s.begin(ctx, tx, actor, id, 0)
	if err != nil {
		return Link{}, false, err
	}
	l, created, err := m.addLink(articleID, kind, "article_id")
	if err != nil || !created {
		return l, created, err
	}
	return l, true, m.finish()
}

// UnlinkArticle removes the link of article to ticket id of kind, or of
// every kind when kind is "". A link that is not there is a validation
// error on article_id. Removing solved_by or referenced moves the article's
// reuse_count back.
func (s *Service) UnlinkArticle(ctx context.Context, actor accounts.User, id, articleID int64, kind string) error {
	if err := canLink(actor); err != nil {
		return err
	}
	v := &accounts.ValidationError{}
	if kind != "" {
		checkLinkKind(v, "kind", kind)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *gorm.DB) error {
		m, err := s.begin(ctx, tx, actor, id, 0)
		if err != nil {
			return err
		}
		q := tx.WithContext(ctx).Model(&linkRow{}).Where("ticket_id = ? AND article_id = ?", id, articleID)
		if kind != "" {
			q = q.Where("kind = ?", kind)
		}
		var rows []linkRow
		if err := q.Order("kind").Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			ve := &accounts.ValidationError{}
			what := "linked to this ticket"
			if kind != "" {
				what += " as " + kind
			}
			ve.Add("article_id", fmt.Sprintf("article %d is not %s", articleID, what))
			return ve
		}
		for _, r := range rows {
			if err := tx.WithContext(ctx).Where("ticket_id = ? AND article_id = ? AND kind = ?", id, articleID, r.Kind).Delete(&linkRow{}).Error; err != nil {
				return err
			}
			if countsReuse(r.Kind) {
				if err := tx.WithContext(ctx).Exec("UPDATE articles SET reuse_count = reuse_count - 1 WHERE id = ? AND reuse_count > 0", articleID).Error; err != nil {
					return err
				}
			}
			m.history(KindLink, "article", strconv.FormatInt(articleID, 10), "", r.Kind)
			m.events = append(m.events, outbox.Event{Type: EventArticleUnlinked, AggregateType: "ticket", AggregateID: strconv.FormatInt(id, 10),
				Payload: LinkEvent{TicketID: id, ArticleID: articleID, Kind: r.Kind, Actor: actor.ID}})
			m.links--
		}
		m.touched = true
		return m.finish()
	})
}

// ArticleLinks lists the links of a ticket the actor can see, oldest first.
func (s *Service) ArticleLinks(ctx context.Context, actor accounts.User, id int64) ([]Link, error) {
	db := s.conn(ctx)
	if _, err := s.loadRow(ctx, db, actor, id, false); err != nil {
		return nil, err
	}
	var rows []linkRow
	if err := db.Where("ticket_id = ?", id).Order("created_at, article_id, kind").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Link, len(rows))
	for i, r := range rows {
		out[i] = toLink(r)
	}
	return out, nil
}

func toLink(r linkRow) Link {
	return Link{TicketID: r.TicketID, ArticleID: r.ArticleID, Kind: r.Kind, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
}

func checkLinkKind(v *accounts.ValidationError, field, kind string) {
	if !ValidLinkKind(kind) {
		v.Add(field, fmt.Sprintf("%q is not a link kind; use %s", kind, strings.Join(LinkKinds, ", ")))
	}
}

// addLink links an article within the mutation; field names the input
// that carried the article id, for errors. An existing link is returned
// with created false and nothing recorded.
func (m *mutation) addLink(articleID int64, kind, field string) (Link, bool, error) {
	var art []struct{ StatusCategory string }
	if err := m.tx.WithContext(m.ctx).Raw("SELECT status_category FROM articles WHERE id = ?", articleID).Scan(&art).Error; err != nil {
		return Link{}, false, err
	}
	if len(art) == 0 {
		ve := &accounts.ValidationError{}
		ve.Add(field, fmt.Sprintf("there is no article %d", articleID))
		return Link{}, false, ve
	}
	if art[0].StatusCategory == string(workflow.CategoryClosed) {
		ve := &accounts.ValidationError{}
		ve.Add(field, fmt.Sprintf("article %d is archived; restore it or link another article", articleID))
		return Link{}, false, ve
	}
	// The ticket's row lock (begin) serialises links of one ticket, so this
	// read decides.
	var existing []linkRow
	if err := m.tx.WithContext(m.ctx).Where("ticket_id = ? AND article_id = ? AND kind = ?", m.cur.ID, articleID, kind).
		Limit(1).Find(&existing).Error; err != nil {
		return Link{}, false, err
	}
	if len(existing) > 0 {
		return toLink(existing[0]), false, nil
	}
	r := linkRow{TicketID: m.cur.ID, ArticleID: articleID, Kind: kind, CreatedBy: m.actorID, CreatedAt: m.now}
	if _, err := execTx(m.ctx, m.tx, "INSERT INTO ticket_article_links (ticket_id, article_id, kind, created_by, created_at) VALUES (?,?,?,?,?)",
		r.TicketID, r.ArticleID, r.Kind, r.CreatedBy, r.CreatedAt); err != nil {
		return Link{}, false, err
	}
	if countsReuse(kind) {
		if _, err := execTx(m.ctx, m.tx, "UPDATE articles SET reuse_count = reuse_count + 1 WHERE id = ?", articleID); err != nil {
			return Link{}, false, err
		}
	}
	m.history(KindLink, "article", "", strconv.FormatInt(articleID, 10), kind)
	m.events = append(m.events, outbox.Event{Type: EventArticleLinked, AggregateType: "ticket", AggregateID: strconv.FormatInt(m.cur.ID, 10),
		Payload: LinkEvent{TicketID: m.cur.ID, ArticleID: articleID, Kind: kind, Actor: m.actor.ID}})
	m.links++
	m.touched = true
	return toLink(r), true, nil
}

// linkFromFields is the resolve step's hook: before a knowledge-guarded
// event's guards are evaluated, fields article_id (and link_kind, default
// solved_by) link that article in the same transaction, with the checks
// of LinkArticle. Errors name the fields as the client sends them
// (fields.article_id). Without article_id it does nothing.
func (m *mutation) linkFromFields(fields map[string]string) error {
	raw := strings.TrimSpace(fields[FieldArticleID])
	if raw == "" {
		return nil
	}
	v := &accounts.ValidationError{}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		v.Add("fields."+FieldArticleID, "must be an article id (a positive whole number)")
	}
	kind := strings.TrimSpace(fields[FieldLinkKind])
	if kind == "" {
		kind = LinkSolvedBy
	}
	checkLinkKind(v, "fields."+FieldLinkKind, kind)
	if err := v.Err(); err != nil {
		return err
	}
	if err := canLink(m.actor); err != nil {
		return err
	}
	_, _, err = m.addLink(id, kind, "fields."+FieldArticleID)
	var ve *accounts.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return fmt.Errorf("tickets: link article %d: %w", id, err)
	}
	return err
}
