package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/tickets"
)

// Handlers of /tickets and its sub-resources. The route table checks the
// static permissions; the tickets domain decides visibility (a ticket the
// caller may not see is a 404) and everything that depends on the ticket.

// ticketRes is the versioned-resource view of tickets for the caller.
func (h *handlers) ticketRes(c *gin.Context) resource[tickets.Ticket] {
	u, _ := CurrentUser(c)
	return resource[tickets.Ticket]{path: "tickets",
		get: func(ctx context.Context, id int64) (tickets.Ticket, error) { return h.d.Tickets.Get(ctx, u, id) },
		id:  func(t tickets.Ticket) int64 { return t.ID }, version: func(t tickets.Ticket) int { return t.Version },
		renderCtx: func(ctx context.Context, t tickets.Ticket) (any, error) { return h.ticketWithSLA(ctx, u, t) }}
}

func (h *handlers) listTickets(c *gin.Context) {
	q, detail, fe := parseTicketQuery(c.Request.URL.Query())
	if fe != nil {
		WriteProblem(c, http.StatusBadRequest, detail, fe...)
		return
	}
	u, _ := CurrentUser(c)
	pg, err := h.d.Tickets.List(c.Request.Context(), u, q.Filter, q.Cursor, q.Limit)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve} // a filter or cursor of the URL, not a body field
	}
	if err != nil {
		Error(c, err)
		return
	}
	out := List[TicketResponse]{Items: make([]TicketResponse, 0, len(pg.Items)), NextCursor: pg.NextCursor}
	for _, t := range pg.Items {
		out.Items = append(out.Items, ticketResponse(t))
	}
	if err := h.withSLA(c.Request.Context(), u, out.Items); err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createTicket(c *gin.Context) {
	u, _ := CurrentUser(c)
	t, err := h.d.Tickets.Create(c.Request.Context(), u, bodyOf[CreateTicketRequest](c).input())
	h.ticketRes(c).created(c, t, err)
}

func (h *handlers) getTicket(c *gin.Context) { h.ticketRes(c).handleGet(c) }

func (h *handlers) updateTicket(c *gin.Context) {
	u, _ := CurrentUser(c)
	h.ticketRes(c).update(c, func(ctx context.Context, id int64, version int) (tickets.Ticket, error) {
		return h.d.Tickets.Update(ctx, u, id, version, bodyOf[UpdateTicketRequest](c).patch())
	})
}

func (h *handlers) listComments(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	cms, err := h.d.Tickets.Comments(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[CommentResponse]{Items: make([]CommentResponse, 0, len(cms))}
	for _, cm := range cms {
		out.Items = append(out.Items, commentResponse(cm))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createComment(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	req := bodyOf[CreateCommentRequest](c)
	cm, err := h.d.Tickets.AddComment(c.Request.Context(), u, id, tickets.NewComment{Body: req.Body, Internal: req.Internal})
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusCreated, commentResponse(cm))
}

func (h *handlers) listTransitions(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	opts, t, err := h.d.Tickets.Transitions(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := TransitionsResponse{State: t.Status, StatusCategory: t.StatusCategory, Version: t.Version,
		Items: make([]TransitionOption, 0, len(opts))}
	for _, o := range opts {
		out.Items = append(out.Items, TransitionOption{Event: o.Event, Label: o.Label, To: o.To, RequireFields: nonNil(o.RequireFields)})
	}
	SetETag(c, t.Version)
	JSON(c, http.StatusOK, out)
}

func (h *handlers) fireTransition(c *gin.Context) {
	u, _ := CurrentUser(c)
	req := bodyOf[TransitionRequest](c)
	h.ticketRes(c).update(c, func(ctx context.Context, id int64, version int) (tickets.Ticket, error) {
		return h.d.Tickets.Fire(ctx, u, id, version, tickets.Transition{Event: req.Event, Comment: req.Comment, Fields: req.Fields})
	})
}

func (h *handlers) listEscalations(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	escs, err := h.d.Tickets.Escalations(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[EscalationResponse]{Items: make([]EscalationResponse, 0, len(escs))}
	for _, e := range escs {
		out.Items = append(out.Items, escalationResponse(e))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createEscalation(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	version, ok := IfMatch(c)
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	ctx := c.Request.Context()
	esc, t, err := h.d.Tickets.Escalate(ctx, u, id, version, bodyOf[CreateEscalationRequest](c).input())
	if err != nil {
		Error(c, h.ticketRes(c).conflict(ctx, id, err))
		return
	}
	tr, err := h.ticketWithSLA(ctx, u, t)
	if err != nil {
		Error(c, err)
		return
	}
	SetETag(c, t.Version)
	JSON(c, http.StatusCreated, EscalatedResponse{Escalation: escalationResponse(esc), Ticket: tr})
}

func (h *handlers) ticketHistory(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	entries, err := h.d.Tickets.History(c.Request.Context(), u, id)
	if err != nil {
		Error(c, err)
		return
	}
	out := List[HistoryEntryResponse]{Items: make([]HistoryEntryResponse, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, historyResponse(e))
	}
	JSON(c, http.StatusOK, out)
}

// transitionField names a field a transition lacks the way the client
// sends it: inside "fields", except the comment, which the request carries
// at the top (the domain hands it to guards as the field "comment").
func transitionField(name string) string {
	if name == "comment" {
		return "comment"
	}
	return "fields." + name
}
