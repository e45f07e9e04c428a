package web

// The notifications page: the signed-in user's in-app notifications (SLA
// warnings and breaches), newest first, with "mark read" per item and "mark
// all read". Nobody sees or marks another user's: their ids are a 404, as
// in the API. The header's unread count is one indexed COUNT per page.

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/cursor"
	"github.com/loopdesk/loopdesk/notify"
)

const notificationPageSize = 50

func (p *pages) mountNotifications(g *gin.RouterGroup) {
	g.GET("/notifications", p.requireSession, p.notificationList)
	g.POST("/notifications/read-all", p.requireSession, p.requireCSRF, p.readAllNotifications)
	g.POST("/notifications/:id/read", p.requireSession, p.requireCSRF, p.readNotification)
	g.GET("/notifications/:id/open", p.requireSession, p.openNotification)
}

// unreadLabel is the header's count: "" for none, "99+" past 99. A failure
// only loses the count, never the page.
func (p *pages) unreadLabel(c *gin.Context, userID int64) string {
	n, err := p.Notify.UnreadCount(c.Request.Context(), userID)
	switch {
	case err != nil:
		p.Logger.WarnContext(c.Request.Context(), "count unread notifications", "user_id", userID, "err", err)
		return ""
	case n == 0:
		return ""
	case n > 99:
		return "99+"
	}
	return strconv.FormatInt(n, 10)
}

var notificationKinds = map[string]struct{ Label, Class string }{
	notify.KindSLABreach:  {"SLA breach", "sla-bad"},
	notify.KindSLAWarning: {"SLA warning", "sla-warn"},
}

type notificationRow struct {
	ID                  int64
	Subject, Body       string
	Kind, KindClass     string
	TicketID            int64
	TicketURL           string // "" when the ticket pages are not served
	Created, CreatedISO string
	Unread              bool
	ReadAt, ReadAtISO   string
}

type notificationTab struct {
	Label, URL string
	On         bool
}

type notificationsPage struct {
	Tabs              []notificationTab
	UnreadOnly        bool
	Rows              []notificationRow
	Back              string // this page's URL, where the forms return
	UpTo              int64  // the newest notification when the page was made: "mark all read" stops there
	Unread            bool   // any unread at all: offer "mark all read"
	NextURL, FirstURL string
	Problem, Notice   string
}

var notificationNotices = map[string]string{
	"read":     "Marked as read.",
	"read-all": "All your notifications are marked as read.",
}

func (p *pages) notificationList(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	in := c.Request.URL.Query()
	np := notificationsPage{UnreadOnly: in.Get("unread") == "1", Notice: notificationNotices[in.Get("done")]}
	base := url.Values{}
	if np.UnreadOnly {
		base.Set("unread", "1")
	}
	np.Tabs = []notificationTab{
		{Label: "All", URL: "/notifications", On: !np.UnreadOnly},
		{Label: "Unread", URL: "/notifications?unread=1", On: np.UnreadOnly},
	}
	np.Back = "/notifications"
	if len(in) > 0 {
		q := maps.Clone(in)
		q.Del("done")
		if enc := q.Encode(); enc != "" {
			np.Back += "?" + enc
		}
	}

	code := http.StatusOK
	// The same cursors as the API's list, bound to the filter.
	kind := notify.Filter{UnreadOnly: np.UnreadOnly}.CursorKind()
	after, raw := int64(0), in.Get("cursor")
	if raw != "" {
		id, err := cursor.Decode(kind, raw)
		if err != nil {
			code = http.StatusBadRequest
			np.Problem = "This list cannot be shown: the page link is not valid. Start again from the first page."
		}
		after = id
	}
	var list []notify.Notification
	if np.Problem == "" {
		var err error
		list, err = p.Notify.List(ctx, u.ID, notify.Filter{UnreadOnly: np.UnreadOnly}, accounts.Page{AfterID: after, Limit: notificationPageSize + 1})
		if err != nil {
			p.Logger.ErrorContext(ctx, "list notifications", "user_id", u.ID, "err", err)
			code = http.StatusInternalServerError
			np.Problem = "Your notifications could not be loaded because of a server error. Please try again."
		}
	}
	more := len(list) > notificationPageSize
	if more {
		list = list[:notificationPageSize]
	}
	for _, n := range list {
		k, ok := notificationKinds[n.Kind]
		if !ok {
			k.Label, k.Class = humanize(strings.ReplaceAll(n.Kind, ".", " ")), ""
		}
		row := notificationRow{ID: n.ID, Subject: n.Subject, Body: strings.TrimSpace(n.Body), Kind: k.Label, KindClass: k.Class,
			TicketID: n.TicketID, Created: clock(n.CreatedAt), CreatedISO: isoTime(n.CreatedAt), Unread: n.ReadAt == nil}
		if n.ReadAt != nil {
			row.ReadAt, row.ReadAtISO = clock(*n.ReadAt), isoTime(*n.ReadAt)
		}
		if p.Tickets != nil {
			row.TicketURL = "/tickets/" + strconv.FormatInt(n.TicketID, 10)
			if row.Unread {
				row.TicketURL = "/notifications/" + strconv.FormatInt(n.ID, 10) + "/open"
			}
		}
		np.Rows = append(np.Rows, row)
	}
	if more {
		next := url.Values{"cursor": {cursor.Encode(kind, list[len(list)-1].ID)}}
		if np.UnreadOnly {
			next.Set("unread", "1")
		}
		np.NextURL = "/notifications?" + next.Encode()
	}
	if raw != "" {
		np.FirstURL = "/notifications"
		if len(base) > 0 {
			np.FirstURL += "?" + base.Encode()
		}
	}

	// The header's count, once, also says whether to offer "mark all read".
	// That covers what the person could have seen: up to the newest
	// notification now, not one arriving before the click.
	v := view2(c, u, "Notifications", "notifications", nil)
	v.NavNotify, v.NavUnread = true, p.unreadLabel(c, u.ID)
	if np.Problem == "" && v.NavUnread != "" {
		np.Unread = true
		if raw == "" && len(list) > 0 {
			np.UpTo = list[0].ID
		} else if newest, err := p.Notify.List(ctx, u.ID, notify.Filter{}, accounts.Page{Limit: 1}); err == nil && len(newest) > 0 {
			np.UpTo = newest[0].ID
		}
	}
	v.Page = np
	p.render(c, code, "notifications.html", v)
}

// notificationBack is where a form returns: the list page it came from.
func notificationBack(c *gin.Context, done string) string {
	back := safeNext(c.PostForm("back"))
	if back != "/notifications" && !strings.HasPrefix(back, "/notifications?") {
		back = "/notifications"
	}
	u, err := url.Parse(back)
	if err != nil {
		return "/notifications?done=" + done
	}
	q := u.Query()
	q.Set("done", done)
	return "/notifications?" + q.Encode()
}

func (p *pages) notificationNotFound(c *gin.Context, u accounts.User) {
	v := view2(c, u, "Notification not found", "notifications", nil)
	v.Error = "There is no such notification among yours. Check the link, or go back to your notifications."
	p.render(c, http.StatusNotFound, "error.html", v)
}

func (p *pages) notificationServerError(c *gin.Context, u accounts.User, what string, err error) {
	p.Logger.ErrorContext(c.Request.Context(), what, "user_id", u.ID, "err", err)
	v := view2(c, u, "Error", "notifications", nil)
	v.Error = "Your notifications could not be updated because of a server error. Please try again."
	p.render(c, http.StatusInternalServerError, "error.html", v)
}

// markOwn marks the user's notification :id read; false when it answered.
func (p *pages) markOwn(c *gin.Context, u accounts.User) (notify.Notification, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		p.notificationNotFound(c, u)
		return notify.Notification{}, false
	}
	n, err := p.Notify.MarkRead(c.Request.Context(), u.ID, id)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		p.notificationNotFound(c, u)
		return n, false
	case err != nil:
		p.notificationServerError(c, u, "mark notification read", err)
		return n, false
	}
	return n, true
}

func (p *pages) readNotification(c *gin.Context) {
	u := sessionUser(c)
	if _, ok := p.markOwn(c, u); ok {
		c.Redirect(http.StatusSeeOther, notificationBack(c, "read"))
	}
}

func (p *pages) readAllNotifications(c *gin.Context) {
	u := sessionUser(c)
	upTo, _ := strconv.ParseInt(c.PostForm("up_to"), 10, 64)
	if upTo < 0 {
		upTo = 0
	}
	if _, err := p.Notify.MarkAllRead(c.Request.Context(), u.ID, upTo); err != nil {
		p.notificationServerError(c, u, "mark all notifications read", err)
		return
	}
	c.Redirect(http.StatusSeeOther, notificationBack(c, "read-all"))
}

// openNotification is an unread notification's ticket link: it marks the
// notification read and goes on to the ticket. A link followed from another
// site (Sec-Fetch-Site: cross-site) only goes on, marking nothing.
func (p *pages) openNotification(c *gin.Context) {
	u := sessionUser(c)
	var n notify.Notification
	if c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id < 1 {
			p.notificationNotFound(c, u)
			return
		}
		if n, err = p.Notify.Get(c.Request.Context(), u.ID, id); errors.Is(err, accounts.ErrNotFound) {
			p.notificationNotFound(c, u)
			return
		} else if err != nil {
			p.notificationServerError(c, u, "load notification", err)
			return
		}
	} else {
		var ok bool
		if n, ok = p.markOwn(c, u); !ok {
			return
		}
	}
	if p.Tickets == nil {
		c.Redirect(http.StatusSeeOther, "/notifications")
		return
	}
	c.Redirect(http.StatusSeeOther, "/tickets/"+strconv.FormatInt(n.TicketID, 10))
}
