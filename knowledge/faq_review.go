package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge/faq/cluster"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// The editors' review of FAQ proposals (faq:review). Every change takes
// the FAQ lock (see faq.go) and, like articles, checks the proposal's
// version when one is given: a stale one is accounts.ErrVersionConflict.
// Only open proposals change; anything else is a *StateError (409).
//
// Approve creates the article as the editor, from the draft, in review,
// or published at once with ApproveOptions.Publish: the editor who
// approves the proposal is the reviewer of its text, so for this path the
// rule that nobody approves their own revision is lifted (the workflow's
// role guards still apply, and publishing needs articles:approve). Every
// member ticket is linked created_from to the new article in the same
// transaction.
//
// Attach links every member ticket "referenced" to an existing article
// instead: the editor says the article already answers them. referenced,
// not solved_by, because the tickets were solved without it; it still
// counts as a reuse (the article's reuse_count and the KCS report's reuse
// rate move), which is the signal that the article is in demand.
//
// Merge moves the members of one open proposal into another and redrafts
// that one (unless an editor edited it); the merged proposal keeps its
// members for the record and points at the other (MergedInto).

// ---- read ----

// List returns proposals with the statuses in f (default open), largest
// impact first: members, then requesters, then the most recently seen.
func (f *FAQ) List(ctx context.Context, actor accounts.User, flt ProposalFilter, cursor string, limit int) (ProposalPage, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return ProposalPage{}, err
	}
	switch {
	case limit <= 0:
		limit = 50
	case limit > 200:
		limit = 200
	}
	v := &accounts.ValidationError{}
	statuses := slices.Clone(flt.Status)
	if len(statuses) == 0 {
		statuses = []string{ProposalOpen}
	}
	for _, st := range statuses {
		checkOneOf(v, "status", st, ProposalStatuses)
	}
	slices.Sort(statuses)
	statuses = slices.Compact(statuses)
	h := sha256.Sum256([]byte(strings.Join(statuses, ",")))
	key := hex.EncodeToString(h[:6])
	offset := 0
	if cursor != "" {
		c, ok := decodeProposalCursor(cursor)
		if !ok || c.Key != key {
			v.Add("cursor", "is not a cursor of this list; start again without it")
		}
		offset = c.Offset
	}
	if err := v.Err(); err != nil {
		return ProposalPage{}, err
	}
	var rows []proposalRow
	if err := f.s.conn(ctx).Where("status IN ?", statuses).
		Order("member_count DESC, requester_count DESC, last_seen DESC, id DESC").
		Offset(offset).Limit(limit + 1).Find(&rows).Error; err != nil {
		return ProposalPage{}, err
	}
	out := ProposalPage{Items: make([]Proposal, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			out.NextCursor = proposalCursor{Offset: offset + limit, Key: key}.encode()
			break
		}
		out.Items = append(out.Items, r.proposal())
	}
	return out, nil
}

type proposalCursor struct {
	Offset int    `json:"o"`
	Key    string `json:"k"`
}

func (c proposalCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeProposalCursor(s string) (proposalCursor, bool) {
	var c proposalCursor
	if len(s) > 200 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Offset <= 0 || c.Offset > 1_000_000 {
		return c, false
	}
	return c, true
}

// Get returns proposal id with its members, most similar first.
func (f *FAQ) Get(ctx context.Context, actor accounts.User, id int64) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	return f.get(ctx, f.s.conn(ctx), id)
}

func (f *FAQ) get(ctx context.Context, db *gorm.DB, id int64) (Proposal, error) {
	var r proposalRow
	if err := db.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Proposal{}, notFound(err)
	}
	p := r.proposal()
	var ms []struct {
		TicketID    int64
		Similarity  float64
		AddedAt     time.Time
		Subject     string
		RequesterID int64
		Status      string
		CreatedAt   time.Time
		ResolvedAt  *time.Time
	}
	if err := db.WithContext(ctx).Raw(`SELECT m.ticket_id, m.similarity, m.added_at, t.subject, t.requester_id, t.status, t.created_at, t.resolved_at
FROM faq_proposal_members m JOIN tickets t ON t.id = m.ticket_id WHERE m.proposal_id = ? ORDER BY m.similarity DESC, m.ticket_id`, id).
		Scan(&ms).Error; err != nil {
		return Proposal{}, err
	}
	p.Members = make([]ProposalMember, 0, len(ms))
	for _, m := range ms {
		p.Members = append(p.Members, ProposalMember{TicketID: m.TicketID, Subject: MaskPII(m.Subject), Similarity: m.Similarity,
			RequesterID: m.RequesterID, Status: m.Status, CreatedAt: m.CreatedAt.UTC(), ResolvedAt: utcPtr(m.ResolvedAt), AddedAt: m.AddedAt.UTC()})
	}
	return p, nil
}

// ---- change ----

// loadOpen reads proposal id in tx (under the FAQ lock) and checks that it
// is open and at version (0: any).
func (f *FAQ) loadOpen(ctx context.Context, tx *gorm.DB, id int64, version int) (proposalRow, error) {
	var r proposalRow
	if err := tx.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return r, notFound(err)
	}
	if version != 0 && r.Version != version {
		return r, accounts.ErrVersionConflict
	}
	if r.Status != ProposalOpen {
		return r, &StateError{Message: fmt.Sprintf("FAQ proposal %d is %s; only open proposals change", id, r.Status)}
	}
	return r, nil
}

// decide writes set on proposal r (still at its version) with the decision
// stamp and a new version.
func (f *FAQ) decide(ctx context.Context, tx *gorm.DB, actor accounts.User, r proposalRow, set map[string]any) error {
	now := f.s.clock()
	set["decided_by"], set["decided_at"], set["updated_at"], set["version"] = actor.ID, now, now, gorm.Expr("version + 1")
	res := tx.WithContext(ctx).Model(&proposalRow{}).Where("id = ? AND version = ?", r.ID, r.Version).UpdateColumns(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return accounts.ErrVersionConflict
	}
	return nil
}

// Update edits an open proposal's draft. From then on the miner keeps the
// text (it still adds tickets and updates the impact).
func (f *FAQ) Update(ctx context.Context, actor accounts.User, id int64, version int, p ProposalPatch) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	v := &accounts.ValidationError{}
	if p.Question != nil {
		checkText(v, "question", strings.TrimSpace(*p.Question), true, MaxTitle)
	}
	if p.Answer != nil {
		checkText(v, "answer", *p.Answer, false, MaxBody)
	}
	if p.Category != nil {
		checkText(v, "category", strings.TrimSpace(*p.Category), false, MaxCategory)
	}
	var tags []string
	if p.Tags != nil {
		tags = normalizeTags(v, *p.Tags)
	}
	if p.Language != nil {
		checkOneOf(v, "language", *p.Language, Languages)
	}
	if err := v.Err(); err != nil {
		return Proposal{}, err
	}
	var out Proposal
	err := f.locked(ctx, func(tx *gorm.DB) error {
		r, err := f.loadOpen(ctx, tx, id, version)
		if err != nil {
			return err
		}
		set := map[string]any{}
		if p.Question != nil && strings.TrimSpace(*p.Question) != r.Question {
			set["question"] = strings.TrimSpace(*p.Question)
		}
		if p.Answer != nil && *p.Answer != r.Answer {
			set["answer"] = *p.Answer
		}
		if p.Category != nil && strings.TrimSpace(*p.Category) != r.Category {
			set["category"] = strings.TrimSpace(*p.Category)
		}
		if p.Tags != nil && encodeTags(tags) != r.Tags {
			set["tags"] = encodeTags(tags)
		}
		if p.Language != nil && *p.Language != r.Language {
			set["language"] = *p.Language
		}
		if len(set) > 0 {
			now := f.s.clock()
			set["edited_by"], set["edited_at"], set["updated_at"], set["version"] = actor.ID, now, now, gorm.Expr("version + 1")
			res := tx.Model(&proposalRow{}).Where("id = ? AND version = ?", id, r.Version).UpdateColumns(set)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return accounts.ErrVersionConflict
			}
		}
		out, err = f.get(ctx, tx, id)
		return err
	})
	return out, err
}

// Approve writes the article of an open proposal as actor and links every
// member ticket created_from to it (see the comment at the top of the
// file). It returns the proposal, now approved, with ArticleID.
func (f *FAQ) Approve(ctx context.Context, actor accounts.User, id int64, version int, opts ApproveOptions) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	if err := need(actor, accounts.PermArticlesWrite); err != nil {
		return Proposal{}, err
	}
	if opts.Publish {
		if err := need(actor, accounts.PermArticlesApprove); err != nil {
			return Proposal{}, err
		}
	}
	audience := opts.Audience
	if audience == "" {
		audience = AudienceInternal
	}
	v := &accounts.ValidationError{}
	checkOneOf(v, "audience", audience, Audiences)
	if err := v.Err(); err != nil {
		return Proposal{}, err
	}
	var out Proposal
	err := f.locked(ctx, func(tx *gorm.DB) error {
		r, err := f.loadOpen(ctx, tx, id, version)
		if err != nil {
			return err
		}
		ve := &accounts.ValidationError{}
		c := content{Title: strings.TrimSpace(r.Question), Body: r.Answer, Category: r.Category, Tags: normalizeTags(ve, decodeTags(r.Tags)),
			Language: r.Language, Audience: audience}
		if !slices.Contains(Languages, c.Language) {
			c.Language = guessLanguage(c.Title, c.Body)
		}
		checkText(ve, "question", c.Title, true, MaxTitle)
		if strings.TrimSpace(c.Body) == "" {
			ve.Add("answer", "is empty: write the answer (PATCH the proposal) before approving")
		} else {
			checkText(ve, "answer", c.Body, true, MaxBody)
		}
		checkText(ve, "category", c.Category, false, MaxCategory)
		if err := ve.Err(); err != nil {
			return err
		}
		note := fmt.Sprintf("drafted from FAQ proposal %d (%d tickets)", id, r.MemberCount)
		a, err := f.s.createTx(ctx, tx, actor, c, note, nil)
		if err != nil {
			return err
		}
		if a, err = f.advance(ctx, tx, actor, a, workflow.CategoryPending, false); err != nil {
			return err
		}
		if opts.Publish {
			if _, err = f.advance(ctx, tx, actor, a, workflow.CategoryResolved, true); err != nil {
				return err
			}
		}
		if err := f.linkMembers(ctx, tx, actor, id, a.ID, tickets.LinkCreatedFrom); err != nil {
			return err
		}
		if err := f.decide(ctx, tx, actor, r, map[string]any{"status": ProposalApproved, "article_id": a.ID}); err != nil {
			return err
		}
		out, err = f.get(ctx, tx, id)
		return err
	})
	return out, err
}

// advance fires the article workflow event that leads from a's state to a
// state of category cat (submit to review, approve to publish), as actor.
func (f *FAQ) advance(ctx context.Context, tx *gorm.DB, actor accounts.User, a Article, cat workflow.Category, selfReview bool) (Article, error) {
	def, err := f.s.definition(ctx, a.WorkflowVersion)
	if err != nil {
		return a, err
	}
	for _, ev := range def.Events {
		if !slices.Contains(ev.From, a.Status) {
			continue
		}
		if st, ok := def.State(ev.To); ok && st.Category == cat && len(ev.Guards.RequireFields) == 0 {
			return f.s.fireTx(ctx, tx, actor, a.ID, 0, Transition{Event: ev.Name}, map[string]string{}, selfReview)
		}
	}
	return a, &StateError{Message: fmt.Sprintf("the article workflow (version %d) has no event from %s to a %s state; approve the proposal without publishing, or fix the workflow",
		a.WorkflowVersion, a.Status, cat)}
}

// linkMembers links every member ticket of proposal id to article as kind,
// as actor. A ticket gone or hidden from actor is skipped.
func (f *FAQ) linkMembers(ctx context.Context, tx *gorm.DB, actor accounts.User, id, article int64, kind string) error {
	var ids []int64
	if err := tx.WithContext(ctx).Model(&proposalMemberRow{}).Where("proposal_id = ?", id).Order("ticket_id").Pluck("ticket_id", &ids).Error; err != nil {
		return err
	}
	for _, t := range ids {
		if _, _, err := f.s.tickets.LinkArticleTx(ctx, tx, actor, t, article, kind); err != nil {
			if errors.Is(err, accounts.ErrNotFound) {
				continue
			}
			var ve *accounts.ValidationError
			if errors.As(err, &ve) {
				// The article: gone or archived (attach checks first).
				out := &accounts.ValidationError{}
				for _, fe := range ve.Fields {
					out.Add("article_id", fe.Message)
				}
				return out
			}
			return fmt.Errorf("knowledge: link ticket %d to article %d: %w", t, article, err)
		}
	}
	return nil
}

// Reject closes an open proposal with a reason. The same group is not
// proposed again until it grows by FAQConfig.RegrowFactor.
func (f *FAQ) Reject(ctx context.Context, actor accounts.User, id int64, version int, reason string) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	reason = strings.TrimSpace(reason)
	v := &accounts.ValidationError{}
	checkText(v, "reason", reason, true, MaxReason)
	if err := v.Err(); err != nil {
		return Proposal{}, err
	}
	var out Proposal
	err := f.locked(ctx, func(tx *gorm.DB) error {
		r, err := f.loadOpen(ctx, tx, id, version)
		if err != nil {
			return err
		}
		if err := f.decide(ctx, tx, actor, r, map[string]any{"status": ProposalRejected, "rejected_reason": reason,
			"rejected_size": r.MemberCount}); err != nil {
			return err
		}
		out, err = f.get(ctx, tx, id)
		return err
	})
	return out, err
}

// Attach links every member of an open proposal "referenced" to an
// existing article (not archived) and closes the proposal as attached.
func (f *FAQ) Attach(ctx context.Context, actor accounts.User, id int64, version int, articleID int64) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	v := &accounts.ValidationError{}
	if articleID <= 0 {
		v.Add("article_id", "must be a positive article id")
	}
	if err := v.Err(); err != nil {
		return Proposal{}, err
	}
	var out Proposal
	err := f.locked(ctx, func(tx *gorm.DB) error {
		r, err := f.loadOpen(ctx, tx, id, version)
		if err != nil {
			return err
		}
		a, err := f.s.loadRow(ctx, tx, articleID, false)
		if errors.Is(err, accounts.ErrNotFound) {
			ve := &accounts.ValidationError{}
			ve.Add("article_id", fmt.Sprintf("there is no article %d", articleID))
			return ve
		}
		if err != nil {
			return err
		}
		if workflow.Category(a.StatusCategory) == workflow.CategoryClosed {
			ve := &accounts.ValidationError{}
			ve.Add("article_id", fmt.Sprintf("article %d is archived; restore it or attach another article", articleID))
			return ve
		}
		if err := f.linkMembers(ctx, tx, actor, id, articleID, tickets.LinkReferenced); err != nil {
			return err
		}
		if err := f.decide(ctx, tx, actor, r, map[string]any{"status": ProposalAttached, "article_id": articleID}); err != nil {
			return err
		}
		out, err = f.get(ctx, tx, id)
		return err
	})
	return out, err
}

// Merge moves the members of open proposal id into open proposal into and
// returns into, redrafted unless an editor edited it. version guards id.
func (f *FAQ) Merge(ctx context.Context, actor accounts.User, id int64, version int, into int64) (Proposal, error) {
	if err := need(actor, accounts.PermFAQReview); err != nil {
		return Proposal{}, err
	}
	v := &accounts.ValidationError{}
	switch {
	case into <= 0:
		v.Add("into", "must be a positive proposal id")
	case into == id:
		v.Add("into", "must be another proposal than the one merged")
	}
	if err := v.Err(); err != nil {
		return Proposal{}, err
	}
	var out Proposal
	err := f.locked(ctx, func(tx *gorm.DB) error {
		src, err := f.loadOpen(ctx, tx, id, version)
		if err != nil {
			return err
		}
		dst, err := f.loadOpen(ctx, tx, into, 0)
		if err != nil {
			ve := &accounts.ValidationError{}
			var se *StateError
			switch {
			case errors.Is(err, accounts.ErrNotFound):
				ve.Add("into", fmt.Sprintf("there is no FAQ proposal %d", into))
			case errors.As(err, &se):
				ve.Add("into", fmt.Sprintf("FAQ proposal %d is %s; merge into an open one", into, dst.Status))
			default:
				return err
			}
			return ve
		}
		var ms []proposalMemberRow
		if err := tx.Where("proposal_id IN ?", []int64{id, into}).Order("ticket_id").Find(&ms).Error; err != nil {
			return err
		}
		sims := map[int64]float64{}
		var add []proposalMemberRow
		for _, m := range ms {
			if m.ProposalID == into {
				sims[m.TicketID] = m.Similarity
			}
		}
		now := f.s.clock()
		for _, m := range ms {
			if _, in := sims[m.TicketID]; m.ProposalID == id && !in {
				add = append(add, proposalMemberRow{ProposalID: into, TicketID: m.TicketID, Similarity: m.Similarity, AddedAt: now})
			}
		}
		for _, m := range add {
			if err := tx.Create(&m).Error; err != nil {
				return err
			}
			sims[m.TicketID] = m.Similarity
		}
		d, err := f.redraft(ctx, sims, dst.EditedAt == nil)
		if err != nil {
			return err
		}
		set := impactColumns(d)
		if dst.EditedAt == nil {
			mergeInto(set, textColumns(d))
		}
		set["version"], set["updated_at"] = gorm.Expr("version + 1"), now
		res := tx.Model(&proposalRow{}).Where("id = ? AND version = ?", into, dst.Version).UpdateColumns(set)
		if res.Error != nil {
			return res.Error
		}
		if err := f.decide(ctx, tx, actor, src, map[string]any{"status": ProposalMerged, "merged_into": into}); err != nil {
			return err
		}
		out, err = f.get(ctx, tx, into)
		return err
	})
	return out, err
}

// redraft drafts a proposal from its members (ticket -> similarity),
// extractively: it runs under the FAQ lock, so no Drafter call.
func (f *FAQ) redraft(ctx context.Context, sims map[int64]float64, withText bool) (mineDraft, error) {
	snap := &mineSnapshot{tickets: map[int64]*mineTicket{}, props: map[int64]*propInfo{}, memberOf: map[int64][]int64{}, solvedBy: map[int64][]int64{}}
	members := make([]cluster.Member, 0, len(sims))
	for id, s := range sims {
		snap.window = append(snap.window, id)
		members = append(members, cluster.Member{ID: id, Similarity: s})
	}
	if err := f.loadTickets(ctx, snap, slices.Clone(snap.window)); err != nil {
		return mineDraft{}, err
	}
	kept := members[:0]
	for _, m := range members {
		if snap.tickets[m.ID] != nil {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return mineDraft{}, fmt.Errorf("knowledge: FAQ proposal has no tickets left")
	}
	if err := f.loadExtras(ctx, snap, slices.Clone(snap.window)); err != nil {
		return mineDraft{}, err
	}
	corp := newCorpus()
	for _, m := range kept {
		corp.add(groupText(snap.tickets[m.ID]))
	}
	sortByCentrality(kept)
	g := *f
	g.cfg.Drafter = nil
	d, _ := g.draft(ctx, snap, corp, kept, withText)
	return d, nil
}
