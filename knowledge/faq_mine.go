package knowledge

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/knowledge/faq/cluster"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// The miner: see faq.go for what it decides and how it stays free of
// duplicates.

// maxMineAttempts bounds how often a run starts over because proposals
// changed while it was computing.
const maxMineAttempts = 5

// errStale: the FAQ generation moved between reading and applying.
var errStale = errors.New("knowledge: FAQ proposals changed while mining")

// Mine runs the miner now and returns what it did.
func (f *FAQ) Mine(ctx context.Context) (MineResult, error) { return f.mine(ctx, true) }

// MineIfChanged runs the miner unless nothing it reads (the window's
// tickets, knowledge links, published articles, proposals) changed since
// the last run; then it returns a result with Skipped. The scheduled task
// calls it.
func (f *FAQ) MineIfChanged(ctx context.Context) (MineResult, error) { return f.mine(ctx, false) }

func (f *FAQ) mine(ctx context.Context, force bool) (MineResult, error) {
	start := time.Now()
	for attempt := 0; attempt < maxMineAttempts; attempt++ {
		snap, err := f.snapshot(ctx)
		if err != nil {
			return MineResult{}, err
		}
		if !force && snap.fingerprint(snap.generation) == snap.storedFingerprint {
			return MineResult{Skipped: true, Duration: time.Since(start)}, nil
		}
		if err := f.load(ctx, snap); err != nil {
			return MineResult{}, err
		}
		p, err := f.plan(ctx, snap)
		if err != nil {
			return MineResult{}, err
		}
		p.res.Duration = time.Since(start)
		err = f.apply(ctx, snap, p)
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return MineResult{}, err
		}
		p.res.Duration = time.Since(start)
		return p.res, nil
	}
	return MineResult{}, fmt.Errorf("%w %d times in a row; run it again", errStale, maxMineAttempts)
}

// ---- reading ----

type mineTicket struct {
	ID          int64
	Subject     string
	Description string
	Category    string
	RequesterID int64
	CreatedAt   time.Time
	ResolvedAt  *time.Time
	Resolution  string   // the resolve step's note
	Reply       string   // the last public reply by staff (drafted groups only)
	Tags        []string // drafted groups only
}

type propInfo struct {
	row         proposalRow
	members     map[int64]float64 // ticket -> similarity (decided proposals: members in the window only)
	articleLive bool              // approved/attached: the article exists and is not archived
}

type mineSnapshot struct {
	generation        int64
	storedFingerprint string
	cutoff            time.Time
	window            []int64 // tickets resolved in the window, most recent first (at most MaxTickets)
	windowSum         string  // fingerprint part of the window
	articlesSum       string  // fingerprint part of published articles and links
	cfgSum            string

	tickets  map[int64]*mineTicket
	props    map[int64]*propInfo
	memberOf map[int64][]int64 // ticket -> proposals it is in
	solvedBy map[int64][]int64 // ticket -> published articles linked solved_by
}

func (s *mineSnapshot) fingerprint(gen int64) string {
	return s.cfgSum + "|" + s.windowSum + "|" + s.articlesSum + "|g" + strconv.FormatInt(gen, 10)
}

// snapshot reads what decides whether anything changed: the generation,
// the window's ticket ids and resolve times, and counts of published
// articles and knowledge links.
func (f *FAQ) snapshot(ctx context.Context) (*mineSnapshot, error) {
	db := f.s.conn(ctx)
	var st minerStateRow
	if err := db.Where("id = 1").Take(&st).Error; err != nil {
		return nil, fmt.Errorf("knowledge: FAQ miner state (migration 0008): %w", err)
	}
	now := f.s.clock()
	snap := &mineSnapshot{generation: st.Generation, storedFingerprint: st.Fingerprint, cutoff: now.Add(-f.cfg.Window)}
	var win []struct {
		ID         int64
		ResolvedAt time.Time
	}
	if err := db.Raw(`SELECT id, resolved_at FROM tickets WHERE resolved_at >= ? ORDER BY resolved_at DESC, id DESC LIMIT ?`,
		snap.cutoff, f.cfg.MaxTickets).Scan(&win).Error; err != nil {
		return nil, fmt.Errorf("knowledge: FAQ miner: tickets: %w", err)
	}
	var idSum, atSum int64
	for _, w := range win {
		snap.window = append(snap.window, w.ID)
		idSum += w.ID
		atSum += w.ResolvedAt.UnixMilli() % 1_000_000_007
	}
	snap.windowSum = fmt.Sprintf("t%d:%d:%d", len(win), idSum, atSum)
	var arts, links struct {
		N int64
		S int64
	}
	if err := db.Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(version), 0) AS s FROM articles WHERE published_revision_id IS NOT NULL`).Scan(&arts).Error; err != nil {
		return nil, fmt.Errorf("knowledge: FAQ miner: articles: %w", err)
	}
	if err := db.Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(ticket_id * 7 + article_id), 0) AS s FROM ticket_article_links`).Scan(&links).Error; err != nil {
		return nil, fmt.Errorf("knowledge: FAQ miner: links: %w", err)
	}
	snap.articlesSum = fmt.Sprintf("a%d:%d:l%d:%d", arts.N, arts.S, links.N, links.S)
	c := f.cfg
	snap.cfgSum = fmt.Sprintf("w%s:m%d:c%g:r%g:x%d:k%g:d%t", c.Window, c.MinSize, c.CoverThreshold, c.RegrowFactor, c.MaxTickets,
		c.ClusterThreshold, c.Drafter != nil)
	return snap, nil
}

// chunkIDs splits ids for IN lists.
func chunkIDs(ids []int64, n int) [][]int64 {
	var out [][]int64
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

const inChunk = 500

// load reads the proposals, their members, the tickets to cluster with
// their resolution notes, and their solved_by links to published articles.
func (f *FAQ) load(ctx context.Context, snap *mineSnapshot) error {
	db := f.s.conn(ctx)
	snap.tickets, snap.props = map[int64]*mineTicket{}, map[int64]*propInfo{}
	snap.memberOf, snap.solvedBy = map[int64][]int64{}, map[int64][]int64{}

	var rows []proposalRow
	if err := db.Where("status IN ?", []string{ProposalOpen, ProposalRejected, ProposalApproved, ProposalAttached}).
		Order("id").Find(&rows).Error; err != nil {
		return fmt.Errorf("knowledge: FAQ miner: proposals: %w", err)
	}
	for _, r := range rows {
		snap.props[r.ID] = &propInfo{row: r, members: map[int64]float64{}}
	}
	// Members: all of open and rejected proposals (they join and grow
	// whatever their age); of decided ones, those still in the window.
	var mem []proposalMemberRow
	if err := db.Raw(`SELECT m.proposal_id, m.ticket_id, m.similarity, m.added_at FROM faq_proposal_members m
JOIN faq_proposals p ON p.id = m.proposal_id WHERE p.status IN ?`, []string{ProposalOpen, ProposalRejected}).Scan(&mem).Error; err != nil {
		return fmt.Errorf("knowledge: FAQ miner: members: %w", err)
	}
	for _, ch := range chunkIDs(snap.window, inChunk) {
		var more []proposalMemberRow
		if err := db.Raw(`SELECT m.proposal_id, m.ticket_id, m.similarity, m.added_at FROM faq_proposal_members m
JOIN faq_proposals p ON p.id = m.proposal_id WHERE p.status IN ? AND m.ticket_id IN ?`,
			[]string{ProposalApproved, ProposalAttached}, ch).Scan(&more).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: members: %w", err)
		}
		mem = append(mem, more...)
	}
	need := map[int64]bool{}
	for _, id := range snap.window {
		need[id] = true
	}
	for _, m := range mem {
		p := snap.props[m.ProposalID]
		if p == nil {
			continue
		}
		p.members[m.TicketID] = m.Similarity
		snap.memberOf[m.TicketID] = append(snap.memberOf[m.TicketID], m.ProposalID)
		need[m.TicketID] = true
	}
	// Live articles of decided proposals.
	var artIDs []int64
	for _, p := range snap.props {
		if p.row.ArticleID != nil && (p.row.Status == ProposalApproved || p.row.Status == ProposalAttached) {
			artIDs = append(artIDs, *p.row.ArticleID)
		}
	}
	live := map[int64]bool{}
	for _, ch := range chunkIDs(artIDs, inChunk) {
		var as []struct {
			ID             int64
			StatusCategory string
		}
		if err := db.Raw(`SELECT id, status_category FROM articles WHERE id IN ?`, ch).Scan(&as).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: articles: %w", err)
		}
		for _, a := range as {
			live[a.ID] = a.StatusCategory != string(workflow.CategoryClosed)
		}
	}
	for _, p := range snap.props {
		p.articleLive = p.row.ArticleID != nil && live[*p.row.ArticleID]
	}

	ids := make([]int64, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	return f.loadTickets(ctx, snap, ids)
}

// loadTickets reads tickets ids into snap with their resolution notes and
// their solved_by links to published articles.
func (f *FAQ) loadTickets(ctx context.Context, snap *mineSnapshot, ids []int64) error {
	db := f.s.conn(ctx)
	slices.Sort(ids)
	for _, ch := range chunkIDs(ids, inChunk) {
		var ts []struct {
			ID          int64
			Subject     string
			Description string
			Category    string
			RequesterID int64
			CreatedAt   time.Time
			ResolvedAt  *time.Time
		}
		if err := db.Raw(`SELECT id, subject, description, category, requester_id, created_at, resolved_at FROM tickets WHERE id IN ?`, ch).
			Scan(&ts).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: tickets: %w", err)
		}
		for _, t := range ts {
			snap.tickets[t.ID] = &mineTicket{ID: t.ID, Subject: t.Subject, Description: t.Description, Category: t.Category,
				RequesterID: t.RequesterID, CreatedAt: t.CreatedAt.UTC(), ResolvedAt: utcPtr(t.ResolvedAt)}
		}
		// The resolution note: the state change that set resolved_at.
		var hs []struct {
			TicketID int64
			At       time.Time
			Note     string
		}
		if err := db.Raw(`SELECT ticket_id, at, note FROM ticket_history WHERE ticket_id IN ? AND kind = ? ORDER BY id`,
			ch, tickets.KindState).Scan(&hs).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: resolution notes: %w", err)
		}
		for _, h := range hs {
			t := snap.tickets[h.TicketID]
			if t == nil || t.ResolvedAt == nil || h.At.UTC().Truncate(time.Millisecond).After(t.ResolvedAt.Truncate(time.Millisecond)) {
				continue
			}
			if h.At.UTC().Truncate(time.Millisecond).Equal(t.ResolvedAt.Truncate(time.Millisecond)) {
				t.Resolution = resolutionNote(h.Note)
			}
		}
		var ls []struct {
			TicketID  int64
			ArticleID int64
		}
		if err := db.Raw(`SELECT l.ticket_id, l.article_id FROM ticket_article_links l JOIN articles a ON a.id = l.article_id
WHERE l.kind = ? AND a.published_revision_id IS NOT NULL AND l.ticket_id IN ? ORDER BY l.ticket_id, l.article_id`,
			tickets.LinkSolvedBy, ch).Scan(&ls).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: links: %w", err)
		}
		for _, l := range ls {
			snap.solvedBy[l.TicketID] = append(snap.solvedBy[l.TicketID], l.ArticleID)
		}
	}
	return nil
}

// resolutionNote drops the "no article linked" line the tickets service
// appends to a resolve step's note.
func resolutionNote(note string) string {
	var keep []string
	for _, line := range strings.Split(note, "\n") {
		if !strings.HasPrefix(line, "no article linked: ") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// loadExtras reads tags and the last public staff reply of tickets ids.
func (f *FAQ) loadExtras(ctx context.Context, snap *mineSnapshot, ids []int64) error {
	db := f.s.conn(ctx)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, ch := range chunkIDs(ids, inChunk) {
		var tags []struct {
			TicketID int64
			Tag      string
		}
		if err := db.Raw(`SELECT ticket_id, tag FROM ticket_tags WHERE ticket_id IN ? ORDER BY ticket_id, tag`, ch).Scan(&tags).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: tags: %w", err)
		}
		for _, t := range tags {
			if tk := snap.tickets[t.TicketID]; tk != nil {
				tk.Tags = append(tk.Tags, t.Tag)
			}
		}
		var cs []struct {
			TicketID int64
			Body     string
		}
		if err := db.Raw(`SELECT c.ticket_id, c.body FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id
WHERE c.ticket_id IN ? AND c.internal = ? AND c.author_id <> t.requester_id ORDER BY c.id`, ch, false).Scan(&cs).Error; err != nil {
			return fmt.Errorf("knowledge: FAQ miner: replies: %w", err)
		}
		for _, c := range cs {
			if tk := snap.tickets[c.TicketID]; tk != nil {
				tk.Reply = strings.TrimSpace(c.Body)
			}
		}
	}
	return nil
}

// ---- planning ----

type mineDraft struct {
	Question, Answer string
	Sources          []ProposalSource
	Category         string
	Tags             []string
	Language         string
	Representative   int64
	MemberCount      int
	RequesterCount   int
	HandlingSeconds  int64
	FirstSeen        time.Time
	LastSeen         time.Time
}

type joinPlan struct {
	prop  *propInfo
	add   []cluster.Member
	draft mineDraft // text fields ignored when the proposal was edited
}

type createPlan struct {
	members  []cluster.Member
	reopened *int64
	draft    mineDraft
}

type minePlan struct {
	joins   []*joinPlan
	creates []*createPlan
	cover   []coverageRow
	res     MineResult
}

// groupTicket is a clustered ticket's text: what the requester asked and
// how it was resolved, masked.
func groupText(t *mineTicket) string {
	return MaskPII(t.Subject + "\n" + t.Description + "\n" + t.Resolution)
}

func (f *FAQ) plan(ctx context.Context, snap *mineSnapshot) (*minePlan, error) {
	p := &minePlan{}
	ids := make([]int64, 0, len(snap.tickets))
	for id := range snap.tickets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	items := make([]cluster.Item, len(ids))
	texts := make(map[int64]string, len(ids))
	corp := newCorpus()
	for i, id := range ids {
		texts[id] = groupText(snap.tickets[id])
		items[i] = cluster.Item{ID: id, Text: texts[id]}
		corp.add(texts[id])
	}
	p.res.Tickets = len(items)
	groups := groupTickets(items, f.cfg)
	vecs := map[int64]tvec{}
	vec := func(id int64) tvec {
		v, ok := vecs[id]
		if !ok {
			v = corp.vector(texts[id])
			vecs[id] = v
		}
		return v
	}
	for i := range groups {
		groups[i].Members = dropOutliers(groups[i].Members, vec)
	}

	// A ticket becomes a member of nothing new once it is in an open,
	// approved or attached proposal, or solved by a published article.
	taken := func(id int64) bool {
		if len(snap.solvedBy[id]) > 0 {
			return true
		}
		for _, pid := range snap.memberOf[id] {
			if st := snap.props[pid].row.Status; st != ProposalRejected {
				return true
			}
		}
		return false
	}

	type pending struct {
		members  []cluster.Member
		reopened *int64
	}
	var todo []pending
	joins := map[int64]*joinPlan{}
	for _, g := range groups {
		if len(g.Members) >= 2 {
			p.res.Groups++
		}
		// Overlaps by proposal status.
		over := map[int64]int{}
		for _, m := range g.Members {
			for _, pid := range snap.memberOf[m.ID] {
				over[pid]++
			}
		}
		best := func(statuses ...string) *propInfo {
			var out *propInfo
			n := 0
			for pid, k := range over {
				pr := snap.props[pid]
				if !slices.Contains(statuses, pr.row.Status) {
					continue
				}
				if k > n || (k == n && out != nil && pid < out.row.ID) {
					out, n = pr, k
				}
			}
			return out
		}
		if open := best(ProposalOpen); open != nil {
			var add []cluster.Member
			for _, m := range g.Members {
				if _, in := open.members[m.ID]; !in && !taken(m.ID) {
					add = append(add, m)
				}
			}
			if len(add) == 0 {
				continue
			}
			j := joins[open.row.ID]
			if j == nil {
				j = &joinPlan{prop: open}
				joins[open.row.ID] = j
				p.joins = append(p.joins, j)
			}
			j.add = append(j.add, add...)
			continue
		}
		if dec := best(ProposalApproved, ProposalAttached); dec != nil && dec.articleLive {
			p.res.Covered++
			var repeats []cluster.Member
			for _, m := range g.Members {
				if _, own := dec.members[m.ID]; !own {
					repeats = append(repeats, m)
				}
			}
			p.cover = append(p.cover, f.coverRows(snap, cluster.Group{Members: repeats}, *dec.row.ArticleID)...)
			continue
		}
		var reopened *int64
		if rej := best(ProposalRejected); rej != nil {
			if float64(len(g.Members)) < f.cfg.RegrowFactor*float64(max(rej.row.RejectedSize, 1)) {
				p.res.Suppressed++
				continue
			}
			id := rej.row.ID
			reopened = &id
		}
		// No member is in an open, approved (live) or attached proposal
		// here; members linked solved_by make the group covered below.
		if len(g.Members) < f.cfg.MinSize {
			continue
		}
		todo = append(todo, pending{members: slices.Clone(g.Members), reopened: reopened})
	}

	// Gap detection for the new groups.
	var creates []*createPlan
	for _, t := range todo {
		art, score, err := f.coveredBy(ctx, snap, corp, texts, t.members)
		if err != nil {
			return nil, err
		}
		if art != 0 {
			p.res.Covered++
			p.cover = append(p.cover, f.coverRows(snap, cluster.Group{Members: t.members}, art, score)...)
			continue
		}
		creates = append(creates, &createPlan{members: t.members, reopened: t.reopened})
	}
	p.creates = creates

	// Drafts: load what they need, then write them.
	var extra []int64
	for _, j := range p.joins {
		for id := range j.prop.members {
			extra = append(extra, id)
		}
		for _, m := range j.add {
			extra = append(extra, m.ID)
		}
	}
	for _, c := range p.creates {
		for _, m := range c.members {
			extra = append(extra, m.ID)
		}
	}
	if len(extra) > 0 {
		if err := f.loadExtras(ctx, snap, extra); err != nil {
			return nil, err
		}
	}
	for _, j := range p.joins {
		all := make([]cluster.Member, 0, len(j.prop.members)+len(j.add))
		for id, sim := range j.prop.members {
			all = append(all, cluster.Member{ID: id, Similarity: sim})
		}
		all = append(all, j.add...)
		sortByCentrality(all)
		var bad bool
		j.draft, bad = f.draft(ctx, snap, corp, all, j.prop.row.EditedAt == nil)
		if bad {
			p.res.DrafterErrors++
		}
		p.res.Joined += len(j.add)
		p.res.Updated++
	}
	for _, c := range p.creates {
		sortByCentrality(c.members)
		var bad bool
		c.draft, bad = f.draft(ctx, snap, corp, c.members, true)
		if bad {
			p.res.DrafterErrors++
		}
	}
	return p, nil
}

// memberFloor is the least cosine (plain TF-IDF over the mined tickets)
// a member must have with the rest of its group. The clustering drops
// words seen in only one ticket, which on a small window can leave a
// one-off ticket with nothing but a common word ("app") and pull it into a
// group; measured on BANKING77 (3,000 queries), no member of a real group
// scores below 0.2, and the one-off of the tests scores 0.12.
const memberFloor = 0.15

// dropOutliers removes the members of a group that share too little with
// the others (see memberFloor).
func dropOutliers(ms []cluster.Member, vec func(int64) tvec) []cluster.Member {
	if len(ms) < 2 {
		return ms
	}
	sum := tvec{}
	for _, m := range ms {
		for t, w := range vec(m.ID) {
			sum[t] += w
		}
	}
	var sum2 float64
	for _, w := range sum {
		sum2 += w * w
	}
	out := ms[:0:0]
	for _, m := range ms {
		// cos(v, sum - v) without building sum - v.
		v := vec(m.ID)
		var vs, vv float64
		for t, w := range v {
			vs += w * sum[t]
			vv += w * w
		}
		rest2 := sum2 - 2*vs + vv
		if vv > 0 && rest2 > 1e-12 && (vs-vv)/math.Sqrt(vv*rest2) >= memberFloor {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return ms[:1]
	}
	return out
}

// groupTickets clusters items: every group, singletons included (an open
// proposal's member alone with one new ticket is a join).
func groupTickets(items []cluster.Item, cfg FAQConfig) []cluster.Group {
	return cluster.Cluster(items, cluster.Options{MinSize: 1, Threshold: cfg.ClusterThreshold})
}

func sortByCentrality(ms []cluster.Member) {
	slices.SortFunc(ms, func(a, b cluster.Member) int {
		if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// coverRows records the members of g as repeats of article art, except
// those already linked to it.
func (f *FAQ) coverRows(snap *mineSnapshot, g cluster.Group, art int64, score ...float64) []coverageRow {
	now := f.s.clock()
	out := make([]coverageRow, 0, len(g.Members))
	for _, m := range g.Members {
		if slices.Contains(snap.solvedBy[m.ID], art) {
			continue
		}
		sc := m.Similarity
		if len(score) > 0 {
			sc = score[0]
		}
		out = append(out, coverageRow{ArticleID: art, TicketID: m.ID, Score: math.Round(sc*1e4) / 1e4, CreatedAt: now})
	}
	return out
}

// maxCoverCandidates is how many published articles search proposes for a
// group's coverage check.
const maxCoverCandidates = 5

// coveredBy returns the published article that covers a group (0 when
// none) and its score: the article most members are linked solved_by to,
// else the best search candidate scoring at least CoverThreshold.
func (f *FAQ) coveredBy(ctx context.Context, snap *mineSnapshot, corp *corpus, texts map[int64]string, members []cluster.Member) (int64, float64, error) {
	counts := map[int64]int{}
	for _, m := range members {
		for _, a := range snap.solvedBy[m.ID] {
			counts[a]++
		}
	}
	var linked int64
	for a, n := range counts {
		if linked == 0 || n > counts[linked] || (n == counts[linked] && a < linked) {
			linked = a
		}
	}
	if linked != 0 {
		return linked, 1, nil
	}
	rep := snap.tickets[members[0].ID]
	query := clipRunes(MaskPII(rep.Subject+" "+rep.Description), 300)
	hits, err := f.s.index.Search(ctx, DocTypePublished, query, maxCoverCandidates, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("knowledge: FAQ miner: search articles: %w", err)
	}
	if len(hits) == 0 {
		return 0, 0, nil
	}
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.DocID
	}
	var revs []struct {
		ID      int64
		Title   string
		Summary string
		Body    string
	}
	if err := f.s.conn(ctx).Raw(`SELECT a.id, r.title, r.summary, r.body FROM articles a JOIN article_revisions r ON r.id = a.published_revision_id
WHERE a.id IN ? ORDER BY a.id`, ids).Scan(&revs).Error; err != nil {
		return 0, 0, fmt.Errorf("knowledge: FAQ miner: articles: %w", err)
	}
	vs := make([]tvec, 0, min(len(members), 10))
	for _, m := range members[:min(len(members), 10)] {
		vs = append(vs, corp.vector(texts[m.ID]))
	}
	group := centroid(vs)
	var bestID int64
	var best float64
	for _, r := range revs {
		sc := cosine(group, corp.vector(r.Title+"\n"+r.Title+"\n"+r.Summary+"\n"+PlainText(r.Body)))
		if sc > best || (sc == best && r.ID < bestID) {
			bestID, best = r.ID, sc
		}
	}
	if best >= f.cfg.CoverThreshold {
		return bestID, best, nil
	}
	return 0, best, nil
}

// ---- drafting ----

// draft writes a group's draft from its members, most central first.
// withText false computes the impact only. bad reports a Drafter failure.
func (f *FAQ) draft(ctx context.Context, snap *mineSnapshot, corp *corpus, members []cluster.Member, withText bool) (mineDraft, bool) {
	d := mineDraft{Representative: members[0].ID, MemberCount: len(members)}
	reqs := map[int64]bool{}
	langs := map[string]int{}
	cats := map[string]int{}
	tagN := map[string]int{}
	for i, m := range members {
		t := snap.tickets[m.ID]
		if t == nil {
			continue
		}
		reqs[t.RequesterID] = true
		if t.ResolvedAt != nil && t.ResolvedAt.After(t.CreatedAt) {
			d.HandlingSeconds += int64(t.ResolvedAt.Sub(t.CreatedAt) / time.Second)
		}
		if i == 0 || t.CreatedAt.Before(d.FirstSeen) {
			d.FirstSeen = t.CreatedAt
		}
		if t.CreatedAt.After(d.LastSeen) {
			d.LastSeen = t.CreatedAt
		}
		if l := scriptLanguage(t.Subject + " " + t.Description); l != "" {
			langs[l]++
		}
		if c := strings.TrimSpace(t.Category); c != "" {
			cats[c]++
		}
		for _, tg := range t.Tags {
			tagN[tg]++
		}
	}
	d.RequesterCount = len(reqs)
	if !withText {
		return d, false
	}
	rep := snap.tickets[members[0].ID]

	// Language by script majority; a tie goes to the representative's.
	d.Language = scriptLanguage(rep.Subject + " " + rep.Description)
	if langs[LanguageZh] > langs[LanguageEn] {
		d.Language = LanguageZh
	} else if langs[LanguageEn] > langs[LanguageZh] {
		d.Language = LanguageEn
	}
	if d.Language == "" {
		d.Language = LanguageEn
	}
	d.Category = majority(cats)
	need := (len(members) + 1) / 2
	for tg, n := range tagN {
		if n >= need && n >= 2 || (len(members) < 2 && n >= 1) {
			d.Tags = append(d.Tags, tg)
		}
	}
	slices.Sort(d.Tags)
	if len(d.Tags) > MaxTags {
		d.Tags = d.Tags[:MaxTags]
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}

	// Question: the most central member's subject that survives cleaning.
	for _, m := range members[:min(len(members), 5)] {
		t := snap.tickets[m.ID]
		if q := CleanQuestion(t.Subject); utf8Len(q) >= 4 {
			d.Question = q
			break
		}
	}
	if d.Question == "" {
		d.Question = CleanQuestion(firstSentence(rep.Description, MaxTitle))
	}
	if d.Question == "" {
		d.Question = strings.TrimSpace(MaskPII(rep.Subject))
	}
	d.Question = upperFirst(clipRunes(d.Question, MaxTitle))

	// Answer: the most central resolution (or public reply), extractive.
	type cand struct {
		src ProposalSource
		vec tvec
		sc  float64
	}
	var cs []*cand
	seen := map[string]bool{}
	for _, m := range members {
		t := snap.tickets[m.ID]
		text, kind := t.Resolution, SourceResolution
		if strings.TrimSpace(text) == "" {
			text, kind = t.Reply, SourceReply
		}
		text = strings.TrimSpace(MaskPII(text))
		if text == "" || seen[text] {
			continue
		}
		seen[text] = true
		cs = append(cs, &cand{src: ProposalSource{TicketID: m.ID, Kind: kind, Text: clipRunes(text, MaxBody), Similarity: m.Similarity},
			vec: corp.vector(text)})
	}
	for _, c := range cs {
		for _, o := range cs {
			if o != c {
				c.sc += cosine(c.vec, o.vec)
			}
		}
		if len(cs) > 1 {
			c.sc /= float64(len(cs) - 1)
		}
		c.sc += 0.1 * c.src.Similarity
	}
	slices.SortStableFunc(cs, func(a, b *cand) int { return cmp.Compare(b.sc, a.sc) })
	d.Sources = []ProposalSource{}
	for i, c := range cs {
		if i == 5 {
			break
		}
		s := c.src
		if i == 0 {
			s.Used = true
			d.Answer = s.Text
		}
		s.Text = clipRunes(s.Text, 500)
		d.Sources = append(d.Sources, s)
	}

	if f.cfg.Drafter == nil {
		return d, false
	}
	in := DraftInput{Language: d.Language, Question: d.Question, Answer: d.Answer}
	for _, m := range members[:min(len(members), 10)] {
		t := snap.tickets[m.ID]
		in.Questions = append(in.Questions, clipRunes(MaskPII(t.Subject+"\n"+t.Description), 500))
	}
	for _, c := range cs[:min(len(cs), 10)] {
		in.Resolutions = append(in.Resolutions, clipRunes(c.src.Text, 500))
	}
	out, err := f.cfg.Drafter.Draft(ctx, in)
	if err != nil {
		return d, true
	}
	if q := strings.TrimSpace(MaskPII(out.Question)); q != "" {
		d.Question = clipRunes(q, MaxTitle)
	}
	if a := strings.TrimSpace(MaskPII(out.Answer)); a != "" {
		d.Answer = clipRunes(a, MaxBody)
	}
	return d, false
}

func utf8Len(s string) int { return len([]rune(s)) }

// upperFirst capitalises a leading Latin letter.
func upperFirst(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// majority is the most frequent key (ties: the smallest), "" for none.
func majority(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}

// signature is the stable key of a new group: its sorted member ids.
func signature(ms []cluster.Member) string {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%d,", id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ---- applying ----

// apply writes the plan under the FAQ lock, or returns errStale when the
// proposals changed since snap was read.
func (f *FAQ) apply(ctx context.Context, snap *mineSnapshot, p *minePlan) error {
	return f.s.inTx(ctx, func(tx *gorm.DB) error {
		st, err := f.lock(ctx, tx)
		if err != nil {
			return err
		}
		if st.Generation != snap.generation {
			return errStale
		}
		now := f.s.clock()
		changed := false
		res := &p.res
		res.ProposalIDs = []int64{}
		created, reproposed := 0, 0

		for _, j := range p.joins {
			for _, m := range j.add {
				if err := tx.Create(&proposalMemberRow{ProposalID: j.prop.row.ID, TicketID: m.ID, Similarity: m.Similarity, AddedAt: now}).Error; err != nil {
					return err
				}
			}
			set := impactColumns(j.draft)
			if j.prop.row.EditedAt == nil {
				mergeInto(set, textColumns(j.draft))
			}
			set["version"], set["updated_at"] = gorm.Expr("version + 1"), now
			r := tx.Model(&proposalRow{}).Where("id = ? AND version = ? AND status = ?", j.prop.row.ID, j.prop.row.Version, ProposalOpen).UpdateColumns(set)
			if r.Error != nil {
				return r.Error
			}
			if r.RowsAffected != 1 {
				return errStale
			}
			changed = true
		}

		for _, c := range p.creates {
			sig := signature(c.members)
			var n int64
			if err := tx.Model(&proposalRow{}).Where("signature = ?", sig).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				continue // stored already (cannot happen under the lock; the key says so too)
			}
			d := c.draft
			row := proposalRow{Status: ProposalOpen, Question: d.Question, Answer: d.Answer, Sources: encodeSources(d.Sources),
				Category: d.Category, Tags: encodeTags(d.Tags), Language: d.Language, RepresentativeID: idPtr(d.Representative),
				MemberCount: d.MemberCount, RequesterCount: d.RequesterCount, HandlingSeconds: d.HandlingSeconds,
				FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, Signature: sig, ReopenedFrom: c.reopened,
				Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			for _, m := range c.members {
				if err := tx.Create(&proposalMemberRow{ProposalID: row.ID, TicketID: m.ID, Similarity: m.Similarity, AddedAt: now}).Error; err != nil {
					return err
				}
			}
			res.ProposalIDs = append(res.ProposalIDs, row.ID)
			created++
			if c.reopened != nil {
				reproposed++
			}
			changed = true
		}
		res.Created, res.Reproposed = created, reproposed

		if len(p.cover) > 0 {
			byArt := map[int64][]int64{}
			for _, c := range p.cover {
				byArt[c.ArticleID] = append(byArt[c.ArticleID], c.TicketID)
			}
			have := map[[2]int64]bool{}
			for art, ids := range byArt {
				for _, ch := range chunkIDs(ids, inChunk) {
					var got []int64
					if err := tx.Model(&coverageRow{}).Where("article_id = ? AND ticket_id IN ?", art, ch).Pluck("ticket_id", &got).Error; err != nil {
						return err
					}
					for _, t := range got {
						have[[2]int64{art, t}] = true
					}
				}
			}
			for _, c := range p.cover {
				k := [2]int64{c.ArticleID, c.TicketID}
				if have[k] {
					continue
				}
				have[k] = true
				if err := tx.Create(&c).Error; err != nil {
					return err
				}
			}
		}

		gen := st.Generation
		if changed {
			gen++
		}
		stateJSON, _ := json.Marshal(minerState{LastResult: res, Window: f.cfg.Window.String()})
		set := map[string]any{"generation": gen, "fingerprint": snap.fingerprint(gen), "state": string(stateJSON),
			"last_mined_at": now, "updated_at": now}
		if len(snap.window) > 0 {
			maxID := slices.Max(snap.window)
			set["last_ticket_id"] = maxID
			if t := snap.tickets[snap.window[0]]; t != nil && t.ResolvedAt != nil {
				set["last_resolved_at"] = *t.ResolvedAt
			}
		}
		return tx.Model(&minerStateRow{}).Where("id = 1").UpdateColumns(set).Error
	})
}

func impactColumns(d mineDraft) map[string]any {
	return map[string]any{"member_count": d.MemberCount, "requester_count": d.RequesterCount, "handling_seconds": d.HandlingSeconds,
		"first_seen": d.FirstSeen, "last_seen": d.LastSeen, "representative_id": d.Representative}
}

func textColumns(d mineDraft) map[string]any {
	return map[string]any{"question": d.Question, "answer": d.Answer, "sources": encodeSources(d.Sources),
		"category": d.Category, "tags": encodeTags(d.Tags), "language": d.Language}
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}
