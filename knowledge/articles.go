package knowledge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/search"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// ---- validation ----

func checkText(v *accounts.ValidationError, field, s string, required bool, maxRunes int) {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		v.Add(field, "is not valid UTF-8 text")
	case required && strings.TrimSpace(s) == "":
		v.Add(field, "is required")
	case n > maxRunes:
		v.Add(field, fmt.Sprintf("must be at most %d characters (got %d)", maxRunes, n))
	}
}

func checkOneOf(v *accounts.ValidationError, field, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.Add(field, fmt.Sprintf("%q is not one of: %s", clip(s), strings.Join(allowed, ", ")))
	}
}

// normalizeTags lowercases, trims and de-duplicates tags, sorted.
func normalizeTags(v *accounts.ValidationError, tags []string) []string {
	out := []string{}
	for i, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		field := fmt.Sprintf("tags[%d]", i)
		switch n := utf8.RuneCountInString(t); {
		case t == "":
			v.Add(field, "must not be blank")
			continue
		case n > MaxTag:
			v.Add(field, fmt.Sprintf("must be at most %d characters", MaxTag))
			continue
		case strings.ContainsFunc(t, unicode.IsControl):
			v.Add(field, "must not contain control characters")
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		v.Add("tags", fmt.Sprintf("at most %d tags (got %d)", MaxTags, len(out)))
	}
	slices.Sort(out)
	return out
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		return string(r[:40]) + "…"
	}
	return s
}

// guessLanguage says zh when the text has Han characters, else en.
func guessLanguage(texts ...string) string {
	for _, t := range texts {
		if strings.ContainsFunc(t, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			return LanguageZh
		}
	}
	return LanguageEn
}

// content is the editable part of an article (one revision's fields).
type content struct {
	Title, Summary, Body, Category string
	Tags                           []string
	Language, Audience             string
}

func (c content) validate(v *accounts.ValidationError) {
	checkText(v, "title", c.Title, true, MaxTitle)
	checkText(v, "summary", c.Summary, false, MaxSummary)
	checkText(v, "body", c.Body, true, MaxBody)
	checkText(v, "category", c.Category, false, MaxCategory)
	checkOneOf(v, "language", c.Language, Languages)
	checkOneOf(v, "audience", c.Audience, Audiences)
}

func (c content) equal(d content) bool {
	return c.Title == d.Title && c.Summary == d.Summary && c.Body == d.Body && c.Category == d.Category &&
		slices.Equal(c.Tags, d.Tags) && c.Language == d.Language && c.Audience == d.Audience
}

func rowContent(r articleRow) content {
	return content{Title: r.Title, Summary: r.Summary, Body: r.Body, Category: r.Category, Tags: decodeTags(r.Tags),
		Language: r.Language, Audience: r.Audience}
}

func revContent(r revisionRow) content {
	return content{Title: r.Title, Summary: r.Summary, Body: r.Body, Category: r.Category, Tags: decodeTags(r.Tags),
		Language: r.Language, Audience: r.Audience}
}

// ---- create ----

// Create stores a new article in the workflow's initial state (draft) with
// revision 1 by actor (articles:write). With FromTicketID it is prefilled
// from that ticket and linked to it created_from in the same transaction.
func (s *Service) Create(ctx context.Context, actor accounts.User, in NewArticle) (Article, error) {
	if err := need(actor, accounts.PermArticlesWrite); err != nil {
		return Article{}, err
	}
	v := &accounts.ValidationError{}
	if in.FromTicketID != nil {
		if err := s.prefill(ctx, actor, &in); err != nil {
			return Article{}, err
		}
	}
	c := content{Title: strings.TrimSpace(in.Title), Summary: strings.TrimSpace(in.Summary), Body: in.Body,
		Category: strings.TrimSpace(in.Category), Tags: normalizeTags(v, in.Tags), Language: in.Language, Audience: in.Audience}
	if c.Language == "" {
		c.Language = guessLanguage(c.Title, c.Body)
	}
	if c.Audience == "" {
		c.Audience = AudienceInternal
	}
	c.validate(v)
	checkText(v, "note", in.Note, false, MaxNote)
	if err := v.Err(); err != nil {
		return Article{}, err
	}
	note := in.Note
	if note == "" && in.FromTicketID != nil {
		note = fmt.Sprintf("drafted from ticket %d", *in.FromTicketID)
	}
	var out Article
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = s.createTx(ctx, tx, actor, c, note, in.FromTicketID)
		return err
	})
	return out, err
}

// createTx stores validated content c as a new article by actor in the
// caller's transaction (see Create); FAQ.Approve uses it to create the
// article and link the proposal's tickets in one transaction.
func (s *Service) createTx(ctx context.Context, tx *gorm.DB, actor accounts.User, c content, note string, fromTicketID *int64) (Article, error) {
	def, err := s.definition(ctx, 0)
	if err != nil {
		return Article{}, err
	}
	initial, ok := def.State(def.Initial)
	if !ok {
		return Article{}, fmt.Errorf("knowledge: workflow %s@%d has no initial state %q", def.Key, def.Version, def.Initial)
	}
	var out Article
	err = func() error {
		now := s.clock()
		r := articleRow{Title: c.Title, Summary: c.Summary, Body: c.Body, Category: c.Category, Tags: encodeTags(c.Tags),
			Language: c.Language, Audience: c.Audience, OwnerID: actor.ID, Status: initial.Name, StatusCategory: string(initial.Category),
			WorkflowVersion: def.Version, StateEnteredAt: now, RevisionNumber: 1, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		rev := revisionRow{ArticleID: r.ID, Number: 1, Title: c.Title, Summary: c.Summary, Body: c.Body, Category: c.Category,
			Tags: r.Tags, Language: c.Language, Audience: c.Audience, AuthorID: actor.ID, Note: note, CreatedAt: now}
		if err := tx.Create(&rev).Error; err != nil {
			return err
		}
		r.CurrentRevisionID = &rev.ID
		if err := tx.Model(&articleRow{}).Where("id = ?", r.ID).UpdateColumn("current_revision_id", rev.ID).Error; err != nil {
			return err
		}
		if err := tx.Create(&transitionRow{ArticleID: r.ID, Event: "create", FromState: "", ToState: initial.Name,
			RevisionID: &rev.ID, ActorID: idPtr(actor.ID), Comment: note, At: now}).Error; err != nil {
			return err
		}
		if err := s.index.PutNew(ctx, tx, DocType, search.Doc{ID: r.ID, Fields: indexFields(c, nil)}); err != nil {
			return err
		}
		if fromTicketID != nil {
			if _, _, err := s.tickets.LinkArticleTx(ctx, tx, actor, *fromTicketID, r.ID, tickets.LinkCreatedFrom); err != nil {
				return fromTicketErr(err)
			}
		}
		out = r.working(actor.ID)
		return outbox.Write(ctx, tx, articleEvent(EventArticleCreated, r.ID, ArticleEvent{ID: r.ID, Revision: 1, Actor: idPtr(actor.ID)}))
	}()
	return out, err
}

// ---- update ----

// Update applies p as a new revision by actor (articles:write); version 0
// means no precondition, otherwise a stale version is ErrVersionConflict.
// Edits of a published article start a new draft (the published revision
// stays live); archived articles are read-only (*StateError). A patch that
// changes nothing returns the article unchanged, without a revision.
func (s *Service) Update(ctx context.Context, actor accounts.User, id int64, version int, p Patch) (Article, error) {
	if err := need(actor, accounts.PermArticlesWrite); err != nil {
		return Article{}, err
	}
	v := &accounts.ValidationError{}
	var tags []string
	if p.Tags != nil {
		tags = normalizeTags(v, *p.Tags)
	}
	checkText(v, "note", p.Note, false, MaxNote)
	if err := v.Err(); err != nil {
		return Article{}, err
	}
	var out Article
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		r, err := s.loadRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if version != 0 && r.Version != version {
			return accounts.ErrVersionConflict
		}
		if workflow.Category(r.StatusCategory) == workflow.CategoryClosed {
			return &StateError{Message: fmt.Sprintf("article %d is %s and read-only; restore it to edit it", id, r.Status)}
		}
		old := rowContent(r)
		c := old
		if p.Title != nil {
			c.Title = strings.TrimSpace(*p.Title)
		}
		if p.Summary != nil {
			c.Summary = strings.TrimSpace(*p.Summary)
		}
		if p.Body != nil {
			c.Body = *p.Body
		}
		if p.Category != nil {
			c.Category = strings.TrimSpace(*p.Category)
		}
		if p.Tags != nil {
			c.Tags = tags
		}
		if p.Language != nil {
			c.Language = *p.Language
		}
		if p.Audience != nil {
			c.Audience = *p.Audience
		}
		ve := &accounts.ValidationError{}
		c.validate(ve)
		if err := ve.Err(); err != nil {
			return err
		}
		if c.equal(old) {
			out, err = s.visible(ctx, tx, actor, r, ViewWorking)
			return err
		}
		now := s.clock()
		rev := revisionRow{ArticleID: id, Number: r.RevisionNumber + 1, Title: c.Title, Summary: c.Summary, Body: c.Body,
			Category: c.Category, Tags: encodeTags(c.Tags), Language: c.Language, Audience: c.Audience, AuthorID: actor.ID,
			Note: p.Note, CreatedAt: now}
		if err := tx.Create(&rev).Error; err != nil {
			return err
		}
		set := map[string]any{"title": c.Title, "summary": c.Summary, "body": c.Body, "category": c.Category,
			"tags": rev.Tags, "language": c.Language, "audience": c.Audience, "current_revision_id": rev.ID,
			"revision_number": rev.Number, "updated_at": now, "version": gorm.Expr("version + 1")}
		if workflow.Category(r.StatusCategory) == workflow.CategoryResolved {
			// A published article's edit is a new draft; the live revision stays.
			def, err := s.definition(ctx, r.WorkflowVersion)
			if err != nil {
				return err
			}
			initial, _ := def.State(def.Initial)
			set["status"], set["status_category"], set["state_entered_at"] = initial.Name, string(initial.Category), now
			if err := tx.Create(&transitionRow{ArticleID: id, Event: EventEdit, FromState: r.Status, ToState: initial.Name,
				RevisionID: &rev.ID, ActorID: idPtr(actor.ID), Comment: p.Note, At: now}).Error; err != nil {
				return err
			}
			r.Status, r.StatusCategory, r.StateEnteredAt = initial.Name, string(initial.Category), now
		}
		res := tx.Model(&articleRow{}).Where("id = ? AND version = ?", id, r.Version).UpdateColumns(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return accounts.ErrVersionConflict // cannot happen under the row lock; never a lost update
		}
		r.Title, r.Summary, r.Body, r.Category, r.Tags = c.Title, c.Summary, c.Body, c.Category, rev.Tags
		r.Language, r.Audience, r.CurrentRevisionID, r.RevisionNumber = c.Language, c.Audience, &rev.ID, rev.Number
		r.UpdatedAt, r.Version = now, r.Version+1
		if err := s.reindex(ctx, tx, r); err != nil {
			return err
		}
		out, err = s.visible(ctx, tx, actor, r, ViewWorking)
		if err != nil {
			return err
		}
		return outbox.Write(ctx, tx, articleEvent(EventArticleUpdated, id, ArticleEvent{ID: id, Revision: rev.Number, Actor: idPtr(actor.ID)}))
	})
	return out, err
}

// ---- read ----

// Get returns article id as actor may see it in view ("" = the default:
// working copy for staff, the published revision for anyone else).
// Articles the actor may not see are accounts.ErrNotFound. Staff also get
// the open flags.
func (s *Service) Get(ctx context.Context, actor accounts.User, id int64, view string) (Article, error) {
	if err := need(actor, accounts.PermArticlesRead); err != nil {
		return Article{}, err
	}
	db := s.conn(ctx)
	r, err := s.loadRow(ctx, db, id, false)
	if err != nil {
		return Article{}, err
	}
	a, err := s.visible(ctx, db, actor, r, view)
	if err != nil {
		return Article{}, err
	}
	if seesDrafts(actor) {
		if a.Flags, err = s.openFlags(ctx, db, id); err != nil {
			return Article{}, err
		}
	}
	return a, nil
}

// Revisions lists an article's revisions, newest first, without bodies
// (articles:read_drafts).
func (s *Service) Revisions(ctx context.Context, actor accounts.User, id int64) ([]Revision, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return nil, err
	}
	db := s.conn(ctx)
	r, err := s.loadRow(ctx, db, id, false)
	if err != nil {
		return nil, err
	}
	var rows []revisionRow
	if err := db.Select("id, article_id, number, title, summary, category, tags, language, audience, author_id, note, created_at").
		Where("article_id = ?", id).Order("number DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Revision, len(rows))
	for i, rv := range rows {
		out[i] = toRevision(rv, &r, false)
	}
	return out, nil
}

// GetRevision returns revision number of article id with its body
// (articles:read_drafts).
func (s *Service) GetRevision(ctx context.Context, actor accounts.User, id int64, number int) (Revision, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return Revision{}, err
	}
	db := s.conn(ctx)
	r, err := s.loadRow(ctx, db, id, false)
	if err != nil {
		return Revision{}, err
	}
	rv, err := s.revisionByNumber(ctx, db, id, number)
	if err != nil {
		return Revision{}, err
	}
	return toRevision(rv, &r, true), nil
}

func (s *Service) revisionByNumber(ctx context.Context, db *gorm.DB, id int64, number int) (revisionRow, error) {
	var rv revisionRow
	if err := db.WithContext(ctx).Where("article_id = ? AND number = ?", id, number).Take(&rv).Error; err != nil {
		return rv, notFound(err)
	}
	return rv, nil
}

// Compare diffs revision from against revision to of article id
// (articles:read_drafts). 0 for to means the current revision, 0 for from
// the one before to. Unknown numbers are validation errors on from/to.
func (s *Service) Compare(ctx context.Context, actor accounts.User, id int64, from, to int) (Diff, error) {
	if err := need(actor, accounts.PermArticlesReadDrafts); err != nil {
		return Diff{}, err
	}
	db := s.conn(ctx)
	r, err := s.loadRow(ctx, db, id, false)
	if err != nil {
		return Diff{}, err
	}
	if to == 0 {
		to = r.RevisionNumber
	}
	if from == 0 {
		from = max(1, to-1)
	}
	v := &accounts.ValidationError{}
	if from < 1 || from > r.RevisionNumber {
		v.Add("from", fmt.Sprintf("article %d has revisions 1 to %d", id, r.RevisionNumber))
	}
	if to < 1 || to > r.RevisionNumber {
		v.Add("to", fmt.Sprintf("article %d has revisions 1 to %d", id, r.RevisionNumber))
	}
	if err := v.Err(); err != nil {
		return Diff{}, err
	}
	a, err := s.revisionByNumber(ctx, db, id, from)
	if err != nil {
		return Diff{}, err
	}
	b, err := s.revisionByNumber(ctx, db, id, to)
	if err != nil {
		return Diff{}, err
	}
	d := diffRevisions(a, b)
	d.From = toRevision(a, &r, false)
	d.To = toRevision(b, &r, false)
	return d, nil
}
