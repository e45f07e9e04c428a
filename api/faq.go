package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
)

// Handlers and bodies of /faq-proposals: FAQ proposals mined from repeat
// issues (knowledge/faq.go explains the miner) and their review by
// knowledge editors. Every route needs faq:review.

const proposalStatusEnum = knowledge.ProposalOpen + "," + knowledge.ProposalApproved + "," + knowledge.ProposalRejected + "," +
	knowledge.ProposalMerged + "," + knowledge.ProposalAttached

func (h *handlers) faqRoutes() []route {
	const tag = "faq"
	return []route{
		{Method: "GET", Path: apiBase + "/faq-proposals", Tag: tag, Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary: "List FAQ proposals, largest impact first",
			Description: "Open proposals by default. Ordered by member tickets, then distinct requesters, then the most recently seen. " +
				"The miner runs on a schedule (every 15 minutes, once across replicas), on POST /faq-proposals/refresh and with `loopdesk faq mine`.",
			Query: []*Parameter{queryParam("status", "string", true, "statuses to list; default open.",
				strings.Split(proposalStatusEnum, ",")...)},
			Response: ProposalListItem{}, List: true, Paged: true, DomainCursor: true, Status: 200, Handler: h.listProposals},
		{Method: "POST", Path: apiBase + "/faq-proposals/refresh", Tag: tag, Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary: "Run the FAQ miner now",
			Description: "Clusters the tickets resolved in the miner's window (default 30 days) with the stored proposals: new repeats join open proposals, " +
				"new groups of at least the minimum size (default 3) that no published article covers become proposals, rejected groups come back only " +
				"once grown by the configured factor (default 2). Safe to run concurrently with the scheduled miner: it never creates a duplicate. Answers what it did.",
			Response: MineResultResponse{}, Status: 200, Handler: h.refreshProposals},
		{Method: "GET", Path: apiBase + "/faq-proposals/:id", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary:     "Get an FAQ proposal with its member tickets and draft",
			Description: "Members are listed most similar first with their (masked) subjects. The answer's sources show which member texts it was drafted from.",
			Response:    ProposalResponse{}, Status: 200, ETag: true, Handler: h.getProposal},
		{Method: "PATCH", Path: apiBase + "/faq-proposals/:id", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary: "Edit an open proposal's draft",
			Description: "Question, answer, category, tags, language. Once edited, the miner keeps the text and only adds tickets and updates the impact. " +
				"Only open proposals change (409). A stale If-Match is a 412.",
			Request: UpdateProposalRequest{}, Response: ProposalResponse{}, Status: 200, ETag: true, Handler: h.updateProposal},
		{Method: "POST", Path: apiBase + "/faq-proposals/:id/approve", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary: "Approve a proposal: write its article and link every member ticket",
			Description: "Creates the article as the caller from the draft (question as title, answer as body), in review, or published at once with publish: true " +
				"(needs articles:approve; the editor approving the proposal is its reviewer, so approving one's own FAQ article this way is allowed). " +
				"Every member ticket is linked created_from. Answers the proposal, now approved, with article_id. An empty answer is a 422; a decided proposal a 409.",
			Request: ApproveProposalRequest{}, Response: ProposalResponse{}, Status: 200, Idempotent: true, ETag: true, IfMatch: true, Handler: h.approveProposal},
		{Method: "POST", Path: apiBase + "/faq-proposals/:id/reject", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary:     "Reject a proposal with a reason",
			Description: "The same group is not proposed again unless it grows by the miner's regrow factor (default: to twice its size when rejected).",
			Request:     RejectProposalRequest{}, Response: ProposalResponse{}, Status: 200, ETag: true, IfMatch: true, Handler: h.rejectProposal},
		{Method: "POST", Path: apiBase + "/faq-proposals/:id/merge", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary:     "Merge this proposal into another open one",
			Description: "The member tickets move to the other proposal, whose draft and impact are recomputed (its text is kept if an editor edited it). Answers the other proposal.",
			Request:     MergeProposalRequest{}, Response: ProposalResponse{}, Status: 200, ETag: true, IfMatch: true, Handler: h.mergeProposal},
		{Method: "POST", Path: apiBase + "/faq-proposals/:id/attach", Tag: tag, Resource: "FAQ proposal", Perm: accounts.PermFAQReview, NeedsKnowledge: true,
			Summary: "Attach the proposal's tickets to an existing article instead",
			Description: "Links every member ticket referenced to the article (not archived), which counts as a reuse of it (reuse_count), " +
				"and closes the proposal as attached.",
			Request: AttachProposalRequest{}, Response: ProposalResponse{}, Status: 200, ETag: true, IfMatch: true, Handler: h.attachProposal},
	}
}

// ---- bodies ----

// ProposalSourceResponse is a member text the answer was or could be
// drafted from.
type ProposalSourceResponse struct {
	TicketID   int64   `json:"ticket_id"`
	Kind       string  `json:"kind" enum:"resolution,reply" doc:"the resolve step's resolution note, or the ticket's last public reply by staff"`
	Text       string  `json:"text" doc:"personal data masked as ***; at most 500 characters"`
	Similarity float64 `json:"similarity" doc:"the ticket's similarity to the group"`
	Used       bool    `json:"used" doc:"the answer was drafted from this one"`
}

// ProposalMemberResponse is a member ticket of a proposal.
type ProposalMemberResponse struct {
	TicketID    int64      `json:"ticket_id"`
	Subject     string     `json:"subject" doc:"personal data masked as ***"`
	Similarity  float64    `json:"similarity" doc:"cosine with the group's centre, 0 to 1"`
	RequesterID int64      `json:"requester_id"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ResolvedAt  *time.Time `json:"resolved_at"`
	AddedAt     time.Time  `json:"added_at" doc:"when the miner added it to the proposal"`
}

// ProposalListItem is a proposal in a list (no members, no sources).
type ProposalListItem struct {
	ID               int64      `json:"id"`
	Status           string     `json:"status" enum:"open,approved,rejected,merged,attached"`
	Question         string     `json:"question"`
	Category         string     `json:"category"`
	Tags             []string   `json:"tags"`
	Language         string     `json:"language" enum:"zh,en"`
	MemberCount      int        `json:"member_count" doc:"member tickets"`
	RequesterCount   int        `json:"requester_count" doc:"distinct requesters of the members"`
	HandlingSeconds  int64      `json:"handling_seconds" doc:"sum over the members of resolved_at - created_at"`
	FirstSeen        time.Time  `json:"first_seen" doc:"creation of the oldest member"`
	LastSeen         time.Time  `json:"last_seen" doc:"creation of the newest member"`
	RepresentativeID int64      `json:"representative_ticket_id" doc:"the most central member"`
	ArticleID        *int64     `json:"article_id" doc:"approved: the article written; attached: the article linked"`
	Edited           bool       `json:"edited" doc:"an editor changed the draft; the miner keeps its text"`
	Version          int        `json:"version"`
	CreatedAt        time.Time  `json:"created_at"`
	DecidedAt        *time.Time `json:"decided_at"`
}

// ProposalResponse is one proposal with its draft and members.
type ProposalResponse struct {
	ID               int64                    `json:"id"`
	Status           string                   `json:"status" enum:"open,approved,rejected,merged,attached"`
	Question         string                   `json:"question" doc:"the article's title on approval: the most central member's subject without greetings, thanks and order numbers"`
	Answer           string                   `json:"answer" doc:"Markdown; the article's body on approval: the most central member resolution, extractively"`
	Sources          []ProposalSourceResponse `json:"sources" doc:"the member texts the answer was (used) or could be drafted from, most central first"`
	Category         string                   `json:"category" doc:"the members' most common category"`
	Tags             []string                 `json:"tags" doc:"tags on at least half of the members"`
	Language         string                   `json:"language" enum:"zh,en" doc:"by the members' script majority"`
	MemberCount      int                      `json:"member_count"`
	RequesterCount   int                      `json:"requester_count"`
	HandlingSeconds  int64                    `json:"handling_seconds" doc:"sum over the members of resolved_at - created_at"`
	FirstSeen        time.Time                `json:"first_seen"`
	LastSeen         time.Time                `json:"last_seen"`
	RepresentativeID int64                    `json:"representative_ticket_id"`
	ReopenedFrom     *int64                   `json:"reopened_from" doc:"the rejected proposal this group grew out of"`
	EditedBy         *int64                   `json:"edited_by"`
	EditedAt         *time.Time               `json:"edited_at"`
	RejectedReason   string                   `json:"rejected_reason"`
	RejectedSize     int                      `json:"rejected_size" doc:"members when rejected"`
	ArticleID        *int64                   `json:"article_id"`
	MergedInto       *int64                   `json:"merged_into"`
	DecidedBy        *int64                   `json:"decided_by"`
	DecidedAt        *time.Time               `json:"decided_at"`
	Version          int                      `json:"version" doc:"also sent as the ETag header"`
	CreatedAt        time.Time                `json:"created_at"`
	UpdatedAt        time.Time                `json:"updated_at"`
	Members          []ProposalMemberResponse `json:"members" doc:"most similar first"`
}

func proposalListItem(p knowledge.Proposal) ProposalListItem {
	return ProposalListItem{ID: p.ID, Status: p.Status, Question: p.Question, Category: p.Category, Tags: nonNil(p.Tags),
		Language: p.Language, MemberCount: p.MemberCount, RequesterCount: p.RequesterCount, HandlingSeconds: p.HandlingSeconds,
		FirstSeen: p.FirstSeen, LastSeen: p.LastSeen, RepresentativeID: p.RepresentativeID, ArticleID: p.ArticleID,
		Edited: p.EditedAt != nil, Version: p.Version, CreatedAt: p.CreatedAt, DecidedAt: p.DecidedAt}
}

func proposalResponse(p knowledge.Proposal) ProposalResponse {
	out := ProposalResponse{ID: p.ID, Status: p.Status, Question: p.Question, Answer: p.Answer,
		Sources: make([]ProposalSourceResponse, 0, len(p.Sources)), Category: p.Category, Tags: nonNil(p.Tags), Language: p.Language,
		MemberCount: p.MemberCount, RequesterCount: p.RequesterCount, HandlingSeconds: p.HandlingSeconds, FirstSeen: p.FirstSeen,
		LastSeen: p.LastSeen, RepresentativeID: p.RepresentativeID, ReopenedFrom: p.ReopenedFrom, EditedBy: p.EditedBy,
		EditedAt: p.EditedAt, RejectedReason: p.RejectedReason, RejectedSize: p.RejectedSize, ArticleID: p.ArticleID,
		MergedInto: p.MergedInto, DecidedBy: p.DecidedBy, DecidedAt: p.DecidedAt, Version: p.Version, CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt, Members: make([]ProposalMemberResponse, 0, len(p.Members))}
	for _, s := range p.Sources {
		out.Sources = append(out.Sources, ProposalSourceResponse{TicketID: s.TicketID, Kind: s.Kind, Text: s.Text, Similarity: s.Similarity, Used: s.Used})
	}
	for _, m := range p.Members {
		out.Members = append(out.Members, ProposalMemberResponse{TicketID: m.TicketID, Subject: m.Subject, Similarity: m.Similarity,
			RequesterID: m.RequesterID, Status: m.Status, CreatedAt: m.CreatedAt, ResolvedAt: m.ResolvedAt, AddedAt: m.AddedAt})
	}
	return out
}

// UpdateProposalRequest changes the fields present of an open proposal's
// draft.
type UpdateProposalRequest struct {
	Question Optional[string]   `json:"question,omitzero" doc:"1 to 200 characters"`
	Answer   Optional[string]   `json:"answer,omitzero" doc:"Markdown, at most 100000 characters"`
	Category Optional[string]   `json:"category,omitzero"`
	Tags     Optional[[]string] `json:"tags,omitzero" doc:"at most 20, each at most 50 characters; stored lowercase"`
	Language Optional[string]   `json:"language,omitzero" enum:"zh,en"`
}

// Validate rejects a PATCH without fields and oversize texts.
func (r *UpdateProposalRequest) Validate() []FieldError {
	if !r.Question.Set && !r.Answer.Set && !r.Category.Set && !r.Tags.Set && !r.Language.Set {
		return []FieldError{{Field: "question", Message: "send at least one of question, answer, category, tags, language"}}
	}
	var fe []FieldError
	if r.Question.Set {
		if n := utf8.RuneCountInString(r.Question.Value); strings.TrimSpace(r.Question.Value) == "" || n > knowledge.MaxTitle {
			fe = append(fe, FieldError{Field: "question", Message: fmt.Sprintf("must be 1 to %d characters (got %d)", knowledge.MaxTitle, n)})
		}
	}
	if r.Answer.Set {
		if n := utf8.RuneCountInString(r.Answer.Value); n > knowledge.MaxBody {
			fe = append(fe, FieldError{Field: "answer", Message: fmt.Sprintf("must be at most %d characters (got %d)", knowledge.MaxBody, n)})
		}
	}
	return fe
}

func (r *UpdateProposalRequest) patch() knowledge.ProposalPatch {
	return knowledge.ProposalPatch{Question: r.Question.Ptr(), Answer: r.Answer.Ptr(), Category: r.Category.Ptr(),
		Tags: r.Tags.Ptr(), Language: r.Language.Ptr()}
}

// ApproveProposalRequest says what approving creates.
type ApproveProposalRequest struct {
	Publish  bool   `json:"publish,omitempty" doc:"publish the article at once (needs articles:approve); default false: it waits in review"`
	Audience string `json:"audience,omitempty" enum:"internal,public" doc:"the article's audience; default internal"`
}

// RejectProposalRequest rejects a proposal.
type RejectProposalRequest struct {
	Reason string `json:"reason" doc:"why the group is not worth an article; 1 to 2000 characters"`
}

// Validate requires a reason.
func (r *RejectProposalRequest) Validate() []FieldError {
	if strings.TrimSpace(r.Reason) == "" {
		return []FieldError{{Field: "reason", Message: "is required: say why this is not worth an article"}}
	}
	return nil
}

// MergeProposalRequest names the proposal to merge into.
type MergeProposalRequest struct {
	Into int64 `json:"into" doc:"the open proposal that receives this one's tickets"`
}

// Validate checks the id.
func (r *MergeProposalRequest) Validate() []FieldError {
	if r.Into < 1 {
		return []FieldError{{Field: "into", Message: "must be a positive proposal id"}}
	}
	return nil
}

// AttachProposalRequest names the article the tickets belong to.
type AttachProposalRequest struct {
	ArticleID int64 `json:"article_id" doc:"an existing article that is not archived"`
}

// Validate checks the id.
func (r *AttachProposalRequest) Validate() []FieldError {
	if r.ArticleID < 1 {
		return []FieldError{{Field: "article_id", Message: "must be a positive article id"}}
	}
	return nil
}

// MineResultResponse is what a run of the miner did.
type MineResultResponse struct {
	Tickets       int     `json:"tickets" doc:"tickets clustered: resolved in the window, and the members of open and rejected proposals"`
	Groups        int     `json:"groups" doc:"groups of two or more tickets found"`
	Created       int     `json:"created" doc:"new proposals"`
	Reproposed    int     `json:"reproposed" doc:"of those, rejected groups that grew enough to come back"`
	Joined        int     `json:"joined" doc:"tickets added to open proposals"`
	Updated       int     `json:"updated" doc:"open proposals that got new tickets"`
	Covered       int     `json:"covered" doc:"groups an existing article covers (recorded as repeats of it, not proposed)"`
	Suppressed    int     `json:"suppressed" doc:"rejected groups that have not grown enough"`
	DrafterErrors int     `json:"drafter_errors" doc:"drafts kept extractive because the optional drafter failed"`
	ProposalIDs   []int64 `json:"proposal_ids" doc:"the new proposals"`
	DurationMS    int64   `json:"duration_ms"`
}

// ---- handlers ----

func (h *handlers) proposalRes(c *gin.Context) resource[knowledge.Proposal] {
	u, _ := CurrentUser(c)
	return resource[knowledge.Proposal]{path: "faq-proposals",
		get: func(ctx context.Context, id int64) (knowledge.Proposal, error) {
			return h.d.Knowledge.FAQ().Get(ctx, u, id)
		},
		id: func(p knowledge.Proposal) int64 { return p.ID }, version: func(p knowledge.Proposal) int { return p.Version },
		render: func(p knowledge.Proposal) any { return proposalResponse(p) }}
}

func (h *handlers) listProposals(c *gin.Context) {
	q := c.Request.URL.Query()
	var fe []FieldError
	var f knowledge.ProposalFilter
	for _, raw := range q["status"] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !strings.Contains(","+proposalStatusEnum+",", ","+s+",") {
				fe = append(fe, FieldError{Field: "status", Message: fmt.Sprintf("%q is not one of: %s", clip(s), strings.ReplaceAll(proposalStatusEnum, ",", ", "))})
				continue
			}
			f.Status = append(f.Status, s)
		}
	}
	limit := DefaultLimit
	if raw, ok := c.GetQuery("limit"); ok {
		n, lfe := parseLimit(raw)
		if lfe != nil {
			fe = append(fe, *lfe)
		}
		limit = n
	}
	cursor := ""
	if vs := q["cursor"]; len(vs) > 1 {
		fe = append(fe, FieldError{Field: "cursor", Message: fmt.Sprintf("give it once, not %d times", len(vs))})
	} else if len(vs) == 1 {
		cursor = vs[0]
	}
	if len(fe) > 0 {
		WriteProblem(c, http.StatusBadRequest, "the query is invalid; see errors", fe...)
		return
	}
	u, _ := CurrentUser(c)
	pg, err := h.d.Knowledge.FAQ().List(c.Request.Context(), u, f, cursor, limit)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve}
	}
	if err != nil {
		Error(c, err)
		return
	}
	out := List[ProposalListItem]{Items: make([]ProposalListItem, 0, len(pg.Items)), NextCursor: pg.NextCursor}
	for _, p := range pg.Items {
		out.Items = append(out.Items, proposalListItem(p))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) refreshProposals(c *gin.Context) {
	res, err := h.d.Knowledge.FAQ().Mine(c.Request.Context())
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, MineResultResponse{Tickets: res.Tickets, Groups: res.Groups, Created: res.Created, Reproposed: res.Reproposed,
		Joined: res.Joined, Updated: res.Updated, Covered: res.Covered, Suppressed: res.Suppressed, DrafterErrors: res.DrafterErrors,
		ProposalIDs: nonNil(res.ProposalIDs), DurationMS: res.Duration.Milliseconds()})
}

func (h *handlers) getProposal(c *gin.Context) { h.proposalRes(c).handleGet(c) }

func (h *handlers) updateProposal(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[UpdateProposalRequest](c)
	h.proposalRes(c).update(c, func(ctx context.Context, id int64, version int) (knowledge.Proposal, error) {
		return h.d.Knowledge.FAQ().Update(ctx, u, id, version, req.patch())
	})
}

func (h *handlers) approveProposal(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[ApproveProposalRequest](c)
	h.proposalRes(c).update(c, func(ctx context.Context, id int64, version int) (knowledge.Proposal, error) {
		return h.d.Knowledge.FAQ().Approve(ctx, u, id, version, knowledge.ApproveOptions{Publish: req.Publish, Audience: req.Audience})
	})
}

func (h *handlers) rejectProposal(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[RejectProposalRequest](c)
	h.proposalRes(c).update(c, func(ctx context.Context, id int64, version int) (knowledge.Proposal, error) {
		return h.d.Knowledge.FAQ().Reject(ctx, u, id, version, req.Reason)
	})
}

func (h *handlers) mergeProposal(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[MergeProposalRequest](c)
	h.proposalRes(c).update(c, func(ctx context.Context, id int64, version int) (knowledge.Proposal, error) {
		return h.d.Knowledge.FAQ().Merge(ctx, u, id, version, req.Into)
	})
}

func (h *handlers) attachProposal(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[AttachProposalRequest](c)
	h.proposalRes(c).update(c, func(ctx context.Context, id int64, version int) (knowledge.Proposal, error) {
		return h.d.Knowledge.FAQ().Attach(ctx, u, id, version, req.ArticleID)
	})
}
