package knowledge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// FAQ proposals: repeat issues mined from resolved tickets and offered to
// knowledge editors as article drafts.
//
// The miner (FAQ.Mine, faq_mine.go) clusters the tickets resolved in a
// window (default the last 30 days) together with the members of the
// proposals that still matter, and compares every group with the
// proposals already stored:
//
//   - a group that shares tickets with an open proposal adds its other
//     tickets to that proposal (incremental: new repeats join, they never
//     start a near-duplicate) and refreshes its draft, unless an editor
//     has edited it, and its impact;
//   - a group that shares tickets with an approved or attached proposal
//     is covered by that proposal's article;
//   - a group that shares tickets with a rejected proposal is proposed
//     again only once it has grown to RegrowFactor times the size it had
//     when rejected (the new proposal says which one it reopens);
//   - any other group of at least MinSize tickets is a gap unless an
//     article covers it: a member was linked solved_by to a published
//     article, or the best published article found by search scores at
//     least CoverThreshold against the group. Covered groups raise the
//     article's repeat signal (faq_coverage, in the knowledge report)
//     instead of becoming proposals.
//
// Tickets already linked solved_by to a published article, and tickets
// already in an open, approved or attached proposal, take part in the
// clustering (they are the evidence) but never become new members.
//
// Every write to proposals (the miner's, and the editors' update, approve,
// reject, merge and attach) takes the FAQ lock, the single faq_miner_state
// row (SELECT ... FOR UPDATE on MySQL; SQLite's immediate transactions
// already serialise writers), and moves its generation. The miner reads
// and clusters without the lock, then applies its plan under the lock only
// if the generation has not moved meanwhile, and starts over otherwise. So
// two miners (two workers, or a worker and POST /faq-proposals/refresh)
// never create the same proposal twice, and an editor's decision is never
// overwritten by a miner that read before it; the unique signature of a
// proposal (its member ids at creation) guards the table as well.
//
// Drafts are extractive: the question is the most central member's
// subject without greetings, thanks and order numbers; the answer is the
// most central resolution note (or last public reply) of the members, with
// the sources listed. Personal data (e-mail addresses, phone numbers,
// order, card and ID numbers) is masked as *** in everything a proposal
// shows. An optional Drafter (FAQConfig.Drafter; none by default) may
// rewrite the question and answer, for instance through an
// OpenAI-compatible endpoint that cmd wires; its output is masked again.

// Statuses of an FAQ proposal.
const (
	ProposalOpen     = "open"     // waiting for an editor
	ProposalApproved = "approved" // an article was written from it
	ProposalRejected = "rejected" // not worth an article (with a reason)
	ProposalMerged   = "merged"   // its tickets moved to another proposal (MergedInto)
	ProposalAttached = "attached" // its tickets were linked to an existing article
)

// ProposalStatuses lists the statuses in lifecycle order.
var ProposalStatuses = []string{ProposalOpen, ProposalApproved, ProposalRejected, ProposalMerged, ProposalAttached}

// Kinds of a proposal's answer sources.
const (
	SourceResolution = "resolution" // the resolution note of the ticket's resolve step
	SourceReply      = "reply"      // the ticket's last public reply by staff
)

// FAQConfig tunes the miner. Zero values take the defaults noted.
type FAQConfig struct {
	// Window: tickets resolved within this long before now are mined
	// (default 30 days).
	Window time.Duration
	// MinSize is the smallest group proposed (default 3).
	MinSize int
	// CoverThreshold: a group whose best published article scores at
	// least this (cosine of TF-IDF vectors, 0..1) is covered, not a gap
	// (default 0.25; measured: an article on the issue scores 0.33 to 0.8,
	// an article on a neighbouring topic sharing words 0.13).
	CoverThreshold float64
	// RegrowFactor: a rejected group is proposed again once it has this
	// many times the tickets it had when rejected (default 2).
	RegrowFactor float64
	// MaxTickets caps the tickets mined per run, the most recently
	// resolved first (default 100,000: a whole run over that many takes
	// 20-45 s on 2 cores, docs/BENCHMARKS.md "FAQ miner end to end").
	MaxTickets int
	// ClusterThreshold is the clustering's merge threshold (0: the
	// clustering package's measured default).
	ClusterThreshold float64
	// Drafter, if set, rewrites extractive drafts (off by default).
	Drafter Drafter
}

func (c FAQConfig) withDefaults() FAQConfig {
	if c.Window <= 0 {
		c.Window = 30 * 24 * time.Hour
	}
	if c.MinSize <= 0 {
		c.MinSize = 3
	}
	if c.CoverThreshold <= 0 {
		c.CoverThreshold = 0.25
	}
	if c.RegrowFactor < 1 {
		c.RegrowFactor = 2
	}
	if c.MaxTickets <= 0 {
		c.MaxTickets = 100_000
	}
	return c
}

// WithFAQ configures the FAQ miner.
func WithFAQ(cfg FAQConfig) Option {
	return func(s *Service) { s.faq = &FAQ{s: s, cfg: cfg.withDefaults()} }
}

// FAQ is the FAQ proposal miner and the editors' review of its
// proposals. Get it from Service.FAQ.
type FAQ struct {
	s   *Service
	cfg FAQConfig
}

// FAQ returns the service's FAQ proposals.
func (s *Service) FAQ() *FAQ { return s.faq }

// Config returns the miner's settings with defaults filled in.
func (f *FAQ) Config() FAQConfig { return f.cfg }

// Drafter rewrites an extractive FAQ draft, e.g. with a language model
// behind an OpenAI-compatible endpoint. It is optional and off by default:
// the product is complete with the extractive drafts. Implementations get
// masked text only and their output is masked again; an error keeps the
// extractive draft (MineResult.DrafterErrors counts them).
type Drafter interface {
	Draft(ctx context.Context, in DraftInput) (DraftText, error)
}

// DraftInput is what a Drafter sees of a group: the extractive draft and
// the members' masked texts, most central first (at most 10).
type DraftInput struct {
	Language    string
	Question    string
	Answer      string
	Questions   []string // members' subjects and descriptions
	Resolutions []string // members' resolution notes or public replies
}

// DraftText is a Drafter's question and answer; empty fields keep the
// extractive ones.
type DraftText struct {
	Question string
	Answer   string
}

// Proposal is an FAQ proposal: a repeat issue with a draft article.
type Proposal struct {
	ID       int64
	Status   string
	Question string // the title the article would get
	Answer   string // Markdown
	Sources  []ProposalSource
	Category string
	Tags     []string
	Language string

	RepresentativeID int64 // the most central member ticket
	MemberCount      int
	RequesterCount   int   // distinct requesters of the members
	HandlingSeconds  int64 // sum over members of resolved_at - created_at
	FirstSeen        time.Time
	LastSeen         time.Time // the members' creation times

	ReopenedFrom   *int64 // the rejected proposal this group grew out of
	EditedBy       *int64
	EditedAt       *time.Time // set once an editor edits the draft; the miner then keeps the text
	RejectedReason string
	RejectedSize   int    // members when rejected
	ArticleID      *int64 // approved: the article written; attached: the article linked
	MergedInto     *int64
	DecidedBy      *int64
	DecidedAt      *time.Time

	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time

	Members []ProposalMember // FAQ.Get only, most similar first
}

// ProposalSource is one member's text the answer was or could be drafted
// from.
type ProposalSource struct {
	TicketID   int64   `json:"ticket_id"`
	Kind       string  `json:"kind"` // SourceResolution or SourceReply
	Text       string  `json:"text"` // masked
	Similarity float64 `json:"similarity"`
	Used       bool    `json:"used"` // the answer was drafted from this one
}

// ProposalMember is a member ticket of a proposal.
type ProposalMember struct {
	TicketID    int64
	Subject     string // masked
	Similarity  float64
	RequesterID int64
	Status      string
	CreatedAt   time.Time
	ResolvedAt  *time.Time
	AddedAt     time.Time
}

// ProposalPatch changes the non-nil fields of an open proposal's draft.
type ProposalPatch struct {
	Question *string
	Answer   *string
	Category *string
	Tags     *[]string
	Language *string
}

// ProposalFilter narrows a list; no status means open.
type ProposalFilter struct {
	Status []string
}

// ProposalPage is one page of proposals.
type ProposalPage struct {
	Items      []Proposal
	NextCursor string
}

// ApproveOptions says what approving a proposal creates.
type ApproveOptions struct {
	// Publish: the article is published at once (needs articles:approve);
	// otherwise it waits in review.
	Publish bool
	// Audience of the article: internal (default) or public.
	Audience string
}

// MineResult counts what a run of the miner did.
type MineResult struct {
	Skipped       bool          // nothing changed since the last run (MineIfChanged only)
	Tickets       int           // tickets clustered
	Groups        int           // groups of two or more
	Created       int           // new proposals
	Reproposed    int           // of those, rejected groups that grew enough
	Joined        int           // tickets added to open proposals
	Updated       int           // open proposals whose draft or impact changed
	Covered       int           // groups covered by an existing article
	Suppressed    int           // rejected groups that have not grown enough
	DrafterErrors int           // drafts kept extractive because the Drafter failed
	ProposalIDs   []int64       // the new proposals
	Duration      time.Duration // wall time
}

// ---- rows ----

type proposalRow struct {
	ID               int64
	Status           string
	Question         string
	Answer           string
	Sources          string // JSON []ProposalSource
	Category         string
	Tags             string // JSON array
	Language         string
	RepresentativeID *int64
	MemberCount      int
	RequesterCount   int
	HandlingSeconds  int64
	FirstSeen        time.Time
	LastSeen         time.Time
	Signature        string
	ReopenedFrom     *int64
	EditedBy         *int64
	EditedAt         *time.Time
	RejectedReason   string
	RejectedSize     int
	ArticleID        *int64
	MergedInto       *int64
	DecidedBy        *int64
	DecidedAt        *time.Time
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (proposalRow) TableName() string { return "faq_proposals" }

type proposalMemberRow struct {
	ProposalID int64
	TicketID   int64
	Similarity float64
	AddedAt    time.Time
}

func (proposalMemberRow) TableName() string { return "faq_proposal_members" }

type coverageRow struct {
	ArticleID int64
	TicketID  int64
	Score     float64
	CreatedAt time.Time
}

func (coverageRow) TableName() string { return "faq_coverage" }

func (r proposalRow) proposal() Proposal {
	p := Proposal{ID: r.ID, Status: r.Status, Question: r.Question, Answer: r.Answer, Sources: decodeSources(r.Sources),
		Category: r.Category, Tags: decodeTags(r.Tags), Language: r.Language, RepresentativeID: deref(r.RepresentativeID),
		MemberCount: r.MemberCount, RequesterCount: r.RequesterCount, HandlingSeconds: r.HandlingSeconds,
		FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC(), ReopenedFrom: r.ReopenedFrom,
		EditedBy: r.EditedBy, EditedAt: utcPtr(r.EditedAt), RejectedReason: r.RejectedReason, RejectedSize: r.RejectedSize,
		ArticleID: r.ArticleID, MergedInto: r.MergedInto, DecidedBy: r.DecidedBy, DecidedAt: utcPtr(r.DecidedAt),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	return p
}

func encodeSources(src []ProposalSource) string {
	if src == nil {
		src = []ProposalSource{}
	}
	b, _ := json.Marshal(src)
	return string(b)
}

func decodeSources(s string) []ProposalSource {
	var out []ProposalSource
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	if out == nil {
		out = []ProposalSource{}
	}
	return out
}

// ---- the FAQ lock ----

// minerStateRow is the singleton row that serialises FAQ writes and keeps
// the miner's bookkeeping.
type minerStateRow struct {
	ID             int64
	Generation     int64
	State          string // JSON minerState
	Fingerprint    string
	LastTicketID   int64
	LastResolvedAt *time.Time
	LastMinedAt    *time.Time
	UpdatedAt      *time.Time
}

func (minerStateRow) TableName() string { return "faq_miner_state" }

// minerState is the JSON kept in faq_miner_state.state: the last run.
type minerState struct {
	LastResult *MineResult `json:"last_result,omitempty"`
	Window     string      `json:"window,omitempty"`
}

// lock takes the FAQ lock in tx and returns the generation it holds.
func (f *FAQ) lock(ctx context.Context, tx *gorm.DB) (minerStateRow, error) {
	var st minerStateRow
	q := tx.WithContext(ctx)
	if f.s.db.Dialect == database.MySQL {
		q = f.s.forUpdate(q)
	}
	if err := q.Where("id = 1").Take(&st).Error; err != nil {
		return st, fmt.Errorf("knowledge: FAQ lock (faq_miner_state, migration 0008): %w", err)
	}
	return st, nil
}

// bump moves the generation: every FAQ write does, so a miner that read
// before it starts over.
func bump(ctx context.Context, tx *gorm.DB, now time.Time) error {
	return tx.WithContext(ctx).Model(&minerStateRow{}).Where("id = 1").
		UpdateColumns(map[string]any{"generation": gorm.Expr("generation + 1"), "updated_at": now}).Error
}

// locked runs fn in one transaction holding the FAQ lock, and moves the
// generation when fn succeeds.
func (f *FAQ) locked(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return f.s.inTx(ctx, func(tx *gorm.DB) error {
		if _, err := f.lock(ctx, tx); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return bump(ctx, tx, f.s.clock())
	})
}
