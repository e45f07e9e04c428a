package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// Handlers and bodies of /sla/calendars, /sla/policies, /tickets/{id}/sla
// and /reports/sla. The API owns the JSON shapes API.md fixes (calendar
// "timezone" and hours as [["09:00","12:00"], ...], targets' durations as
// Go duration strings) and converts them to the sla domain's types, so the
// contract does not move when the domain's own encoding does.

func init() {
	metrics := make([]any, len(sla.Metrics))
	for i, m := range sla.Metrics {
		metrics[i] = string(m)
	}
	enumOf[reflect.TypeFor[sla.Metric]()] = metrics
	enumOf[reflect.TypeFor[sla.ClockState]()] = []any{string(sla.ClockRunning), string(sla.ClockPaused), string(sla.ClockStopped)}
}

// ---- calendars ----

// dayNames are the keys of hours, in reading order.
var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// dayOf maps a key of hours to its weekday.
var dayOf = map[string]time.Weekday{"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday}

// CalendarRequest creates or replaces a business calendar (PATCH takes the
// whole calendar, like POST).
type CalendarRequest struct {
	Name       string                `json:"name"`
	Timezone   string                `json:"timezone" doc:"IANA time zone the hours and holidays are in, e.g. Asia/Shanghai or UTC"`
	AlwaysOpen bool                  `json:"always_open,omitempty" doc:"24x7: hours and holidays are ignored; default false"`
	Hours      map[string][][]string `json:"hours,omitempty" doc:"working time per day, keys mon, tue, wed, thu, fri, sat, sun; each range is [\"HH:MM\", \"HH:MM\"] in 24-hour time (\"24:00\" may end a day), e.g. {\"mon\": [[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]]}. A day left out has no working time."`
	Holidays   []string              `json:"holidays,omitempty" doc:"dates (YYYY-MM-DD, in the calendar's time zone) without working time"`
}

// Validate checks the shape of hours here (the domain never sees the
// strings) and then every rule of the domain, so all problems come at once.
func (r *CalendarRequest) Validate() []FieldError {
	c, fe := r.calendar()
	if ve := c.Validate(); ve != nil {
		fe = mergeDomainErrors(fe, calendarFields(ve.Fields))
	}
	return fe
}

// calendar converts the request, reporting ranges it cannot read.
func (r *CalendarRequest) calendar() (sla.Calendar, []FieldError) {
	var fe []FieldError
	c := sla.Calendar{Name: r.Name, TimeZone: r.Timezone, AlwaysOpen: r.AlwaysOpen, Holidays: r.Holidays}
	keys := make([]string, 0, len(r.Hours))
	for k := range r.Hours {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		wd, ok := dayOf[key]
		if !ok {
			fe = append(fe, FieldError{Field: "hours." + clip(key), Message: "is not a day; use " + strings.Join(dayNames, ", ")})
			continue
		}
		for j, rng := range r.Hours[key] {
			field := fmt.Sprintf("hours.%s[%d]", key, j)
			if len(rng) != 2 {
				fe = append(fe, FieldError{Field: field, Message: `a range is a start and an end, e.g. ["09:00","12:00"]`})
				continue
			}
			start, ok1 := parseClockTime(rng[0])
			end, ok2 := parseClockTime(rng[1])
			switch {
			case !ok1:
				fe = append(fe, FieldError{Field: field, Message: fmt.Sprintf(`start %q is not a time; write HH:MM in 24-hour time, e.g. "09:00"`, clip(rng[0]))})
			case !ok2:
				fe = append(fe, FieldError{Field: field, Message: fmt.Sprintf(`end %q is not a time; write HH:MM in 24-hour time, e.g. "18:00" ("24:00" ends the day)`, clip(rng[1]))})
			default:
				c.Hours[wd] = append(c.Hours[wd], sla.Interval{Start: start, End: end})
			}
		}
	}
	return c, fe
}

// parseClockTime reads "HH:MM", 00:00 to 24:00, as minutes since midnight.
func parseClockTime(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[0] == '-' || s[3] == '+' || s[3] == '-' ||
		h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

func clockTime(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// shortDuration writes d as Go does, without zero trailing units: "4h",
// "1h30m", "45m", "1h0m30s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// calendarFields renames the domain's field paths to the API's and words
// hours advice in the API's notation.
func calendarFields(fs []FieldError) []FieldError {
	out := make([]FieldError, 0, len(fs))
	for _, f := range fs {
		switch {
		case f.Field == "time_zone":
			f.Field = "timezone"
			f.Message = strings.ReplaceAll(f.Message, "time_zone", "timezone")
		case f.Field == "hours" && strings.Contains(f.Message, "no working time"):
			f.Message = `has no working time on any day; add a range such as "mon": [["09:00","17:00"]], or set always_open`
		}
		out = append(out, f)
	}
	return out
}

// mergeDomainErrors adds the domain's problems to the API's, leaving out
// fields the API already explained (and the domain's "no working time"
// when it only follows from hours the API could not read).
func mergeDomainErrors(api, domain []FieldError) []FieldError {
	seen := map[string]bool{}
	hoursBad := false
	for _, f := range api {
		seen[f.Field] = true
		hoursBad = hoursBad || strings.HasPrefix(f.Field, "hours")
	}
	for _, f := range domain {
		if seen[f.Field] || (f.Field == "hours" && hoursBad) {
			continue
		}
		if i := strings.IndexByte(f.Field, '.'); i > 0 && seen[f.Field[:i]] {
			continue
		}
		api = append(api, f)
	}
	return api
}

// WeekHours is a calendar's working time, every day present (an empty list
// is a day off).
type WeekHours struct {
	Mon [][]string `json:"mon"`
	Tue [][]string `json:"tue"`
	Wed [][]string `json:"wed"`
	Thu [][]string `json:"thu"`
	Fri [][]string `json:"fri"`
	Sat [][]string `json:"sat"`
	Sun [][]string `json:"sun"`
}

// CalendarResponse is a business calendar.
type CalendarResponse struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Timezone   string    `json:"timezone"`
	AlwaysOpen bool      `json:"always_open"`
	Hours      WeekHours `json:"hours" doc:"ranges [\"HH:MM\", \"HH:MM\"] per day, sorted"`
	Holidays   []string  `json:"holidays"`
	Version    int       `json:"version" doc:"also sent as the ETag header"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func calendarResponse(c sla.Calendar) CalendarResponse {
	day := func(wd time.Weekday) [][]string {
		ivs := slices.Clone(c.Hours[wd])
		slices.SortFunc(ivs, func(a, b sla.Interval) int { return a.Start - b.Start })
		out := make([][]string, 0, len(ivs))
		for _, iv := range ivs {
			out = append(out, []string{clockTime(iv.Start), clockTime(iv.End)})
		}
		return out
	}
	return CalendarResponse{ID: c.ID, Name: c.Name, Timezone: c.TimeZone, AlwaysOpen: c.AlwaysOpen,
		Hours: WeekHours{Mon: day(time.Monday), Tue: day(time.Tuesday), Wed: day(time.Wednesday), Thu: day(time.Thursday),
			Fri: day(time.Friday), Sat: day(time.Saturday), Sun: day(time.Sunday)},
		Holidays: nonNil(c.Holidays), Version: c.Version, CreatedAt: c.Created, UpdatedAt: c.Updated}
}

func (h *handlers) calendarRes() resource[sla.Calendar] {
	return resource[sla.Calendar]{path: "sla/calendars", get: h.d.SLA.GetCalendar,
		id: func(c sla.Calendar) int64 { return c.ID }, version: func(c sla.Calendar) int { return c.Version },
		render: func(c sla.Calendar) any { return calendarResponse(c) }}
}

func (h *handlers) listCalendars(c *gin.Context) {
	cals, err := h.d.SLA.Calendars(c.Request.Context())
	if err != nil {
		Error(c, err)
		return
	}
	out := List[CalendarResponse]{Items: make([]CalendarResponse, 0, len(cals))}
	for _, cal := range cals {
		out.Items = append(out.Items, calendarResponse(cal))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createCalendar(c *gin.Context) {
	cal, _ := bodyOf[CalendarRequest](c).calendar() // Validate passed
	created, err := h.d.SLA.CreateCalendar(c.Request.Context(), cal)
	h.calendarRes().created(c, created, calendarErr(err))
}

func (h *handlers) getCalendar(c *gin.Context) { h.calendarRes().handleGet(c) }

func (h *handlers) updateCalendar(c *gin.Context) {
	cal, _ := bodyOf[CalendarRequest](c).calendar()
	h.calendarRes().update(c, func(ctx context.Context, id int64, version int) (sla.Calendar, error) {
		out, err := h.d.SLA.UpdateCalendar(ctx, id, version, cal)
		return out, calendarErr(err)
	})
}

func (h *handlers) deleteCalendar(c *gin.Context) {
	deleteVersioned(c, h.calendarRes(), h.d.SLA.DeleteCalendar)
}

// calendarErr gives the domain's calendar field errors the API's names.
func calendarErr(err error) error {
	var ve *accounts.ValidationError
	if errors.As(err, &ve) {
		return &accounts.ValidationError{Fields: calendarFields(ve.Fields)}
	}
	return err
}

// deleteVersioned serves DELETE /{path}/{id}: 204, 404 when it is gone,
// and 412/409 when If-Match names a version that is no longer current.
func deleteVersioned[T any](c *gin.Context, r resource[T], del func(ctx context.Context, id int64) error) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	version, ok := IfMatch(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if version != 0 {
		cur, err := r.get(ctx, id)
		if err != nil {
			Error(c, err)
			return
		}
		if r.version(cur) != version {
			Error(c, versionConflict{current: r.version(cur)})
			return
		}
	}
	if err := del(ctx, id); err != nil {
		Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- policies ----

// SLATarget is one metric's promise.
type SLATarget struct {
	Metric      sla.Metric   `json:"metric"`
	Within      string       `json:"within" doc:"business time to meet the metric, a Go duration such as 30m, 4h or 1h30m"`
	WarnBefore  string       `json:"warn_before,omitempty" doc:"warn this long before the due time (a Go duration); or use warn_percent; neither: no warning"`
	WarnPercent int          `json:"warn_percent,omitempty" doc:"warn when this percentage (1-99) of within has elapsed"`
	OnWarning   []sla.Action `json:"on_warning,omitempty" doc:"actions at the warning point"`
	OnBreach    []sla.Action `json:"on_breach,omitempty" doc:"actions when the target is missed"`
}

// PolicyRequest creates or replaces an SLA policy (PATCH takes the whole
// policy, like POST).
type PolicyRequest struct {
	Name       string         `json:"name"`
	Position   int            `json:"position,omitempty" doc:"policies are tried by position (then id), lowest first; the first active match wins. Default 0"`
	Active     Optional[bool] `json:"active,omitzero" doc:"default true; an inactive policy is skipped"`
	CalendarID *int64         `json:"calendar_id,omitempty" doc:"the business calendar targets count in; null or absent: 24x7"`
	Match      sla.Match      `json:"match,omitzero" doc:"which tickets the policy covers; every non-empty list must match, an empty match covers every ticket"`
	Targets    []SLATarget    `json:"targets" doc:"one per metric"`
}

// Validate reads the durations here (naming the target each belongs to)
// and then checks every rule of the domain, so all problems come at once.
// Calendar and department existence are checked by the domain afterwards.
func (r *PolicyRequest) Validate() []FieldError {
	p, fe := r.policy()
	if ve := p.Validate(); ve != nil {
		fe = mergeDomainErrors(fe, ve.Fields)
	}
	if r.CalendarID != nil && *r.CalendarID < 1 {
		fe = append(fe, FieldError{Field: "calendar_id", Message: "must be a positive id, or null for 24x7"})
	}
	return fe
}

func (r *PolicyRequest) policy() (sla.Policy, []FieldError) {
	var fe []FieldError
	dur := func(field, s string) sla.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			fe = append(fe, FieldError{Field: field, Message: fmt.Sprintf(`%q is not a duration; write it like "30m", "4h" or "1h30m" (units h, m, s; no days)`, clip(s))})
		}
		return sla.Duration(d)
	}
	p := sla.Policy{Name: r.Name, Position: r.Position, Active: true, CalendarID: r.CalendarID, Match: r.Match,
		Targets: make([]sla.Target, 0, len(r.Targets))}
	if r.Active.Set {
		p.Active = r.Active.Value
	}
	for i, t := range r.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		if t.Within == "" {
			fe = append(fe, FieldError{Field: f + ".within", Message: `is required: the business time to meet the target, e.g. "4h"`})
		}
		p.Targets = append(p.Targets, sla.Target{Metric: t.Metric, Within: dur(f+".within", t.Within),
			WarnBefore: dur(f+".warn_before", t.WarnBefore), WarnPercent: t.WarnPercent, OnWarning: t.OnWarning, OnBreach: t.OnBreach})
	}
	return p, fe
}

// PolicyResponse is an SLA policy.
type PolicyResponse struct {
	ID         int64       `json:"id"`
	Name       string      `json:"name"`
	Position   int         `json:"position"`
	Active     bool        `json:"active"`
	CalendarID *int64      `json:"calendar_id" doc:"null: 24x7"`
	Match      sla.Match   `json:"match"`
	Targets    []SLATarget `json:"targets"`
	Version    int         `json:"version" doc:"also sent as the ETag header"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

func policyResponse(p sla.Policy) PolicyResponse {
	out := PolicyResponse{ID: p.ID, Name: p.Name, Position: p.Position, Active: p.Active, CalendarID: p.CalendarID,
		Match: p.Match, Targets: make([]SLATarget, 0, len(p.Targets)), Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for _, t := range p.Targets {
		st := SLATarget{Metric: t.Metric, Within: shortDuration(time.Duration(t.Within)), WarnPercent: t.WarnPercent,
			OnWarning: t.OnWarning, OnBreach: t.OnBreach}
		if t.WarnBefore > 0 {
			st.WarnBefore = shortDuration(time.Duration(t.WarnBefore))
		}
		out.Targets = append(out.Targets, st)
	}
	return out
}

func (h *handlers) policyRes() resource[sla.Policy] {
	return resource[sla.Policy]{path: "sla/policies", get: h.d.SLA.GetPolicy,
		id: func(p sla.Policy) int64 { return p.ID }, version: func(p sla.Policy) int { return p.Version },
		render: func(p sla.Policy) any { return policyResponse(p) }}
}

func (h *handlers) listPolicies(c *gin.Context) {
	ps, err := h.d.SLA.Policies(c.Request.Context())
	if err != nil {
		Error(c, err)
		return
	}
	out := List[PolicyResponse]{Items: make([]PolicyResponse, 0, len(ps))}
	for _, p := range ps {
		out.Items = append(out.Items, policyResponse(p))
	}
	JSON(c, http.StatusOK, out)
}

func (h *handlers) createPolicy(c *gin.Context) {
	p, _ := bodyOf[PolicyRequest](c).policy() // Validate passed
	created, err := h.d.SLA.CreatePolicy(c.Request.Context(), p)
	h.policyRes().created(c, created, err)
}

func (h *handlers) getPolicy(c *gin.Context) { h.policyRes().handleGet(c) }

func (h *handlers) updatePolicy(c *gin.Context) {
	p, _ := bodyOf[PolicyRequest](c).policy()
	h.policyRes().update(c, func(ctx context.Context, id int64, version int) (sla.Policy, error) {
		return h.d.SLA.UpdatePolicy(ctx, id, version, p)
	})
}

func (h *handlers) deletePolicy(c *gin.Context) {
	deleteVersioned(c, h.policyRes(), h.d.SLA.DeletePolicy)
}

// ---- clocks ----

// SLAClockResponse is one metric's clock on a ticket.
type SLAClockResponse struct {
	Metric         sla.Metric     `json:"metric"`
	PolicyID       int64          `json:"policy_id" doc:"the policy the clock runs under"`
	Target         string         `json:"target" doc:"the promised business time, a Go duration such as 4h or 1h30m"`
	TargetSeconds  int64          `json:"target_seconds"`
	Cycle          int            `json:"cycle" doc:"next_response: 1 + the requester replies that restarted it; 1 for the other metrics"`
	State          sla.ClockState `json:"state" doc:"running, paused (the ticket waits on the requester, or outside the workflow's SLA states) or stopped (met, or no longer needed)"`
	Paused         bool           `json:"paused"`
	StartedAt      time.Time      `json:"started_at"`
	Elapsed        string         `json:"elapsed" doc:"business time counted, as a Go duration; while running, as of updated_at"`
	ElapsedSeconds int64          `json:"elapsed_seconds"`
	WarnAt         *time.Time     `json:"warn_at" doc:"the warning point; null without one, or while paused"`
	DueAt          *time.Time     `json:"due_at" doc:"when the target is missed; null while paused, or when stopped before it"`
	FirstWarnedAt  *time.Time     `json:"first_warned_at"`
	BreachedAt     *time.Time     `json:"breached_at" doc:"set once the target was missed (this cycle)"`
	MetAt          *time.Time     `json:"met_at"`
	UpdatedAt      time.Time      `json:"updated_at" doc:"when the clock was last computed"`
}

func clockResponse(k sla.Clock) SLAClockResponse {
	return SLAClockResponse{Metric: k.Metric, PolicyID: k.PolicyID, Target: shortDuration(k.Target), TargetSeconds: k.TargetSeconds,
		Cycle: k.Cycle, State: k.State, Paused: k.State == sla.ClockPaused, StartedAt: k.StartedAt,
		Elapsed: shortDuration(k.Elapsed.Truncate(time.Second)), ElapsedSeconds: k.ElapsedSeconds,
		WarnAt: k.WarnAt, DueAt: k.DueAt, FirstWarnedAt: k.FirstWarnedAt, BreachedAt: k.BreachedAt, MetAt: k.MetAt,
		UpdatedAt: k.UpdatedAt}
}

func clockResponses(ks []sla.Clock) []SLAClockResponse {
	out := make([]SLAClockResponse, 0, len(ks))
	for _, k := range ks {
		out = append(out, clockResponse(k))
	}
	return out
}

func (h *handlers) ticketSLA(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	u, _ := CurrentUser(c)
	ctx := c.Request.Context()
	if _, err := h.d.Tickets.Get(ctx, u, id); err != nil {
		Error(c, err)
		return
	}
	ks, err := h.d.SLA.Clocks(ctx, id)
	if err != nil {
		Error(c, err)
		return
	}
	JSON(c, http.StatusOK, List[SLAClockResponse]{Items: clockResponses(ks)})
}

// withSLA fills the sla member of ticket bodies with one query for all of
// them. Callers without sla:read (requesters) get an empty list: targets
// and due times are the team's business. Without an SLA service it is a
// no-op.
func (h *handlers) withSLA(ctx context.Context, caller accounts.User, items []TicketResponse) error {
	if h.d.SLA == nil || len(items) == 0 || !caller.Can(accounts.PermSLARead) {
		return nil
	}
	ids := make([]int64, len(items))
	for i, t := range items {
		ids[i] = t.ID
	}
	clocks, err := h.d.SLA.ClocksFor(ctx, ids)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].SLA = clockResponses(clocks[items[i].ID])
	}
	return nil
}

// ticketWithSLA is ticketResponse with the ticket's clocks.
func (h *handlers) ticketWithSLA(ctx context.Context, caller accounts.User, t tickets.Ticket) (TicketResponse, error) {
	items := []TicketResponse{ticketResponse(t)}
	err := h.withSLA(ctx, caller, items)
	return items[0], err
}

// ---- reports ----

var reportGroupings = sla.ReportGroupings

func slaReportQuery() []*Parameter {
	return []*Parameter{
		queryParam("from", "date-time", false, "tickets created at or after this (a date alone: from its start, UTC); default 30 days before to."),
		queryParam("to", "date-time", false, "tickets created before this (exclusive; a date alone includes that whole day, UTC); default now."),
		queryParam("group_by", "string", false, "rows per metric only (default), or per department or priority and metric.", reportGroupings...),
	}
}

// SLAReportRow is one group's compliance for one metric.
type SLAReportRow struct {
	Group             string     `json:"group" doc:"the group: the metric (group_by=metric), the department id or \"none\" (department), or the priority (priority)"`
	DepartmentID      *int64     `json:"department_id,omitempty" doc:"group_by=department; absent for tickets without a department"`
	DepartmentName    string     `json:"department_name,omitempty"`
	Priority          string     `json:"priority,omitempty" enum:"P1,P2,P3,P4" doc:"group_by=priority"`
	Metric            sla.Metric `json:"metric"`
	Tickets           int        `json:"tickets" doc:"tickets of the group with this clock"`
	Clocks            int        `json:"clocks" doc:"targets counted; a next_response clock counts once per cycle"`
	MetOnTime         int        `json:"met_on_time"`
	Breached          int        `json:"breached" doc:"missed, whether met late or still open"`
	Running           int        `json:"running" doc:"neither met nor breached yet (running or paused)"`
	Stopped           int        `json:"stopped" doc:"stopped without being met or breached, e.g. resolved without a public reply"`
	CompliancePercent *float64   `json:"compliance_percent" doc:"100 × met_on_time / (met_on_time + breached), two decimals; null when both are 0"`
	Met               int        `json:"met" doc:"clocks met (on time or late) whose time to met is known; next_response: the latest cycle of each ticket"`
	AvgToMetSeconds   *float64   `json:"avg_to_met_seconds" doc:"mean business time to met; null when met is 0"`
	P50ToMetSeconds   *float64   `json:"p50_to_met_seconds" doc:"median (nearest rank)"`
	P90ToMetSeconds   *float64   `json:"p90_to_met_seconds" doc:"90th percentile (nearest rank)"`
}

// SLAReportResponse is SLA compliance over the tickets created in a period.
type SLAReportResponse struct {
	From    time.Time      `json:"from" doc:"inclusive"`
	To      time.Time      `json:"to" doc:"exclusive"`
	GroupBy string         `json:"group_by" enum:"metric,department,priority"`
	Items   []SLAReportRow `json:"items" doc:"by group, then metric; group_by=metric always lists the three metrics"`
}

func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := math.Round(d.Seconds()*1000) / 1000
	return &v
}

func (h *handlers) slaReport(c *gin.Context) {
	q := c.Request.URL.Query()
	var fe []FieldError
	one := func(name string) string {
		vs := q[name]
		if len(vs) > 1 {
			fe = append(fe, FieldError{Field: name, Message: fmt.Sprintf("give it once, not %d times", len(vs))})
			return ""
		}
		if len(vs) == 0 {
			return ""
		}
		return strings.TrimSpace(vs[0])
	}
	bad := func(name string) func(string) {
		return func(msg string) { fe = append(fe, FieldError{Field: name, Message: msg}) }
	}
	from := createdBound(one("from"), false, bad("from"))
	to := createdBound(one("to"), true, bad("to"))
	groupBy := one("group_by")
	if groupBy != "" && !slices.Contains(reportGroupings, groupBy) {
		fe = append(fe, FieldError{Field: "group_by", Message: fmt.Sprintf("%q is not one of: %s", clip(groupBy), strings.Join(reportGroupings, ", "))})
	}
	if len(fe) > 0 {
		WriteProblem(c, http.StatusBadRequest, "the report query is invalid; dates are YYYY-MM-DD or RFC 3339; see errors", fe...)
		return
	}
	rq := sla.ReportQuery{GroupBy: groupBy}
	switch {
	case to != nil:
		rq.To = *to
	default:
		rq.To = time.Now().UTC().Truncate(time.Millisecond)
	}
	switch {
	case from != nil:
		rq.From = *from
	default:
		rq.From = rq.To.AddDate(0, 0, -30)
	}
	rep, err := h.d.SLA.Report(c.Request.Context(), rq)
	if ve := (*accounts.ValidationError)(nil); errors.As(err, &ve) {
		err = badQuery{ve}
	}
	if err != nil {
		Error(c, err)
		return
	}
	out := SLAReportResponse{From: rep.From, To: rep.To, GroupBy: rep.GroupBy, Items: make([]SLAReportRow, 0, len(rep.Rows))}
	for _, r := range rep.Rows {
		row := SLAReportRow{DepartmentID: r.DepartmentID, DepartmentName: r.DepartmentName, Priority: r.Priority, Metric: r.Metric,
			Tickets: r.Tickets, Clocks: r.Clocks, MetOnTime: r.MetOnTime, Breached: r.Breached, Running: r.Running, Stopped: r.Stopped,
			CompliancePercent: r.CompliancePercent, Met: r.Met,
			AvgToMetSeconds: seconds(r.AvgToMet), P50ToMetSeconds: seconds(r.P50ToMet), P90ToMetSeconds: seconds(r.P90ToMet)}
		switch rep.GroupBy {
		case sla.GroupByDepartment:
			row.Group = "none"
			if r.DepartmentID != nil {
				row.Group = strconv.FormatInt(*r.DepartmentID, 10)
			}
		case sla.GroupByPriority:
			row.Group = r.Priority
		default:
			row.Group = string(r.Metric)
		}
		out.Items = append(out.Items, row)
	}
	JSON(c, http.StatusOK, out)
}
