package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/notify"
)

// Handlers and bodies of /notifications: the caller's own in-app
// notifications (SLA warnings and breaches sent by policy notify actions).
// Any signed-in user has a list; nobody sees another's.

func (h *handlers) notificationRoutes() []route {
	const tag = "notifications"
	return []route{
		{Method: "GET", Path: apiBase + "/notifications", Tag: tag, Summary: "The caller's notifications, newest first",
			Description: "SLA warnings and breaches addressed to the caller by policy notify actions (as assignee, department lead, " +
				"department member, user:<id> or by email address). email_error tells why the copy by email was not sent.",
			Query:    []*Parameter{queryParam("unread", "boolean", false, "true: only those not yet marked read; default all.")},
			Response: NotificationResponse{}, List: true, Paged: true, Status: 200, Handler: h.listNotifications},
		{Method: "POST", Path: apiBase + "/notifications/:id/read", Tag: tag, Resource: "notification", Summary: "Mark one of the caller's notifications read",
			Description: "Marking it again keeps the first read_at. Another user's notification is a 404.",
			Response:    NotificationResponse{}, Status: 200, Handler: h.readNotification},
	}
}

// NotificationResponse is one in-app notification.
type NotificationResponse struct {
	ID            int64      `json:"id"`
	TicketID      int64      `json:"ticket_id"`
	Kind          string     `json:"kind" doc:"what happened, e.g. sla.breach or sla.warning"`
	Subject       string     `json:"subject"`
	Body          string     `json:"body" doc:"plain text"`
	CreatedAt     time.Time  `json:"created_at"`
	ReadAt        *time.Time `json:"read_at" doc:"null while unread"`
	Email         string     `json:"email" doc:"the address the email copy went to"`
	EmailedAt     *time.Time `json:"emailed_at" doc:"when the email copy was accepted by the mail server; null when not sent"`
	EmailError    string     `json:"email_error" doc:"why the email copy failed; empty when sent or when the server sends no email"`
	EmailAttempts int        `json:"email_attempts" doc:"sends of the email copy tried so far (at most 6)"`
	EmailRetryAt  *time.Time `json:"email_retry_at" doc:"when the email copy will be tried again after a failure; null when sent, given up, or not mailed"`
}

func notificationResponse(n notify.Notification) NotificationResponse {
	return NotificationResponse{ID: n.ID, TicketID: n.TicketID, Kind: n.Kind, Subject: n.Subject, Body: n.Body, CreatedAt: n.CreatedAt,
		ReadAt: n.ReadAt, Email: n.Email, EmailedAt: n.EmailedAt, EmailError: n.EmailError,
		EmailAttempts: n.EmailAttempts, EmailRetryAt: n.EmailRetryAt}
}

// notifyReady answers 503 when no notify service is wired.
func (h *handlers) notifyReady(c *gin.Context) bool {
	if h.d.Notify == nil {
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable, "the notification service is not configured on this server")
		return false
	}
	return true
}

func (h *handlers) listNotifications(c *gin.Context) {
	if !h.notifyReady(c) {
		return
	}
	var f notify.Filter
	switch raw := c.Query("unread"); raw {
	case "", "false":
	case "true":
		f.UnreadOnly = true
	default:
		WriteProblem(c, http.StatusBadRequest, "unread must be true or false", FieldError{Field: "unread", Message: "must be true or false"})
		return
	}
	kind := f.CursorKind()
	p, ok := ParsePage(c, kind)
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	page(c, kind, p,
		func(p accounts.Page) ([]notify.Notification, error) {
			return h.d.Notify.List(c.Request.Context(), u.ID, f, p)
		},
		func(n notify.Notification) int64 { return n.ID }, notificationResponse)
}

func (h *handlers) readNotification(c *gin.Context) {
	if !h.notifyReady(c) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	n, err := h.d.Notify.MarkRead(c.Request.Context(), u.ID, id)
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, notificationResponse(n))
}
