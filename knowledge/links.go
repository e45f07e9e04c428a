package knowledge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

// Links are written by package tickets (see tickets/links.go: the resolve
// step links in its own transaction, and tickets may not import this
// package). These methods add what the caller may see of each article.

// TicketArticles lists the links of a ticket actor can see, oldest first.
// Staff see every linked article by its working title; anyone else only
// the published ones they may read, by their published title.
func (s *Service) TicketArticles(ctx context.Context, actor accounts.User, ticketID int64) ([]LinkedArticle, error) {
	links, err := s.tickets.ArticleLinks(ctx, actor, ticketID)
	if err != nil {
		return nil, err
	}
	return s.decorate(ctx, actor, links)
}

func (s *Service) decorate(ctx context.Context, actor accounts.User, links []tickets.Link) ([]LinkedArticle, error) {
	out := make([]LinkedArticle, 0, len(links))
	if len(links) == 0 {
		return out, nil
	}
	ids := make([]int64, 0, len(links))
	for _, l := range links {
		ids = append(ids, l.ArticleID)
	}
	db := s.conn(ctx)
	hits, err := s.hits(ctx, db, actor, ids, nil, "")
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Hit, len(hits))
	for _, h := range hits {
		byID[h.ID] = h
	}
	for _, l := range links {
		h, ok := byID[l.ArticleID]
		if !ok {
			continue // not visible to this caller
		}
		out = append(out, LinkedArticle{Link: l, Title: h.Title, Status: h.Status, Audience: h.Audience})
	}
	return out, nil
}

// Link links article to ticket as kind (see tickets.Service.LinkArticle):
// created is false when the link already existed.
func (s *Service) Link(ctx context.Context, actor accounts.User, ticketID, articleID int64, kind string) (LinkedArticle, bool, error) {
	l, created, err := s.tickets.LinkArticle(ctx, actor, ticketID, articleID, kind)
	if err != nil {
		return LinkedArticle{}, false, err
	}
	la, err := s.decorate(ctx, actor, []tickets.Link{l})
	if err != nil {
		return LinkedArticle{}, false, err
	}
	if len(la) == 0 {
		return LinkedArticle{Link: l}, created, nil
	}
	return la[0], created, nil
}

// Unlink removes a link (every kind when kind is "").
func (s *Service) Unlink(ctx context.Context, actor accounts.User, ticketID, articleID int64, kind string) error {
	return s.tickets.UnlinkArticle(ctx, actor, ticketID, articleID, kind)
}

// prefill fills an article drafted from a ticket: title from the subject,
// body from the description and the resolution note (the resolution field
// of the transition into the ticket's resolved state, kept as that history
// entry's note), category and tags from the ticket. Fields already given
// win. A ticket actor cannot see is a validation error on from_ticket_id.
func (s *Service) prefill(ctx context.Context, actor accounts.User, in *NewArticle) error {
	id := *in.FromTicketID
	badTicket := func() error {
		ve := &accounts.ValidationError{}
		ve.Add("from_ticket_id", fmt.Sprintf("there is no ticket %d that you can see", id))
		return ve
	}
	if id <= 0 {
		return badTicket()
	}
	t, err := s.tickets.Get(ctx, actor, id)
	if errors.Is(err, accounts.ErrNotFound) {
		return badTicket()
	}
	if err != nil {
		return err
	}
	resolution, err := s.resolutionOf(ctx, actor, t)
	if err != nil {
		return err
	}
	if strings.TrimSpace(in.Title) == "" {
		in.Title = t.Subject
	}
	if strings.TrimSpace(in.Body) == "" {
		zh := guessLanguage(t.Subject, t.Description) == LanguageZh
		problem, fix, none := "## Problem", "## Resolution", "_Not resolved yet: describe the fix._"
		if zh {
			problem, fix, none = "## 问题", "## 解决方法", "_尚未解决：请补充解决方法。_"
		}
		desc := strings.TrimSpace(t.Description)
		if desc == "" {
			desc = t.Subject
		}
		if resolution == "" {
			resolution = none
		}
		in.Body = problem + "\n\n" + desc + "\n\n" + fix + "\n\n" + resolution + "\n"
	}
	if in.Category == "" {
		in.Category = t.Category
	}
	if in.Tags == nil {
		in.Tags = t.Tags
	}
	return nil
}

// resolutionOf returns the resolution note of the ticket's latest move
// into a resolved-category state ("" if none), without the "no article
// linked" line the tickets service may append.
func (s *Service) resolutionOf(ctx context.Context, actor accounts.User, t tickets.Ticket) (string, error) {
	hist, err := s.tickets.History(ctx, actor, t.ID)
	if err != nil {
		return "", err
	}
	def, err := s.tickets.GetWorkflow(ctx, t.Type, t.WorkflowVersion)
	if err != nil {
		return "", err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Kind != tickets.KindState {
			continue
		}
		st, ok := def.State(h.To)
		if !ok || st.Category != workflow.CategoryResolved {
			continue
		}
		var keep []string
		for _, line := range strings.Split(h.Note, "\n") {
			if !strings.HasPrefix(line, "no article linked: ") {
				keep = append(keep, line)
			}
		}
		return strings.TrimSpace(strings.Join(keep, "\n")), nil
	}
	return "", nil
}

// fromTicketErr names link errors of a draft by the request's field.
func fromTicketErr(err error) error {
	if errors.Is(err, accounts.ErrNotFound) {
		ve := &accounts.ValidationError{}
		ve.Add("from_ticket_id", "is not a ticket that you can see")
		return ve
	}
	return err
}
