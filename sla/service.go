package sla

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// Timer schedules the instant a ticket's clocks next need attention. It is
// an optimisation for exactness (the sweep is the safety net); jobs
// implements it with asynq tasks whose IDs are deterministic.
type Timer interface {
	// Schedule arranges for Service.Fire(ticketID) at at under task id; an
	// id already scheduled is not an error.
	Schedule(ctx context.Context, id string, at time.Time, ticketID int64) error
	// Cancel removes the task id if it is still waiting.
	Cancel(ctx context.Context, id string) error
}

// Workflows gives the pinned workflow definition of a ticket, to know what
// each state does to the clocks.
type Workflows interface {
	GetWorkflow(ctx context.Context, key string, version int) (*workflow.Definition, error)
}

// Actor carries out warning and breach actions on tickets. cmd wires it to
// the tickets service so SLA escalations are real escalation records.
type Actor interface {
	Escalate(ctx context.Context, ticketID int64, a Action, reason string) error
	RaisePriority(ctx context.Context, ticketID int64, to string, reason string) error
	Notify(ctx context.Context, ticketID int64, to []string, kind, message string) error // kind: KindWarning or KindBreach
}

// Domain events this package writes to the outbox.
const (
	EventWarned        = "sla:warned"
	EventBreached      = "sla:breached"
	EventPolicyChanged = "sla:policy_changed"
)

// RecordedEvent is the payload of sla:warned and sla:breached.
type RecordedEvent struct {
	TicketID int64     `json:"ticket_id"`
	Metric   Metric    `json:"metric"`
	Cycle    int       `json:"cycle"`
	Kind     string    `json:"kind"` // warning or breach
	PolicyID int64     `json:"policy_id"`
	DueAt    time.Time `json:"due_at"`
}

// Service is the SLA domain over one database.
type Service struct {
	db    *database.DB
	flows Workflows
	timer Timer
	actor Actor
	log   *slog.Logger
	now   func() time.Time

	horizon   time.Duration // arm timers this far ahead; 0: every instant
	sweepConc int           // tickets a sweep recomputes at once; 0: by dialect

	fires coalescer // timer firings, recomputed in chunks under load

	mu        sync.Mutex
	schedules map[int64]cachedSchedule // calendar id -> compiled, by version
	armedTo   time.Time                // instants before this were armed by this process's sweeps
}

type cachedSchedule struct {
	version int
	s       *Schedule
}

// Option configures a Service.
type Option func(*Service)

// WithClock injects the time source.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithTimer sets the timer; without one only the sweep records instants.
func WithTimer(t Timer) Option { return func(s *Service) { s.timer = t } }

// WithTimerHorizon sets how far ahead timers are armed (default
// DefaultTimerHorizon). Recompute arms an instant only if it falls within
// the horizon (plus a minute of slack); each Sweep arms the instants that
// have come within it since. Redis then holds minutes of timers instead of
// every open ticket's, which keeps the in-process server fast. 0 arms every
// instant as soon as it is computed.
func WithTimerHorizon(d time.Duration) Option { return func(s *Service) { s.horizon = max(d, 0) } }

// WithSweepWorkers sets how many chunks of tickets the sweep, RecomputeAll
// and coalesced timer firings recompute at once (default 8 on
// MySQL/MariaDB, 1 on SQLite).
func WithSweepWorkers(n int) Option { return func(s *Service) { s.sweepConc = n } }

// WithActor sets who carries out actions; without one actions are skipped
// and logged.
func WithActor(a Actor) Option { return func(s *Service) { s.actor = a } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New makes the service.
func New(db *database.DB, flows Workflows, opts ...Option) *Service {
	s := &Service{db: db, flows: flows, now: time.Now, log: slog.Default(), schedules: map[int64]cachedSchedule{},
		horizon: DefaultTimerHorizon}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// inTx runs fn in a transaction, again on deadlocks and SQLite busy errors.
func (s *Service) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.conn(ctx).Transaction(fn)
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool { return database.IsRetryable(err) }

func (s *Service) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.db.Dialect == database.MySQL {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return accounts.ErrNotFound
	}
	return err
}

// ---- calendars ----

type calendarRow struct {
	ID         int64
	Name       string
	TimeZone   string
	AlwaysOpen bool
	Hours      string
	Holidays   string
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (calendarRow) TableName() string { return "sla_calendars" }

func (r calendarRow) calendar() (Calendar, error) {
	c := Calendar{ID: r.ID, Name: r.Name, TimeZone: r.TimeZone, AlwaysOpen: r.AlwaysOpen, Version: r.Version,
		Created: r.CreatedAt, Updated: r.UpdatedAt}
	if err := json.Unmarshal([]byte(r.Hours), &c.Hours); err != nil {
		return c, fmt.Errorf("sla: calendar %d hours: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Holidays), &c.Holidays); err != nil {
		return c, fmt.Errorf("sla: calendar %d holidays: %w", r.ID, err)
	}
	return c, nil
}

func calendarToRow(c Calendar) (calendarRow, error) {
	h, err := json.Marshal(c.Hours)
	if err != nil {
		return calendarRow{}, err
	}
	if c.Holidays == nil {
		c.Holidays = []string{}
	}
	hol, err := json.Marshal(c.Holidays)
	if err != nil {
		return calendarRow{}, err
	}
	return calendarRow{ID: c.ID, Name: c.Name, TimeZone: c.TimeZone, AlwaysOpen: c.AlwaysOpen,
		Hours: string(h), Holidays: string(hol), Version: c.Version}, nil
}

// Calendars lists every calendar by name.
func (s *Service) Calendars(ctx context.Context) ([]Calendar, error) {
	var rows []calendarRow
	if err := s.conn(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Calendar, 0, len(rows))
	for _, r := range rows {
		c, err := r.calendar()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// GetCalendar returns calendar id.
func (s *Service) GetCalendar(ctx context.Context, id int64) (Calendar, error) {
	var r calendarRow
	if err := s.conn(ctx).Take(&r, id).Error; err != nil {
		return Calendar{}, notFound(err)
	}
	return r.calendar()
}

var errCalendarName = func() error {
	ve := &accounts.ValidationError{}
	ve.Add("name", "a calendar with this name already exists")
	return ve
}

// CreateCalendar validates and stores c.
func (s *Service) CreateCalendar(ctx context.Context, c Calendar) (Calendar, error) {
	if ve := c.Validate(); ve != nil {
		return Calendar{}, ve
	}
	r, err := calendarToRow(c)
	if err != nil {
		return Calendar{}, err
	}
	now := s.clock()
	r.ID, r.Version, r.CreatedAt, r.UpdatedAt = 0, 1, now, now
	if err := s.conn(ctx).Create(&r).Error; err != nil {
		if database.IsUniqueViolation(err) {
			return Calendar{}, errCalendarName()
		}
		return Calendar{}, err
	}
	return r.calendar()
}

// UpdateCalendar replaces calendar id when its version is still version (0:
// no precondition), and recomputes the clocks of the policies using it.
func (s *Service) UpdateCalendar(ctx context.Context, id int64, version int, c Calendar) (Calendar, error) {
	if ve := c.Validate(); ve != nil {
		return Calendar{}, ve
	}
	var out calendarRow
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var cur calendarRow
		if err := s.forUpdate(tx).Take(&cur, id).Error; err != nil {
			return notFound(err)
		}
		if version != 0 && cur.Version != version {
			return accounts.ErrVersionConflict
		}
		r, err := calendarToRow(c)
		if err != nil {
			return err
		}
		r.ID, r.Version, r.CreatedAt, r.UpdatedAt = id, cur.Version+1, cur.CreatedAt, s.clock()
		if err := tx.Save(&r).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return errCalendarName()
			}
			return err
		}
		out = r
		var users []int64
		if err := tx.Model(&policyRow{}).Where("calendar_id = ?", id).Pluck("id", &users).Error; err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		return outbox.Write(ctx, tx, policyChanged(0))
	})
	if err != nil {
		return Calendar{}, err
	}
	return out.calendar()
}

// DeleteCalendar removes calendar id unless a policy uses it.
func (s *Service) DeleteCalendar(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&policyRow{}).Where("calendar_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrCalendarInUse
		}
		res := tx.Delete(&calendarRow{}, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return accounts.ErrNotFound
		}
		return nil
	})
}

// schedule returns the compiled calendar id (nil: 24x7), cached by version.
func (s *Service) schedule(ctx context.Context, db *gorm.DB, id *int64) (*Schedule, error) {
	if id == nil {
		return AlwaysOpenSchedule(), nil
	}
	var r calendarRow
	if err := db.WithContext(ctx).Select("id", "version").Take(&r, *id).Error; err != nil {
		return nil, fmt.Errorf("sla: calendar %d: %w", *id, err)
	}
	s.mu.Lock()
	c, ok := s.schedules[*id]
	s.mu.Unlock()
	if ok && c.version == r.Version {
		return c.s, nil
	}
	if err := db.WithContext(ctx).Take(&r, *id).Error; err != nil {
		return nil, err
	}
	cal, err := r.calendar()
	if err != nil {
		return nil, err
	}
	sch, err := NewSchedule(cal)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.schedules[*id] = cachedSchedule{version: r.Version, s: sch}
	s.mu.Unlock()
	return sch, nil
}

// ---- policies ----

type policyRow struct {
	ID         int64
	Name       string
	Position   int
	Active     bool
	CalendarID *int64
	MatchRules string
	Targets    string
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (policyRow) TableName() string { return "sla_policies" }

func (r policyRow) policy() (Policy, error) {
	p := Policy{ID: r.ID, Name: r.Name, Position: r.Position, Active: r.Active, CalendarID: r.CalendarID,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal([]byte(r.MatchRules), &p.Match); err != nil {
		return p, fmt.Errorf("sla: policy %d match: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Targets), &p.Targets); err != nil {
		return p, fmt.Errorf("sla: policy %d targets: %w", r.ID, err)
	}
	return p, nil
}

func policyToRow(p Policy) (policyRow, error) {
	m, err := json.Marshal(p.Match)
	if err != nil {
		return policyRow{}, err
	}
	t, err := json.Marshal(p.Targets)
	if err != nil {
		return policyRow{}, err
	}
	return policyRow{ID: p.ID, Name: p.Name, Position: p.Position, Active: p.Active, CalendarID: p.CalendarID,
		MatchRules: string(m), Targets: string(t), Version: p.Version}, nil
}

func policyChanged(id int64) outbox.Event {
	return outbox.Event{Type: EventPolicyChanged, AggregateType: "sla_policy", AggregateID: fmt.Sprint(id),
		Payload: map[string]int64{"policy_id": id}}
}

// Policies lists every policy in the order they are tried.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) {
	return s.policies(ctx, s.conn(ctx))
}

func (s *Service) policies(ctx context.Context, db *gorm.DB) ([]Policy, error) {
	var rows []policyRow
	if err := db.WithContext(ctx).Order("position, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Policy, 0, len(rows))
	for _, r := range rows {
		p, err := r.policy()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// GetPolicy returns policy id.
func (s *Service) GetPolicy(ctx context.Context, id int64) (Policy, error) {
	var r policyRow
	if err := s.conn(ctx).Take(&r, id).Error; err != nil {
		return Policy{}, notFound(err)
	}
	return r.policy()
}

// checkRefs adds problems for a calendar or departments that do not exist.
func (s *Service) checkRefs(ctx context.Context, db *gorm.DB, p Policy, ve *accounts.ValidationError) error {
	if p.CalendarID != nil {
		var n int64
		if err := db.WithContext(ctx).Model(&calendarRow{}).Where("id = ?", *p.CalendarID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			ve.Add("calendar_id", fmt.Sprintf("there is no calendar %d; create it under /sla/calendars or leave calendar_id out for 24x7", *p.CalendarID))
		}
	}
	check := func(field string, id *int64) error {
		if id == nil {
			return nil
		}
		var n int64
		if err := db.WithContext(ctx).Table("departments").Where("id = ?", *id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			ve.Add(field, fmt.Sprintf("there is no department %d", *id))
		}
		return nil
	}
	for i, d := range p.Match.DepartmentID {
		if err := check(fmt.Sprintf("match.department_id[%d]", i), &d); err != nil {
			return err
		}
	}
	for i, t := range p.Targets {
		for j, a := range t.OnWarning {
			if err := check(fmt.Sprintf("targets[%d].on_warning[%d].to_department_id", i, j), a.ToDepartmentID); err != nil {
				return err
			}
		}
		for j, a := range t.OnBreach {
			if err := check(fmt.Sprintf("targets[%d].on_breach[%d].to_department_id", i, j), a.ToDepartmentID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) validatePolicy(ctx context.Context, db *gorm.DB, p *Policy) error {
	ve := p.Validate()
	if ve == nil {
		ve = &accounts.ValidationError{}
	}
	if err := s.checkRefs(ctx, db, *p, ve); err != nil {
		return err
	}
	return ve.Err()
}

func errPolicyName() error {
	ve := &accounts.ValidationError{}
	ve.Add("name", "a policy with this name already exists")
	return ve
}

// CreatePolicy validates and stores p, then recomputes open tickets' clocks
// (through the outbox, so the call stays fast).
func (s *Service) CreatePolicy(ctx context.Context, p Policy) (Policy, error) {
	var out policyRow
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if err := s.validatePolicy(ctx, tx, &p); err != nil {
			return err
		}
		r, err := policyToRow(p)
		if err != nil {
			return err
		}
		now := s.clock()
		r.ID, r.Version, r.CreatedAt, r.UpdatedAt = 0, 1, now, now
		if err := tx.Create(&r).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return errPolicyName()
			}
			return err
		}
		out = r
		return outbox.Write(ctx, tx, policyChanged(r.ID))
	})
	if err != nil {
		return Policy{}, err
	}
	return out.policy()
}

// UpdatePolicy replaces policy id when its version is still version (0: no
// precondition). Open tickets' clocks are recomputed from their history.
func (s *Service) UpdatePolicy(ctx context.Context, id int64, version int, p Policy) (Policy, error) {
	var out policyRow
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var cur policyRow
		if err := s.forUpdate(tx).Take(&cur, id).Error; err != nil {
			return notFound(err)
		}
		if version != 0 && cur.Version != version {
			return accounts.ErrVersionConflict
		}
		if err := s.validatePolicy(ctx, tx, &p); err != nil {
			return err
		}
		r, err := policyToRow(p)
		if err != nil {
			return err
		}
		r.ID, r.Version, r.CreatedAt, r.UpdatedAt = id, cur.Version+1, cur.CreatedAt, s.clock()
		if err := tx.Save(&r).Error; err != nil {
			if database.IsUniqueViolation(err) {
				return errPolicyName()
			}
			return err
		}
		out = r
		return outbox.Write(ctx, tx, policyChanged(id))
	})
	if err != nil {
		return Policy{}, err
	}
	return out.policy()
}

// DeletePolicy removes policy id; tickets it covered fall to the next
// matching policy when recomputed.
func (s *Service) DeletePolicy(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Delete(&policyRow{}, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return accounts.ErrNotFound
		}
		return outbox.Write(ctx, tx, policyChanged(id))
	})
}
