package web

// Ticket pages: queues, the new-ticket form, the ticket page and its forms
// (reply, transitions, escalation). Every change is a CSRF-checked POST that
// redirects back (303) on success and re-renders the page with a readable
// message and a 4xx status when the domain refuses it. Templates get only
// display-ready values (names resolved, times formatted) because the shared
// template set is parsed without custom functions.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/workflow"
)

const queuePageSize = 50

func (p *pages) mountTickets(g *gin.RouterGroup) {
	g.GET("/tickets", p.requireSession, p.ticketList)
	g.GET("/tickets/new", p.requireSession, p.newTicketForm)
	g.POST("/tickets", p.requireSession, p.requireCSRF, p.createTicket)
	g.GET("/tickets/:id", p.requireSession, p.showTicket)
	g.POST("/tickets/:id/comments", p.requireSession, p.requireCSRF, p.addComment)
	g.POST("/tickets/:id/transitions", p.requireSession, p.requireCSRF, p.fireTransition)
	g.POST("/tickets/:id/escalations", p.requireSession, p.requireCSRF, p.escalate)
}

// option is one <option> of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

func options(selected string, pairs ...string) []option {
	out := make([]option, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == selected})
	}
	return out
}

func sessionUser(c *gin.Context) accounts.User { return c.MustGet("web.user").(accounts.User) }

// names resolves user and department ids to display names, once per request.
type names struct {
	ctx   context.Context
	acc   *accounts.Service
	log   *slog.Logger
	users map[int64]string
	depts []accounts.Department
	byID  map[int64]string
	wfs   map[string]*workflow.Definition
}

func newNames(ctx context.Context, acc *accounts.Service, log *slog.Logger) *names {
	return &names{ctx: ctx, acc: acc, log: log, users: map[int64]string{}}
}

func (n *names) user(id int64) string {
	if name, ok := n.users[id]; ok {
		return name
	}
	name := fmt.Sprintf("User #%d", id)
	u, err := n.acc.GetUser(n.ctx, id)
	switch {
	case err == nil && u.Name != "":
		name = u.Name
	case err == nil:
		name = u.Email
	case !errors.Is(err, accounts.ErrNotFound):
		n.log.ErrorContext(n.ctx, "resolve user name", "user_id", id, "err", err)
	}
	n.users[id] = name
	return name
}

func (n *names) userOr(id *int64, none string) string {
	if id == nil {
		return none
	}
	return n.user(*id)
}

// departments lists every department (loaded once).
func (n *names) departments() []accounts.Department {
	if n.byID != nil {
		return n.depts
	}
	n.byID = map[int64]string{}
	var after int64
	for {
		page, err := n.acc.ListDepartments(n.ctx, accounts.Page{AfterID: after, Limit: 200})
		if err != nil {
			n.log.ErrorContext(n.ctx, "list departments", "err", err)
			break
		}
		for _, d := range page {
			n.depts = append(n.depts, d)
			n.byID[d.ID] = d.Name
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].ID
	}
	return n.depts
}

func (n *names) dept(id int64) string {
	n.departments()
	if name, ok := n.byID[id]; ok {
		return name
	}
	return fmt.Sprintf("Department #%d", id)
}

func (n *names) deptOr(id *int64, none string) string {
	if id == nil {
		return none
	}
	return n.dept(*id)
}

// workflowOf returns the pinned definition of t, nil when it cannot be had.
func (n *names) workflowOf(svc *tickets.Service, key string, version int) *workflow.Definition {
	k := key + "@" + strconv.Itoa(version)
	if d, ok := n.wfs[k]; ok {
		return d
	}
	if n.wfs == nil {
		n.wfs = map[string]*workflow.Definition{}
	}
	d, err := svc.GetWorkflow(n.ctx, key, version)
	if err != nil {
		n.log.WarnContext(n.ctx, "load workflow for labels", "key", key, "version", version, "err", err)
		d = nil
	}
	n.wfs[k] = d
	return d
}

func (n *names) stateLabel(svc *tickets.Service, key string, version int, state string) string {
	if st, ok := n.workflowOf(svc, key, version).State(state); ok && st.Label != "" {
		return st.Label
	}
	return humanize(state)
}

// humanize turns "no_article_reason" into "No article reason".
func humanize(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ---- queues ----------------------------------------------------------------

type queueTab struct {
	Label, URL string
	Active     bool
}

type ticketRow struct {
	ID                                       int64
	Subject, Status, Category, Priority      string
	Department, Assignee, Requester          string
	Updated, UpdatedISO, Created, CreatedISO string
}

type queuePage struct {
	Tabs                                []queueTab
	View, Dept, Q                       string
	Statuses, Priorities, Sorts         []option
	Rows                                []ticketRow
	NextURL, FirstURL, Heading, Problem string
}

type homePage struct{ Queues []queueTab }

// queueViews are the tabs the user gets, in order.
func isStaff(u accounts.User) bool {
	return u.Can(accounts.PermTicketsWrite) || u.Can(accounts.PermTicketsReadAll)
}

func defaultView(u accounts.User) string {
	switch {
	case u.Can(accounts.PermTicketsWrite):
		return "mine"
	case u.Can(accounts.PermTicketsReadAll):
		return "all"
	}
	return "requested"
}

// allowedView reports whether the user may open view (dept for dept views).
func allowedView(u accounts.User, view string, dept int64) bool {
	switch view {
	case "mine", "unassigned":
		return u.Can(accounts.PermTicketsWrite)
	case "all":
		return u.Can(accounts.PermTicketsReadAll)
	case "dept":
		return dept > 0 && isStaff(u) && (slices.Contains(u.DepartmentIDs, dept) || u.Can(accounts.PermTicketsReadAll))
	case "requested":
		return u.Can(accounts.PermTicketsRead)
	}
	return false
}

// queueTabs lists the user's queues; keep carries filters across tabs.
func (p *pages) queueTabs(ctx context.Context, u accounts.User, n *names, active string, activeDept int64, keep url.Values) []queueTab {
	link := func(view string, dept int64) string {
		q := url.Values{}
		for _, k := range []string{"status", "priority", "sort"} {
			if v := keep.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		q.Set("view", view)
		if dept > 0 {
			q.Set("dept", strconv.FormatInt(dept, 10))
		}
		return "/tickets?" + q.Encode()
	}
	var tabs []queueTab
	add := func(view string, dept int64, label string) {
		if allowedView(u, view, dept) {
			tabs = append(tabs, queueTab{Label: label, URL: link(view, dept), Active: view == active && dept == activeDept})
		}
	}
	add("mine", 0, "My tickets")
	for _, d := range u.DepartmentIDs {
		add("dept", d, n.dept(d))
	}
	if active == "dept" && !slices.Contains(u.DepartmentIDs, activeDept) {
		add("dept", activeDept, n.dept(activeDept))
	}
	add("unassigned", 0, "Unassigned")
	add("all", 0, "All tickets")
	add("requested", 0, "Requested by me")
	return tabs
}

var statusFilters = []string{
	"unsolved", "Unsolved (new, open, pending)",
	"any", "Any status",
	string(workflow.CategoryNew), "New",
	string(workflow.CategoryOpen), "Open",
	string(workflow.CategoryPending), "Pending",
	string(workflow.CategoryResolved), "Resolved",
	string(workflow.CategoryClosed), "Closed",
}

var sortChoices = []string{
	"newest", "Newest first",
	"oldest", "Oldest first",
	"updated", "Recently updated",
	"priority", "Priority",
}

func validChoice(v string, pairs []string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == v {
			return true
		}
	}
	return false
}

func (p *pages) ticketList(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !u.Can(accounts.PermTicketsRead) {
		p.forbiddenPage(c, u, "Your roles do not include reading tickets.")
		return
	}
	n := newNames(ctx, p.Accounts, p.Logger)
	in := c.Request.URL.Query()

	view := in.Get("view")
	dept, _ := strconv.ParseInt(in.Get("dept"), 10, 64)
	if !allowedView(u, view, dept) {
		view, dept = defaultView(u), 0
	}
	if view != "dept" {
		dept = 0
	}
	q := strings.TrimSpace(in.Get("q"))
	status := in.Get("status")
	if !validChoice(status, statusFilters) {
		status = "unsolved"
		if q != "" || view == "requested" {
			status = "any"
		}
	}
	priority := in.Get("priority")
	if !slices.Contains(tickets.Priorities, priority) {
		priority = ""
	}
	sort := in.Get("sort")
	if !validChoice(sort, sortChoices) {
		sort = "newest"
	}

	f := tickets.Filter{Q: q, Sort: sort}
	switch view {
	case "mine":
		f.AssigneeID = &u.ID
	case "dept":
		f.DepartmentID = &dept
	case "unassigned":
		f.Unassigned = true
	case "requested":
		f.RequesterID = &u.ID
	}
	switch status {
	case "any":
	case "unsolved":
		f.StatusCategory = []workflow.Category{workflow.CategoryNew, workflow.CategoryOpen, workflow.CategoryPending}
	default:
		f.StatusCategory = []workflow.Category{workflow.Category(status)}
	}
	if priority != "" {
		f.Priority = []string{priority}
	}

	keep := url.Values{}
	keep.Set("status", status)
	if priority != "" {
		keep.Set("priority", priority)
	}
	keep.Set("sort", sort)
	qp := queuePage{
		Tabs:       p.queueTabs(ctx, u, n, view, dept, keep),
		View:       view,
		Q:          q,
		Statuses:   options(status, statusFilters...),
		Priorities: options(priority, append([]string{"", "Any priority"}, "P1", "P1 · urgent", "P2", "P2 · high", "P3", "P3 · normal", "P4", "P4 · low")...),
		Sorts:      options(sort, sortChoices...),
	}
	if dept > 0 {
		qp.Dept = strconv.FormatInt(dept, 10)
	}
	for _, t := range qp.Tabs {
		if t.Active {
			qp.Heading = t.Label
		}
	}

	cursor := in.Get("cursor")
	status2 := http.StatusOK
	page, err := p.Tickets.List(ctx, u, f, cursor, queuePageSize)
	var ve *accounts.ValidationError
	switch {
	case errors.As(err, &ve):
		status2 = http.StatusBadRequest
		qp.Problem = "This list cannot be shown: " + fieldSummary(ve) + ". Start again from the first page."
	case err != nil:
		p.Logger.ErrorContext(ctx, "list tickets", "err", err)
		status2 = http.StatusInternalServerError
		qp.Problem = "The tickets could not be loaded because of a server error. Please try again."
	}
	for _, t := range page.Items {
		qp.Rows = append(qp.Rows, ticketRow{
			ID: t.ID, Subject: t.Subject,
			Status:     n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, t.Status),
			Category:   string(t.StatusCategory),
			Priority:   t.Priority,
			Department: n.deptOr(t.DepartmentID, "—"),
			Assignee:   n.userOr(t.AssigneeID, "—"),
			Requester:  n.user(t.RequesterID),
			Updated:    clock(t.UpdatedAt), UpdatedISO: isoTime(t.UpdatedAt),
			Created: clock(t.CreatedAt), CreatedISO: isoTime(t.CreatedAt),
		})
	}
	base := url.Values{}
	for k, v := range keep {
		base[k] = v
	}
	base.Set("view", view)
	if qp.Dept != "" {
		base.Set("dept", qp.Dept)
	}
	if q != "" {
		base.Set("q", q)
	}
	if page.NextCursor != "" {
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("cursor", page.NextCursor)
		qp.NextURL = "/tickets?" + next.Encode()
	}
	if cursor != "" {
		qp.FirstURL = "/tickets?" + base.Encode()
	}
	p.render(c, status2, "tickets.html", view2(c, u, "Tickets", "tickets", qp))
}

func view2(c *gin.Context, u accounts.User, title, nav string, page any) view {
	return view{Title: title, User: &u, CSRF: c.GetString("web.csrf"), Nav: nav, Page: page}
}

func (p *pages) forbiddenPage(c *gin.Context, u accounts.User, msg string) {
	v := view2(c, u, "Not allowed", "", nil)
	v.Error = msg
	p.render(c, http.StatusForbidden, "error.html", v)
}

func (p *pages) notFoundPage(c *gin.Context, u accounts.User) {
	v := view2(c, u, "Ticket not found", "tickets", nil)
	v.Error = "There is no such ticket, or you may not see it. Check the link, or go back to your queues."
	p.render(c, http.StatusNotFound, "error.html", v)
}

func fieldSummary(ve *accounts.ValidationError) string {
	parts := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		parts[i] = fieldMessage(baseField(f.Field), f.Message)
	}
	return strings.Join(parts, "; ")
}

// baseField maps "tags[2]" or "fields.resolution" to the form field name.
func baseField(f string) string {
	f = strings.ToLower(strings.TrimSpace(f))
	if i := strings.IndexByte(f, '['); i >= 0 {
		f = f[:i]
	}
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		f = f[i+1:]
	}
	return f
}

// ---- new ticket --------------------------------------------------------------

type newTicketPage struct {
	Subject, Description, Category, Tags string
	Priorities, Types, Departments       []option
	ShowDepartment                       bool
	Errors                               map[string]string
	Other                                []string
}

var newTicketFields = []string{"subject", "description", "priority", "type", "category", "tags", "department_id"}

func (p *pages) newTicketPage(ctx context.Context, u accounts.User, n *names, in url.Values) newTicketPage {
	priority := in.Get("priority")
	if priority == "" {
		priority = "P3"
	}
	typ := in.Get("type")
	if typ == "" {
		typ = "support"
	}
	np := newTicketPage{
		Subject: in.Get("subject"), Description: in.Get("description"),
		Category: in.Get("category"), Tags: in.Get("tags"),
		Priorities:     options(priority, "P1", "P1 · urgent", "P2", "P2 · high", "P3", "P3 · normal", "P4", "P4 · low"),
		ShowDepartment: isStaff(u),
		Errors:         map[string]string{},
	}
	wfs, err := p.Tickets.ListWorkflows(ctx)
	if err != nil {
		p.Logger.WarnContext(ctx, "list workflows for the new-ticket form", "err", err)
	}
	for _, w := range wfs {
		if w.Key == "article" || strings.HasPrefix(w.Key, "article_") {
			continue
		}
		label := w.Name
		if label == "" {
			label = humanize(w.Key)
		}
		np.Types = append(np.Types, option{Value: w.Key, Label: label, Selected: w.Key == typ})
	}
	if len(np.Types) == 0 {
		np.Types = options(typ, "support", "Support request", "change_request", "Change request")
	}
	if np.ShowDepartment {
		sel := in.Get("department_id")
		np.Departments = []option{{Value: "", Label: "None (front line)", Selected: sel == ""}}
		for _, d := range n.departments() {
			id := strconv.FormatInt(d.ID, 10)
			np.Departments = append(np.Departments, option{Value: id, Label: d.Name, Selected: id == sel})
		}
	}
	return np
}

func (p *pages) newTicketForm(c *gin.Context) {
	u := sessionUser(c)
	if !u.Can(accounts.PermTicketsCreate) {
		p.forbiddenPage(c, u, "Your roles do not include opening tickets.")
		return
	}
	ctx := c.Request.Context()
	np := p.newTicketPage(ctx, u, newNames(ctx, p.Accounts, p.Logger), url.Values{})
	p.render(c, http.StatusOK, "ticket_new.html", view2(c, u, "New ticket", "new", np))
}

// splitTags accepts Latin and full-width commas.
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' }) {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (p *pages) createTicket(c *gin.Context) {
	ctx := c.Request.Context()
	u := sessionUser(c)
	if !u.Can(accounts.PermTicketsCreate) {
		p.forbiddenPage(c, u, "Your roles do not include opening tickets.")
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		p.forbiddenPage(c, u, "The form could not be read.")
		return
	}
	form := c.Request.PostForm
	in := tickets.NewTicket{
		Subject:     strings.TrimSpace(form.Get("subject")),
		Description: form.Get("description"),
		Priority:    form.Get("priority"),
		Type:        form.Get("type"),
		Category:    strings.TrimSpace(form.Get("category")),
		Tags:        splitTags(form.Get("tags")),
		Channel:     "web",
	}
	local := &accounts.ValidationError{}
	if isStaff(u) {
		if v := form.Get("department_id"); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				local.Add("department_id", "choose a department from the list")
			} else {
				in.DepartmentID = &id
			}
		}
	}
	err := local.Err()
	var t tickets.Ticket
	if err == nil {
		t, err = p.Tickets.Create(ctx, u, in)
	}
	if err == nil {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=created", t.ID))
		return
	}
	np := p.newTicketPage(ctx, u, newNames(ctx, p.Accounts, p.Logger), form)
	status := http.StatusUnprocessableEntity
	var ve *accounts.ValidationError
	var fe *tickets.ForbiddenError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			name := baseField(f.Field)
			if !slices.Contains(newTicketFields, name) {
				np.Other = append(np.Other, fieldMessage(name, f.Message))
				continue
			}
			label := name
			if name == "department_id" {
				label = "department"
			}
			msg := fieldMessage(label, f.Message)
			if prev := np.Errors[name]; prev != "" {
				msg = prev + "; " + msg
			}
			np.Errors[name] = msg
		}
	case errors.As(err, &fe), errors.Is(err, tickets.ErrForbidden):
		status = http.StatusForbidden
		np.Other = append(np.Other, "You may not open this ticket: "+err.Error()+".")
	default:
		p.Logger.ErrorContext(ctx, "create ticket", "err", err)
		status = http.StatusInternalServerError
		np.Other = append(np.Other, "The ticket could not be saved because of a server error. Your text is still below; please try again.")
	}
	p.render(c, status, "ticket_new.html", view2(c, u, "New ticket", "new", np))
}

// ---- ticket page ---------------------------------------------------------------

type commentView struct {
	ID                  int64
	Author, When, ISO   string
	Body                string
	Internal, Requester bool
}

type fieldInput struct {
	Name, Label, Value string
	Multiline          bool
	Optional           bool   // not required by the form itself
	Hint               string // shown under the input
}

type eventForm struct {
	Event, Label, To string
	Fields           []fieldInput
	// Articles is the article choice (field article_id) of an event that
	// asks for a knowledge article (resolve); nil: no choice offered.
	Articles []option
}

type historyView struct {
	Who, When, ISO, What, From, To, Note string
}

type ticketPage struct {
	T                                         tickets.Ticket
	Status, Type, Department, Assignee        string
	Requester, Created, CreatedISO, Updated   string
	UpdatedISO, Resolved, ResolvedISO, Closed string
	Comments                                  []commentView
	Events                                    []eventForm
	CanReply, CanInternal, CanEscalate        bool
	Reply                                     string
	ReplyInternal                             bool
	EscKinds, EscDepartments                  []option
	EscReason                                 string
	History                                   []historyView
	SLA                                       []slaView
	KB                                        *ticketKnowledge // nil: no knowledge cards
	Notice, Flash                             string
	FlashDetails                              []string
	Conflict                                  bool
}

// formState is what a refused form carried, so the page shows it again.
type formState struct {
	Event         string
	Fields        map[string]string
	Reply         string
	ReplyInternal bool
	EscKind       string
	EscDept       string
	EscReason     string
}

var notices = map[string]string{
	"created":   "Ticket created. We will reply here; you can add details below at any time.",
	"reply":     "Reply posted.",
	"note":      "Internal note added (only staff can see it).",
	"event":     "Ticket updated.",
	"escalated": "Ticket escalated.",
	"linked":    "Article linked to this ticket.",
	"unlinked":  "Article unlinked from this ticket.",
}

var fieldLabels = map[string]string{
	"resolution":        "Resolution (what solved it)",
	"no_article_reason": "Why no knowledge article applies",
	"reason":            "Reason",
	"comment":           "Comment",
	"article_id":        "Knowledge article",
}

func multiline(field string) bool {
	switch field {
	case "resolution", "comment", "description", "note", "answer":
		return true
	}
	return false
}

func ticketID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

func (p *pages) showTicket(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	notice := notices[c.Query("done")]
	p.renderTicket(c, u, id, http.StatusOK, func(tp *ticketPage) { tp.Notice = notice }, formState{})
}

// renderTicket loads the ticket page fresh and renders it with status;
// decorate adds the message of a refused form.
func (p *pages) renderTicket(c *gin.Context, u accounts.User, id int64, status int, decorate func(*ticketPage), fs formState) {
	ctx := c.Request.Context()
	n := newNames(ctx, p.Accounts, p.Logger)
	tp, err := p.loadTicketPage(ctx, u, n, id, fs)
	if errors.Is(err, accounts.ErrNotFound) {
		p.notFoundPage(c, u)
		return
	}
	if err != nil {
		p.Logger.ErrorContext(ctx, "load ticket page", "ticket_id", id, "err", err)
		v := view2(c, u, "Error", "tickets", nil)
		v.Error = "The ticket could not be loaded because of a server error. Please try again."
		p.render(c, http.StatusInternalServerError, "error.html", v)
		return
	}
	if decorate != nil {
		decorate(tp)
	}
	p.render(c, status, "ticket.html", view2(c, u, fmt.Sprintf("#%d %s", tp.T.ID, tp.T.Subject), "tickets", tp))
}

func (p *pages) loadTicketPage(ctx context.Context, u accounts.User, n *names, id int64, fs formState) (*ticketPage, error) {
	t, err := p.Tickets.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	opts, t2, err := p.Tickets.Transitions(ctx, u, id)
	switch {
	case err == nil:
		t = t2 // the version the event forms carry matches what is shown
	case errors.Is(err, accounts.ErrNotFound):
		return nil, err
	default:
		if !errors.Is(err, tickets.ErrForbidden) {
			p.Logger.WarnContext(ctx, "list transitions", "ticket_id", id, "err", err)
		}
		opts = nil
	}
	wf := n.workflowOf(p.Tickets, t.Type, t.WorkflowVersion)
	tp := &ticketPage{
		T:          t,
		Status:     n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, t.Status),
		Type:       humanize(t.Type),
		Department: n.deptOr(t.DepartmentID, "None (front line)"),
		Assignee:   n.userOr(t.AssigneeID, "Unassigned"),
		Requester:  n.user(t.RequesterID),
		Created:    clock(t.CreatedAt), CreatedISO: isoTime(t.CreatedAt),
		Updated: clock(t.UpdatedAt), UpdatedISO: isoTime(t.UpdatedAt),
		CanReply:      u.Can(accounts.PermCommentsCreate),
		CanInternal:   u.Can(accounts.PermCommentsInternal),
		CanEscalate:   u.Can(accounts.PermTicketsEscalate),
		Reply:         fs.Reply,
		ReplyInternal: fs.ReplyInternal,
		EscReason:     fs.EscReason,
	}
	if wf != nil && wf.Name != "" {
		tp.Type = wf.Name
	}
	if t.ResolvedAt != nil {
		tp.Resolved, tp.ResolvedISO = clock(*t.ResolvedAt), isoTime(*t.ResolvedAt)
	}
	if t.ClosedAt != nil {
		tp.Closed = clock(*t.ClosedAt)
	}

	for _, o := range opts {
		if o.Event == tickets.EventEscalate && tp.CanEscalate {
			continue // the escalation form records it properly (and fires it)
		}
		ef := eventForm{Event: o.Event, Label: o.Label, To: n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, o.To)}
		if ef.Label == "" {
			ef.Label = humanize(o.Event)
		}
		for _, f := range o.RequireFields {
			in := fieldInput{Name: f, Label: fieldLabels[f], Multiline: multiline(f)}
			if in.Label == "" {
				in.Label = humanize(f)
			}
			if fs.Event == o.Event {
				in.Value = fs.Fields[f]
			}
			ef.Fields = append(ef.Fields, in)
		}
		tp.Events = append(tp.Events, ef)
	}

	comments, err := p.Tickets.Comments(ctx, u, id)
	if err != nil && !errors.Is(err, tickets.ErrForbidden) {
		return nil, err
	}
	for _, cm := range comments {
		tp.Comments = append(tp.Comments, commentView{
			ID: cm.ID, Author: n.user(cm.AuthorID), When: clock(cm.CreatedAt), ISO: isoTime(cm.CreatedAt),
			Body: cm.Body, Internal: cm.Internal, Requester: cm.AuthorID == t.RequesterID,
		})
	}

	if tp.CanEscalate {
		kind := fs.EscKind
		if kind == "" {
			kind = tickets.EscalationFunctional
		}
		tp.EscKinds = options(kind,
			tickets.EscalationFunctional, "Functional (to a department)",
			tickets.EscalationHierarchical, "Hierarchical (to the lead)")
		tp.EscDepartments = []option{{Value: "", Label: "The ticket's own department (hierarchical)", Selected: fs.EscDept == ""}}
		var tiers []int
		for _, d := range n.departments() {
			if d.Tier > 0 && !slices.Contains(tiers, d.Tier) {
				tiers = append(tiers, d.Tier)
			}
		}
		slices.Sort(tiers)
		for _, tier := range tiers {
			v := "tier:" + strconv.Itoa(tier)
			tp.EscDepartments = append(tp.EscDepartments, option{Value: v, Label: fmt.Sprintf("Any tier %d department", tier), Selected: fs.EscDept == v})
		}
		for _, d := range n.departments() {
			v := strconv.FormatInt(d.ID, 10)
			label := d.Name
			if d.Tier > 0 {
				label = fmt.Sprintf("%s (tier %d)", d.Name, d.Tier)
			}
			tp.EscDepartments = append(tp.EscDepartments, option{Value: v, Label: label, Selected: fs.EscDept == v})
		}
	}

	p.addTicketKnowledge(ctx, u, n, t, wf, tp, fs)

	if p.SLA != nil && u.Can(accounts.PermSLARead) {
		clocks, err := p.SLA.Clocks(ctx, id)
		if err != nil {
			return nil, err
		}
		tp.SLA = slaViews(clocks, time.Now())
	}

	hist, err := p.Tickets.History(ctx, u, id)
	if err != nil && !errors.Is(err, tickets.ErrForbidden) {
		return nil, err
	}
	// Requesters see what happened, not the staff's reasons for escalating
	// (which the escalate event's state change repeats) nor that internal
	// notes exist.
	escNotes := map[string]bool{}
	for _, h := range hist {
		if h.Kind == "escalation" && h.Note != "" {
			escNotes[h.Note] = true
		}
	}
	for _, h := range hist {
		if !tp.CanInternal {
			if h.Kind == "comment" && h.Note == "internal" {
				continue
			}
			if h.Kind == "escalation" || escNotes[h.Note] {
				h.Note = ""
			}
		}
		tp.History = append(tp.History, p.historyView(n, t, h))
	}
	return tp, nil
}

func (p *pages) historyView(n *names, t tickets.Ticket, h tickets.HistoryEntry) historyView {
	hv := historyView{Who: n.userOr(h.ActorID, "System"), When: clock(h.At), ISO: isoTime(h.At), From: h.From, To: h.To, Note: h.Note}
	field := h.Field
	switch h.Kind {
	case "created":
		hv.What = "Created"
		if hv.To != "" && (field == "" || field == "status") {
			hv.To = n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, hv.To)
		}
		return hv
	case "state":
		hv.What = "Status"
		if hv.From != "" {
			hv.From = n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, hv.From)
		}
		if hv.To != "" {
			hv.To = n.stateLabel(p.Tickets, t.Type, t.WorkflowVersion, hv.To)
		}
		return hv
	case "comment":
		hv.What, hv.From, hv.To, hv.Note = "Reply", "", "", ""
		if h.Note == "internal" {
			hv.What = "Internal note"
		}
		return hv
	case "escalation":
		hv.What = "Escalation"
		if field != "" && field != "escalation" {
			hv.What = "Escalation: " + strings.ToLower(humanize(strings.TrimSuffix(field, "_id")))
		}
	default:
		hv.What = humanize(h.Kind)
		if field != "" {
			hv.What = humanize(strings.TrimSuffix(field, "_id"))
		}
	}
	// Ids of people and departments read better as names.
	resolve := func(v string) string {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return v
		}
		switch {
		case strings.Contains(field, "department"):
			return n.dept(id)
		case strings.Contains(field, "assignee"), strings.Contains(field, "requester"):
			return n.user(id)
		}
		return v
	}
	hv.From, hv.To = resolve(hv.From), resolve(hv.To)
	if h.Kind == "assignment" || h.Kind == "escalation" {
		if hv.From == "" && hv.To != "" {
			hv.From = "none"
		}
		if hv.To == "" && hv.From != "" {
			hv.To = "none"
		}
	}
	return hv
}

// ---- changes -----------------------------------------------------------------

// domainMessage turns a refusal from the domain into a status and a message a
// person can act on. ok is false for errors that are bugs (500).
func domainMessage(err error) (status int, msg string, details []string, ok bool) {
	var ve *accounts.ValidationError
	var ge *workflow.GuardError
	var na *workflow.NotAllowedError
	var fe *tickets.ForbiddenError
	switch {
	case errors.Is(err, accounts.ErrVersionConflict):
		return http.StatusConflict, "Someone changed this ticket after you opened it, so your change was not saved. The page now shows the latest version: reload it, check what changed, then try again.", nil, true
	case errors.As(err, &ge):
		return guardMessage(ge)
	case errors.As(err, &na):
		msg = fmt.Sprintf("%q cannot be done while the ticket is %s.", humanize(na.Event), humanize(na.State))
		if len(na.Allowed) == 0 {
			msg += " Nothing can be done from this status now."
		} else {
			as := make([]string, len(na.Allowed))
			for i, a := range na.Allowed {
				as[i] = humanize(a)
			}
			msg += " Possible now: " + strings.Join(as, ", ") + "."
		}
		return http.StatusConflict, msg, nil, true
	case errors.As(err, &fe):
		return http.StatusForbidden, "You are not allowed to do this: it needs the permission " + fe.Permission + ".", nil, true
	case errors.Is(err, tickets.ErrForbidden):
		return http.StatusForbidden, "You are not allowed to do this to this ticket.", nil, true
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			details = append(details, fieldMessage(fieldLabel(baseField(f.Field)), f.Message))
		}
		return http.StatusUnprocessableEntity, "Nothing was saved. Please correct the following:", details, true
	case errors.Is(err, accounts.ErrNotFound):
		return http.StatusNotFound, "Something this form refers to no longer exists. Reload the page and try again.", nil, true
	}
	return http.StatusInternalServerError, "Nothing was saved because of a server error. Please try again.", nil, false
}

// guardMessage says what a failed guard asks of the person: fields they can
// fill in on the same form (422), or the ticket's or their own situation.
func guardMessage(ge *workflow.GuardError) (int, string, []string, bool) {
	event := humanize(ge.Event)
	if len(ge.Fields) > 0 && ge.Kind != workflow.GuardForbidden {
		labels := make([]string, len(ge.Fields))
		for i, f := range ge.Fields {
			labels[i] = fieldLabel(f)
		}
		msg := fmt.Sprintf("To %s this ticket, fill in: %s.", strings.ToLower(event), strings.Join(labels, ", "))
		if slices.Contains(ge.Fields, workflow.NoArticleReasonField) {
			msg = fmt.Sprintf("To %s this ticket, link a knowledge article or fill in “%s”.", strings.ToLower(event), fieldLabel(workflow.NoArticleReasonField))
		}
		return http.StatusUnprocessableEntity, msg, nil, true
	}
	status := http.StatusConflict
	if ge.Kind == workflow.GuardForbidden {
		status = http.StatusForbidden
	}
	return status, sentence(ge.Message), nil, true
}

func fieldLabel(f string) string {
	if l := fieldLabels[f]; l != "" {
		return l
	}
	return humanize(f)
}

// fieldMessage reads "Subject is required" or "Department: unknown department 9".
func fieldMessage(field, msg string) string {
	label := humanize(field)
	for _, w := range []string{"is ", "are ", "must ", "at most ", "has ", "should ", "cannot ", "may "} {
		if strings.HasPrefix(msg, w) {
			return label + " " + msg
		}
	}
	return label + ": " + msg
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = humanize(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// refused re-renders the ticket page with the domain's reason.
func (p *pages) refused(c *gin.Context, u accounts.User, id int64, err error, fs formState) {
	// ErrNotFound: either the ticket went away (or out of sight), which
	// renderTicket turns into the 404 page, or a record the form named did.
	status, msg, details, ok := domainMessage(err)
	if !ok {
		p.Logger.ErrorContext(c.Request.Context(), "ticket change", "ticket_id", id, "err", err)
	}
	p.renderTicket(c, u, id, status, func(tp *ticketPage) {
		tp.Flash, tp.FlashDetails = msg, details
		tp.Conflict = errors.Is(err, accounts.ErrVersionConflict)
	}, fs)
}

// formVersion reads the ticket version the form was rendered with.
func formVersion(c *gin.Context) (int, bool) {
	v, err := strconv.Atoi(c.PostForm("version"))
	return v, err == nil && v > 0
}

var errNoVersion = &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "version", Message: "the form lacks the ticket version; reload the page and try again"}}}

func (p *pages) addComment(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	in := tickets.NewComment{Body: c.PostForm("body"), Internal: c.PostForm("internal") != ""}
	fs := formState{Reply: in.Body, ReplyInternal: in.Internal}
	if strings.TrimSpace(in.Body) == "" {
		p.refused(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "body", Message: "write a reply first"}}}, fs)
		return
	}
	cm, err := p.Tickets.AddComment(c.Request.Context(), u, id, in)
	if err != nil {
		p.refused(c, u, id, err, fs)
		return
	}
	done := "reply"
	if cm.Internal {
		done = "note"
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=%s#comment-%d", id, done, cm.ID))
}

func (p *pages) fireTransition(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	tr := tickets.Transition{Event: c.PostForm("event"), Fields: map[string]string{}}
	for k, vs := range c.Request.PostForm {
		if name, ok := strings.CutPrefix(k, "f_"); ok && name != "" && len(vs) > 0 {
			tr.Fields[name] = strings.TrimSpace(vs[0])
		}
	}
	// A required "comment" field is also the public reply the event records.
	tr.Comment = tr.Fields["comment"]
	fs := formState{Event: tr.Event, Fields: tr.Fields}
	version, ok := formVersion(c)
	if !ok {
		p.refused(c, u, id, errNoVersion, fs)
		return
	}
	if _, err := p.Tickets.Fire(c.Request.Context(), u, id, version, tr); err != nil {
		p.refused(c, u, id, err, fs)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=event", id))
}

func (p *pages) escalate(c *gin.Context) {
	u := sessionUser(c)
	id, ok := ticketID(c)
	if !ok {
		p.notFoundPage(c, u)
		return
	}
	fs := formState{EscKind: c.PostForm("kind"), EscDept: c.PostForm("department_id"), EscReason: c.PostForm("reason")}
	req := tickets.EscalationRequest{Kind: fs.EscKind, Reason: strings.TrimSpace(fs.EscReason)}
	version, ok := formVersion(c)
	if !ok {
		p.refused(c, u, id, errNoVersion, fs)
		return
	}
	if tier, ok := strings.CutPrefix(fs.EscDept, "tier:"); ok {
		n, err := strconv.Atoi(tier)
		if err != nil || n < 1 {
			p.refused(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "tier", Message: "choose a tier from the list"}}}, fs)
			return
		}
		req.Tier = &n
	} else if fs.EscDept != "" {
		d, err := strconv.ParseInt(fs.EscDept, 10, 64)
		if err != nil || d <= 0 {
			p.refused(c, u, id, &accounts.ValidationError{Fields: []accounts.FieldError{{Field: "to_department_id", Message: "choose a department from the list"}}}, fs)
			return
		}
		req.ToDepartmentID = &d
	}
	if _, _, err := p.Tickets.Escalate(c.Request.Context(), u, id, version, req); err != nil {
		p.refused(c, u, id, err, fs)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tickets/%d?done=escalated", id))
}
