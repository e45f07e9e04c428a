// Package web serves the server-rendered pages. Browsers authenticate with a
// session cookie (HttpOnly, SameSite=Lax) and every form carries a CSRF
// token: the session's own once signed in, a double-submit cookie before.
package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/templates"
	"github.com/loopdesk/loopdesk/tickets"
)

const (
	sessionCookie = "loopdesk_session"
	loginCSRF     = "loopdesk_login_csrf"
	sessionTTL    = 12 * time.Hour
)

// Deps is what the pages need.
type Deps struct {
	Accounts *accounts.Service
	Throttle *accounts.LoginThrottle // nil: no sign-in limits
	// Tickets serves the ticket pages (/tickets...); nil leaves them out.
	Tickets *tickets.Service
	// SLA shows a ticket's clocks to staff; nil leaves the card out.
	SLA *sla.Service
	// Knowledge serves the knowledge base pages (/articles...) and the
	// ticket page's article cards; nil leaves them out.
	Knowledge *knowledge.Service
	// Notify serves the signed-in user's notifications (/notifications)
	// and the header's unread count; nil leaves them out.
	Notify *notify.Service
	Logger *slog.Logger
	// SecureCookies marks cookies Secure; set it when served over HTTPS.
	SecureCookies bool
}

type pages struct {
	Deps
	tmpl *template.Template
}

// Mount adds the page routes to an engine built by api.NewEngine.
func Mount(r *gin.Engine, d Deps) error {
	t, err := templates.Web()
	if err != nil {
		return err
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	p := &pages{Deps: d, tmpl: t}
	g := r.Group("/", securityHeaders)
	g.GET("/login", p.loginForm)
	g.POST("/login", p.login)
	g.POST("/logout", p.requireSession, p.requireCSRF, p.logout)
	g.GET("/", p.requireSession, p.home)
	if d.Tickets != nil {
		p.mountTickets(g)
	}
	if d.Knowledge != nil {
		p.mountKnowledge(g)
		if d.Knowledge.FAQ() != nil {
			p.mountFAQ(g)
		}
	}
	if d.Notify != nil {
		p.mountNotifications(g)
	}
	return nil
}

// view is the data every page template gets.
type view struct {
	Title, Lang, Error, CSRF, Email, Next string
	User                                  *accounts.User
	Departments                           []accounts.Department
	// Nav names the current header link ("tickets", "new", "articles",
	// "faq", "notifications"); NavTickets, NavNewTicket, NavKnowledge and NavFAQ say which
	// links the user gets (set by render).
	Nav                                            string
	NavTickets, NavNewTicket, NavKnowledge, NavFAQ bool
	// NavNotify shows the Notifications link, NavUnread its unread count
	// ("" when none).
	NavNotify bool
	NavUnread string
	// Page is the page's own data (see tickets.go).
	Page any
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Next()
}

func (p *pages) render(c *gin.Context, status int, name string, v view) {
	if v.Lang == "" {
		v.Lang = "en"
		if v.User != nil && v.User.Locale == "zh" {
			v.Lang = "zh"
		}
	}
	if v.User != nil && p.Tickets != nil {
		v.NavTickets = v.User.Can(accounts.PermTicketsRead)
		v.NavNewTicket = v.User.Can(accounts.PermTicketsCreate)
	}
	if v.User != nil && p.Knowledge != nil {
		v.NavKnowledge = v.User.Can(accounts.PermArticlesRead)
		v.NavFAQ = v.User.Can(accounts.PermFAQReview) && p.Knowledge.FAQ() != nil
	}
	if v.User != nil && p.Notify != nil && !v.NavNotify {
		v.NavNotify, v.NavUnread = true, p.unreadLabel(c, v.User.ID)
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := p.tmpl.ExecuteTemplate(c.Writer, name, v); err != nil {
		p.Logger.ErrorContext(c.Request.Context(), "render page", "template", name, "err", err)
	}
}

func (p *pages) loginForm(c *gin.Context) {
	p.render(c, http.StatusOK, "login.html", view{Title: "Sign in", CSRF: p.loginToken(c), Next: safeNext(c.Query("next"))})
}

// loginToken returns the pre-session CSRF token, setting its cookie if needed.
func (p *pages) loginToken(c *gin.Context) string {
	if v, err := c.Cookie(loginCSRF); err == nil && len(v) == 43 {
		return v
	}
	tok := randomToken()
	p.setCookie(c, loginCSRF, tok, 0)
	return tok
}

func (p *pages) login(c *gin.Context) {
	ctx := c.Request.Context()
	email := strings.TrimSpace(c.PostForm("email"))
	next := safeNext(c.PostForm("next"))
	fail := func(status int, msg string) {
		p.render(c, status, "login.html", view{Title: "Sign in", Error: msg, CSRF: p.loginToken(c), Email: email, Next: next})
	}
	cookieTok, _ := c.Cookie(loginCSRF)
	if cookieTok == "" || !equal(cookieTok, c.PostForm("csrf_token")) {
		fail(http.StatusForbidden, "Your sign-in form expired. Please try again.")
		return
	}
	var tooMany *accounts.TooManyAttemptsError
	switch err := p.Throttle.Attempt(ctx, email, c.ClientIP()); {
	case errors.As(err, &tooMany):
		c.Header("Retry-After", strconv.Itoa(tooMany.Seconds()))
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", tooMany.Seconds()))
		return
	case err != nil:
		p.Logger.ErrorContext(ctx, "login throttle", "err", err)
		fail(http.StatusServiceUnavailable, "Sign-in is briefly unavailable. Please try again in a few seconds.")
		return
	}
	u, err := p.Accounts.Authenticate(ctx, email, c.PostForm("password"))
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		fail(http.StatusUnauthorized, "Email or password is wrong.")
		return
	case errors.Is(err, accounts.ErrInactive):
		fail(http.StatusForbidden, "This account is deactivated. Ask an administrator.")
		return
	case err != nil:
		p.Logger.ErrorContext(ctx, "login", "err", err)
		fail(http.StatusInternalServerError, "Sign-in failed because of a server error. Please try again.")
		return
	}
	sid, _, err := p.Accounts.CreateSession(ctx, u.ID)
	if err != nil {
		p.Logger.ErrorContext(ctx, "create session", "err", err)
		fail(http.StatusInternalServerError, "Sign-in failed because of a server error. Please try again.")
		return
	}
	p.Throttle.Succeeded(ctx, email)
	p.setCookie(c, sessionCookie, sid, int(sessionTTL.Seconds()))
	p.setCookie(c, loginCSRF, "", -1)
	c.Redirect(http.StatusSeeOther, next)
}

func (p *pages) logout(c *gin.Context) {
	if sid, err := c.Cookie(sessionCookie); err == nil {
		if err := p.Accounts.DeleteSession(c.Request.Context(), sid); err != nil {
			p.Logger.WarnContext(c.Request.Context(), "delete session", "err", err)
		}
	}
	p.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}

func (p *pages) home(c *gin.Context) {
	u := c.MustGet("web.user").(accounts.User)
	v := view{Title: "Home", User: &u, CSRF: c.GetString("web.csrf")}
	if u.Can("departments:read") {
		deps, err := p.Accounts.ListDepartments(c.Request.Context(), accounts.Page{Limit: 200})
		if err != nil {
			p.Logger.ErrorContext(c.Request.Context(), "list departments", "err", err)
		}
		v.Departments = deps
	}
	if p.Tickets != nil && u.Can(accounts.PermTicketsRead) {
		v.Page = homePage{Queues: p.queueTabs(c.Request.Context(), u, newNames(c.Request.Context(), p.Accounts, p.Logger), "", 0, nil)}
	}
	p.render(c, http.StatusOK, "home.html", v)
}

// requireSession loads the signed-in user or sends the browser to /login.
func (p *pages) requireSession(c *gin.Context) {
	sid, err := c.Cookie(sessionCookie)
	if err == nil && sid != "" {
		u, csrf, err := p.Accounts.SessionUser(c.Request.Context(), sid)
		if err == nil {
			c.Set("web.user", u)
			c.Set("web.csrf", csrf)
			c.Next()
			return
		}
		if !errors.Is(err, accounts.ErrNotFound) && !errors.Is(err, accounts.ErrInactive) {
			p.Logger.ErrorContext(c.Request.Context(), "load session", "err", err)
		}
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

func (p *pages) requireCSRF(c *gin.Context) {
	if !equal(c.GetString("web.csrf"), c.PostForm("csrf_token")) {
		p.render(c, http.StatusForbidden, "error.html", view{Title: "Form expired", Error: "This form expired or came from another site. Go back, reload the page and try again."})
		c.Abort()
		return
	}
	// Every form's text reaches the database: bytes that are not UTF-8
	// (a hand-made request) would be a database error on MySQL.
	for field, vals := range c.Request.PostForm {
		for _, v := range vals {
			if !utf8.ValidString(field) || !utf8.ValidString(v) {
				p.render(c, http.StatusBadRequest, "error.html", view{Title: "Unreadable text",
					Error: "The form sent text that is not UTF-8. Go back, retype or paste the text again, and send it from this site's page."})
				c.Abort()
				return
			}
		}
	}
	c.Next()
}

func (p *pages) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// safeNext keeps redirects on this site: a path, never "//host" or a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
