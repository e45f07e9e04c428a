package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/search"
)

// Field weights in the index: a word in the title counts three times, in
// the summary or tags twice, in the body once.
const (
	weightTitle   = 3
	weightSummary = 2
	weightTags    = 2
	weightBody    = 1
)

// maxSearchResults bounds how deep a ranked search pages.
const maxSearchResults = 1000

func contentFields(c content) []search.Field {
	return []search.Field{
		{Text: c.Title, Weight: weightTitle},
		{Text: c.Summary, Weight: weightSummary},
		{Text: strings.Join(c.Tags, " "), Weight: weightTags},
		{Text: PlainText(c.Body), Weight: weightBody},
	}
}

// indexFields is the staff document: the working copy, plus the published
// revision while it differs, so a published article under review is still
// found by its live text.
func indexFields(working content, published *content) []search.Field {
	fs := contentFields(working)
	if published != nil && !published.equal(working) {
		fs = append(fs, contentFields(*published)...)
	}
	return fs
}

// reindex rewrites the staff document of r (working copy + published text).
func (s *Service) reindex(ctx context.Context, tx *gorm.DB, r articleRow) error {
	var pub *content
	if r.PublishedRevisionID != nil && (r.CurrentRevisionID == nil || *r.PublishedRevisionID != *r.CurrentRevisionID) {
		rev, err := s.revision(ctx, tx, *r.PublishedRevisionID)
		if err != nil {
			return err
		}
		c := revContent(rev)
		pub = &c
	}
	return s.index.Put(ctx, tx, DocType, r.ID, indexFields(rowContent(r), pub)...)
}

// ---- list and search ----

// listCursor is the position after a page: the last id of a plain list,
// or the offset into a ranked search bound to its query and filters.
type listCursor struct {
	After  int64  `json:"a,omitempty"`
	Offset int    `json:"o,omitempty"`
	Query  string `json:"q,omitempty"` // hash of query and filters
}

func (c listCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListCursor(s string) (listCursor, bool) {
	var c listCursor
	if len(s) > 200 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.After < 0 || c.Offset < 0 || (c.After == 0 && c.Offset == 0) {
		return c, false
	}
	return c, true
}

func (f Filter) hash(readers bool) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%q|%q|%q|%v", f.Q, f.Status, f.Category, f.Language, f.Audience, readers)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// List returns the articles actor may see matching f, newest first, or
// ranked by relevance (BM25, title weighted highest) with snippets when f.Q
// is set. Staff (articles:read_drafts) list working copies, filtered on
// them; anyone else lists published revisions (requesters: public ones),
// filtered on those. A query without searchable words gives an empty page,
// never an error. Bad filters or cursors are a *accounts.ValidationError.
func (s *Service) List(ctx context.Context, actor accounts.User, f Filter, cursor string, limit int) (Page, error) {
	if err := need(actor, accounts.PermArticlesRead); err != nil {
		return Page{}, err
	}
	switch {
	case limit <= 0:
		limit = 50
	case limit > 200:
		limit = 200
	}
	v := &accounts.ValidationError{}
	for i, st := range f.Status {
		if st == "" || len(st) > 40 {
			v.Add(fmt.Sprintf("status[%d]", i), "must be a workflow state name")
		}
	}
	if len(f.Category) > 4*MaxCategory {
		v.Add("category", fmt.Sprintf("must be at most %d characters", MaxCategory))
	}
	if f.Language != "" {
		checkOneOf(v, "language", f.Language, Languages)
	}
	if f.Audience != "" {
		checkOneOf(v, "audience", f.Audience, Audiences)
	}
	staff := seesDrafts(actor)
	q := strings.TrimSpace(f.Q)
	var cur listCursor
	if cursor != "" {
		c, ok := decodeListCursor(cursor)
		if !ok || (q == "") != (c.Offset == 0) || (q != "" && c.Query != f.hash(!staff)) {
			v.Add("cursor", "is not a cursor of this list; start again without it")
		}
		cur = c
	}
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	if !staff {
		// Readers see published revisions: other states match nothing,
		// and requesters never see internal articles.
		if len(f.Status) > 0 && !slices.Contains(f.Status, "published") {
			return Page{Items: []Hit{}}, nil
		}
		if f.Audience == AudienceInternal && !seesInternal(actor) {
			return Page{Items: []Hit{}}, nil
		}
	}
	db := s.conn(ctx)
	if q != "" {
		return s.search(ctx, db, actor, f, q, cur.Offset, limit)
	}
	lq := s.filterQuery(db, actor, f)
	if cur.After > 0 {
		lq = lq.Where("a.id < ?", cur.After)
	}
	var list []int64
	if err := lq.Order("a.id DESC").Limit(limit+1).Pluck("a.id", &list).Error; err != nil {
		return Page{}, err
	}
	page := Page{}
	if len(list) > limit {
		list = list[:limit]
		page.NextCursor = listCursor{After: list[limit-1]}.encode()
	}
	var err error
	page.Items, err = s.hits(ctx, db, actor, list, nil, "")
	return page, err
}

// filterQuery selects a.id of the articles actor may list under f:
// staff filter working copies; readers join the published revision r.
func (s *Service) filterQuery(db *gorm.DB, actor accounts.User, f Filter) *gorm.DB {
	q := db.Session(&gorm.Session{NewDB: true}).Table("articles AS a")
	col := "a."
	if !seesDrafts(actor) {
		q = q.Joins("JOIN article_revisions r ON r.id = a.published_revision_id")
		col = "r."
		if !seesInternal(actor) {
			q = q.Where("r.audience = ?", AudiencePublic)
		}
	} else if len(f.Status) > 0 {
		q = q.Where("a.status IN ?", f.Status)
	}
	if f.Category != "" {
		q = q.Where(col+"category = ?", f.Category)
	}
	if f.Language != "" {
		q = q.Where(col+"language = ?", f.Language)
	}
	if f.Audience != "" {
		q = q.Where(col+"audience = ?", f.Audience)
	}
	return q
}

// search ranks with the shared index: staff over the working documents,
// readers over the published ones, both restricted by the filter query.
func (s *Service) search(ctx context.Context, db *gorm.DB, actor accounts.User, f Filter, q string, offset, limit int) (Page, error) {
	page := Page{Items: []Hit{}}
	want := offset + limit + 1
	if offset >= maxSearchResults {
		return page, nil
	}
	docType := DocType
	if !seesDrafts(actor) {
		docType = DocTypePublished
	}
	var filter *gorm.DB
	if !seesDrafts(actor) || len(f.Status) > 0 || f.Category != "" || f.Language != "" || f.Audience != "" {
		filter = s.filterQuery(db, actor, f).Select("a.id")
	}
	hits, err := s.index.Search(ctx, docType, q, min(want, maxSearchResults), filter)
	if err != nil {
		return Page{}, err
	}
	if offset >= len(hits) {
		return page, nil
	}
	hits = hits[offset:]
	if len(hits) > limit {
		hits = hits[:limit]
		if offset+limit < maxSearchResults {
			page.NextCursor = listCursor{Offset: offset + limit, Query: f.hash(!seesDrafts(actor))}.encode()
		}
	}
	ids := make([]int64, len(hits))
	scores := make(map[int64]float64, len(hits))
	for i, h := range hits {
		ids[i] = h.DocID
		scores[h.DocID] = h.Score
	}
	page.Items, err = s.hits(ctx, db, actor, ids, scores, q)
	return page, err
}

// hits loads the articles ids (in that order) as actor sees them; with a
// query, each gets its score and a snippet.
func (s *Service) hits(ctx context.Context, db *gorm.DB, actor accounts.User, ids []int64, scores map[int64]float64, q string) ([]Hit, error) {
	out := make([]Hit, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// Bodies only when snippets need them: a page of lists carries none.
	cols := "id, title, summary, category, tags, language, audience, owner_id, status, status_category, workflow_version," +
		" state_entered_at, current_revision_id, revision_number, published_revision_id, published_at, version, reuse_count," +
		" helpful_count, not_helpful_count, flagged_outdated_at, flagged_outdated_by, flagged_outdated_reason, created_at, updated_at"
	if q != "" {
		cols += ", body"
	}
	var rows []articleRow
	if err := db.WithContext(ctx).Select(cols).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	byID := make(map[int64]articleRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	staff := seesDrafts(actor)
	revs, err := s.revisionsOf(ctx, db, rows, staff, q != "")
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			continue
		}
		var h Hit
		var pub *revisionRow
		if r.PublishedRevisionID != nil {
			if p, ok := revs[*r.PublishedRevisionID]; ok {
				pub = &p
			}
		}
		if staff {
			h.Article = r.working(revs[deref(r.CurrentRevisionID)].AuthorID)
			if pub != nil {
				n := pub.Number
				h.PublishedRevision = &n
			}
		} else {
			if pub == nil || (pub.Audience != AudiencePublic && !seesInternal(actor)) {
				continue // changed since the list query
			}
			h.Article = r.published(*pub)
		}
		if q != "" {
			h.Score = scores[id]
			texts := []string{h.Body, h.Summary, h.Title}
			if staff && pub != nil {
				texts = append(texts, pub.Body, pub.Summary, pub.Title)
			}
			h.Snippet = snippetOf(texts, q)
		}
		h.Body = "" // lists carry no bodies
		out = append(out, h)
	}
	return out, nil
}

// revisionsOf loads, by id, what hits shows of the revisions of rows.
// Readers see the published revision whole. Staff see the working copy,
// which the articles row holds, and need only the current revision's
// author and the published revision's number: those come from the narrow
// article_revisions_filter index (migration 0014), without the bodies of
// the clustered rows. The published text is read for a staff snippet only
// where it differs from the working copy.
func (s *Service) revisionsOf(ctx context.Context, db *gorm.DB, rows []articleRow, staff, withBody bool) (map[int64]revisionRow, error) {
	var meta, whole []int64
	for _, r := range rows {
		cur, pub := r.CurrentRevisionID, r.PublishedRevisionID
		if staff && cur != nil {
			meta = append(meta, *cur)
		}
		if pub == nil {
			continue
		}
		if !staff || (withBody && (cur == nil || *pub != *cur)) {
			whole = append(whole, *pub)
		} else {
			meta = append(meta, *pub)
		}
	}
	revs := map[int64]revisionRow{}
	read := func(q *gorm.DB, cols string, ids []int64) error {
		if len(ids) == 0 {
			return nil
		}
		var rr []revisionRow
		if err := q.Select(cols).Where("id IN ?", ids).Find(&rr).Error; err != nil {
			return err
		}
		for _, r := range rr {
			revs[r.ID] = r
		}
		return nil
	}
	narrow := db.WithContext(ctx).Model(&revisionRow{})
	if s.db.Dialect == database.MySQL {
		narrow = db.WithContext(ctx).Table("article_revisions FORCE INDEX (article_revisions_filter)")
	}
	if err := read(narrow, "id, author_id, number", meta); err != nil {
		return nil, err
	}
	cols := "id, article_id, number, title, summary, category, tags, language, audience, author_id, note, created_at"
	if withBody {
		cols += ", body"
	}
	return revs, read(db.WithContext(ctx), cols, whole)
}

// snippetOf is the snippet of the first text (Markdown) that matches q,
// else the start of the first non-empty one.
func snippetOf(texts []string, q string) string {
	first := ""
	for _, t := range texts {
		p := PlainText(t)
		if p == "" {
			continue
		}
		sn := search.Snippet(p, q, 160)
		if strings.Contains(sn, "«") {
			return sn
		}
		if first == "" {
			first = sn
		}
	}
	return first
}
