package sla

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// Recorded kinds in sla_events and history.
const (
	KindWarning = "warning"
	KindBreach  = "breach"
)

type clockRow struct {
	ID            int64
	TicketID      int64
	Metric        string
	PolicyID      int64
	TargetMs      int64
	Cycle         int
	State         string
	StartedAt     time.Time
	ElapsedMs     int64
	WarnAt        *time.Time
	DueAt         *time.Time
	FirstWarnedAt *time.Time
	BreachedAt    *time.Time
	MetAt         *time.Time
	NextAt        *time.Time
	UpdatedAt     time.Time
}

func (clockRow) TableName() string { return "sla_clocks" }

func (r clockRow) clock() Clock {
	return Clock{TicketID: r.TicketID, Metric: Metric(r.Metric), PolicyID: r.PolicyID,
		Target: time.Duration(r.TargetMs) * time.Millisecond, TargetSeconds: r.TargetMs / 1000,
		Cycle: r.Cycle, State: ClockState(r.State), StartedAt: r.StartedAt,
		Elapsed: time.Duration(r.ElapsedMs) * time.Millisecond, ElapsedSeconds: r.ElapsedMs / 1000,
		WarnAt: r.WarnAt, DueAt: r.DueAt, FirstWarnedAt: r.FirstWarnedAt, BreachedAt: r.BreachedAt,
		MetAt: r.MetAt, UpdatedAt: r.UpdatedAt}
}

type eventRow struct {
	ID            int64
	TicketID      int64
	Metric        string
	Cycle         int
	Kind          string
	PolicyID      int64
	DueAt         time.Time
	RecordedAt    time.Time
	ActionsDoneAt *time.Time
}

func (eventRow) TableName() string { return "sla_events" }

// historyRow is the tickets domain's append-only history table; SLA events
// are part of a ticket's story.
type historyRow struct {
	ID        int64
	TicketID  int64
	ActorID   *int64
	At        time.Time
	Kind      string
	Field     string
	Event     string
	FromValue string
	ToValue   string
	Note      string
}

func (historyRow) TableName() string { return "ticket_history" }

// ticketFacts is what the engine reads of a ticket.
type ticketFacts struct {
	ID              int64
	Status          string
	StatusCategory  string
	Priority        string
	WorkflowKey     string
	WorkflowVersion int
	Category        string
	DepartmentID    *int64
	RequesterID     int64
	CreatedAt       time.Time
}

func (ticketFacts) TableName() string { return "tickets" }

// TimerID is the deterministic task ID of the timer for one clock instant:
// the same instant always gets the same ID, so scheduling twice is harmless
// and a stale timer can be cancelled by recomputing its ID.
func TimerID(ticketID int64, m Metric, at time.Time) string {
	return "sla:" + strconv.FormatInt(ticketID, 10) + ":" + string(m) + ":" + strconv.FormatInt(at.UnixMilli(), 10)
}

type timerChange struct {
	cancel   string
	schedule string
	at       time.Time
}

// Recompute replays ticketID's history against the policy that matches it
// now, stores the clocks, records every warning or breach whose instant has
// passed (each exactly once), and re-arms the timers. It is what every
// trigger calls: ticket events, timers, the sweep, policy changes.
func (s *Service) Recompute(ctx context.Context, ticketID int64) error {
	return s.recomputeWith(ctx, ticketID, nil)
}

// recomputeWith is Recompute with what a sweep batch has already read
// (b: nil reads everything inside the ticket's transaction).
func (s *Service) recomputeWith(ctx context.Context, ticketID int64, b *sweepBatch) error {
	var changes []timerChange
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		changes = changes[:0]
		var err error
		changes, err = s.recompute(ctx, tx, ticketID, b)
		return err
	})
	if err != nil {
		return fmt.Errorf("sla: recompute ticket %d: %w", ticketID, err)
	}
	s.applyTimers(ctx, ticketID, changes)
	return nil
}

func (s *Service) applyTimers(ctx context.Context, ticketID int64, changes []timerChange) {
	if s.timer == nil {
		return
	}
	for _, c := range changes {
		if c.cancel != "" {
			if err := s.timer.Cancel(ctx, c.cancel); err != nil {
				s.log.Warn("sla: cancel stale timer (it will fire and find nothing to do)", "task_id", c.cancel, "err", err)
			}
		}
		if c.schedule != "" {
			if err := s.timer.Schedule(ctx, c.schedule, c.at, ticketID); err != nil {
				s.log.Warn("sla: schedule timer (the sweep will catch the instant)", "task_id", c.schedule, "err", err)
			}
		}
	}
}

func (s *Service) recompute(ctx context.Context, tx *gorm.DB, ticketID int64, b *sweepBatch) ([]timerChange, error) {
	now := s.clock()
	var t ticketFacts
	if err := s.forUpdate(tx).Take(&t, ticketID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil // deleted: its clocks went with it
		}
		return nil, err
	}
	var existing []clockRow
	if err := tx.Where("ticket_id = ?", ticketID).Find(&existing).Error; err != nil {
		return nil, err
	}
	var policies []Policy
	var err error
	if b != nil {
		policies = b.policies
	} else if policies, err = s.policies(ctx, tx); err != nil {
		return nil, err
	}
	facts, err := s.facts(ctx, tx, t, policies)
	if err != nil {
		return nil, err
	}
	var changes []timerChange
	p, ok := Choose(policies, facts)
	if !ok {
		// No policy covers the ticket any more: its clocks go.
		for _, c := range existing {
			if c.NextAt != nil && s.inReach(*c.NextAt, now) {
				changes = append(changes, timerChange{cancel: TimerID(ticketID, Metric(c.Metric), *c.NextAt)})
			}
		}
		if len(existing) > 0 {
			if err := tx.Where("ticket_id = ?", ticketID).Delete(&clockRow{}).Error; err != nil {
				return nil, err
			}
			s.addHistory(tx, ticketID, now, "policy", "", strconv.FormatInt(existing[0].PolicyID, 10), "",
				"No SLA policy matches the ticket any more; its clocks were removed")
		}
		return changes, nil
	}
	var sched *Schedule
	if b != nil {
		sched, err = b.schedule(ctx, s, tx, p.CalendarID)
	} else {
		sched, err = s.schedule(ctx, tx, p.CalendarID)
	}
	if err != nil {
		return nil, err
	}
	tl, err := s.timeline(ctx, tx, t, b)
	if err != nil {
		return nil, err
	}
	var recorded []eventRow
	if err := tx.Select("metric", "cycle", "kind").Where("ticket_id = ?", ticketID).Find(&recorded).Error; err != nil {
		return nil, err
	}
	has := func(m Metric, cycle int, kind string) bool {
		return slices.ContainsFunc(recorded, func(e eventRow) bool {
			return e.Metric == string(m) && e.Cycle == cycle && e.Kind == kind
		})
	}
	byMetric := map[string]clockRow{}
	for _, c := range existing {
		byMetric[c.Metric] = c
	}
	kept := map[string]bool{}
	for _, target := range p.Targets {
		comp, err := Replay(tl, target, sched, now)
		if err != nil {
			return nil, err
		}
		if comp.Cycle == 0 {
			continue // next_response before any requester reply: no clock yet
		}
		kept[string(target.Metric)] = true
		old, had := byMetric[string(target.Metric)]
		row := clockRow{ID: old.ID, TicketID: ticketID, Metric: string(target.Metric), PolicyID: p.ID,
			TargetMs: time.Duration(target.Within).Milliseconds(), Cycle: comp.Cycle, State: string(comp.State),
			StartedAt: comp.StartedAt, ElapsedMs: comp.Elapsed.Milliseconds(), WarnAt: msPtr(comp.WarnAt),
			DueAt: msPtr(comp.DueAt), MetAt: msPtr(comp.MetAt), UpdatedAt: now}
		if had && old.Cycle == comp.Cycle {
			row.FirstWarnedAt, row.BreachedAt = old.FirstWarnedAt, old.BreachedAt
		}
		duePassed := comp.DueAt != nil && !comp.DueAt.After(now)
		warnPassed := comp.WarnAt != nil && !comp.WarnAt.After(now)
		breached := has(target.Metric, comp.Cycle, KindBreach)
		warned := has(target.Metric, comp.Cycle, KindWarning)
		if duePassed && !breached {
			if err := s.record(ctx, tx, &row, p, target, KindBreach, *comp.DueAt, now); err != nil {
				return nil, err
			}
			breached = true
		} else if warnPassed && !warned && !breached && !duePassed {
			if err := s.record(ctx, tx, &row, p, target, KindWarning, *comp.WarnAt, now); err != nil {
				return nil, err
			}
			warned = true
		}
		if breached && row.BreachedAt == nil {
			row.BreachedAt = msPtr(comp.DueAt)
		}
		// The next instant worth a timer: the warning, then the due instant.
		if comp.State == ClockRunning {
			switch {
			case comp.WarnAt != nil && !warned && !breached && comp.WarnAt.After(now):
				row.NextAt = msPtr(comp.WarnAt)
			case comp.DueAt != nil && !breached && comp.DueAt.After(now):
				row.NextAt = msPtr(comp.DueAt)
			}
		}
		s.clockHistory(tx, now, had, old, row, p, target)
		if err := tx.Save(&row).Error; err != nil {
			return nil, err
		}
		changes = append(changes, s.timerFor(ticketID, target.Metric, old.NextAt, row.NextAt, now))
	}
	for _, c := range existing {
		if !kept[c.Metric] {
			if err := tx.Delete(&clockRow{}, c.ID).Error; err != nil {
				return nil, err
			}
			changes = append(changes, s.timerFor(ticketID, Metric(c.Metric), c.NextAt, nil, now))
		}
	}
	return changes, nil
}

func (s *Service) timerFor(ticketID int64, m Metric, old, next *time.Time, now time.Time) timerChange {
	var c timerChange
	same := old != nil && next != nil && old.Equal(*next)
	// A past instant's timer is the one firing now (asynq refuses to delete
	// an active task) or already done: only future ones are cancelled, and
	// only if some Recompute or sweep could have armed them.
	if old != nil && !same && old.After(now) && s.inReach(*old, now) {
		c.cancel = TimerID(ticketID, m, *old)
	}
	if next != nil && s.inReach(*next, now) {
		// Scheduling an existing ID is harmless; doing it again repairs a
		// timer lost with Redis.
		c.schedule, c.at = TimerID(ticketID, m, *next), *next
	}
	return c
}

// inReach says whether Recompute arms (and may have armed) the timer of an
// instant: with a horizon, only instants before now + horizon + armSlack;
// the sweep arms the later ones as they come within the horizon.
func (s *Service) inReach(at, now time.Time) bool {
	return s.horizon <= 0 || at.Before(now.Add(s.horizon+armSlack))
}

// record writes one warning or breach: the event row (whose unique key
// makes it exactly once), the clock's mark, a history entry and the outbox
// event that runs the actions.
func (s *Service) record(ctx context.Context, tx *gorm.DB, row *clockRow, p Policy, t Target, kind string, at, now time.Time) error {
	ev := eventRow{TicketID: row.TicketID, Metric: row.Metric, Cycle: row.Cycle, Kind: kind, PolicyID: p.ID,
		DueAt: at.Truncate(time.Millisecond), RecordedAt: now}
	if err := tx.Create(&ev).Error; err != nil {
		if database.IsUniqueViolation(err) {
			return nil // another worker got there first
		}
		return err
	}
	if kind == KindWarning {
		row.FirstWarnedAt = ptr(now)
	} else {
		row.BreachedAt = ptr(at.Truncate(time.Millisecond))
	}
	what := "warning point reached"
	if kind == KindBreach {
		what = "breached"
	}
	s.addHistory(tx, row.TicketID, now, kind, row.Metric, "", at.UTC().Format(time.RFC3339Nano),
		fmt.Sprintf("%s target of %s (policy %q) %s; due %s", metricLabel(Metric(row.Metric)),
			time.Duration(t.Within), p.Name, what, row.dueString()))
	typ := EventWarned
	if kind == KindBreach {
		typ = EventBreached
	}
	return outbox.Write(ctx, tx, outbox.Event{Type: typ, AggregateType: "ticket", AggregateID: strconv.FormatInt(row.TicketID, 10),
		Payload: RecordedEvent{TicketID: row.TicketID, Metric: Metric(row.Metric), Cycle: row.Cycle, Kind: kind, PolicyID: p.ID, DueAt: at}})
}

func (r clockRow) dueString() string {
	if r.DueAt == nil {
		return "-"
	}
	return r.DueAt.UTC().Format(time.RFC3339Nano)
}

func metricLabel(m Metric) string {
	switch m {
	case FirstResponse:
		return "First response"
	case NextResponse:
		return "Next response"
	}
	return "Resolution"
}

// clockHistory records a clock starting, a new policy, and a target met.
func (s *Service) clockHistory(tx *gorm.DB, now time.Time, had bool, old, row clockRow, p Policy, t Target) {
	switch {
	case !had || old.Cycle != row.Cycle:
		s.addHistory(tx, row.TicketID, now, "started", row.Metric, "", row.dueString(),
			fmt.Sprintf("%s clock started under policy %q: %s", metricLabel(Metric(row.Metric)), p.Name, time.Duration(t.Within)))
	case old.PolicyID != row.PolicyID || old.TargetMs != row.TargetMs:
		s.addHistory(tx, row.TicketID, now, "recomputed", row.Metric, old.dueStringOr(), row.dueString(),
			fmt.Sprintf("%s clock recomputed from the ticket's history under policy %q: %s", metricLabel(Metric(row.Metric)), p.Name, time.Duration(t.Within)))
	case old.DueAt != nil && row.DueAt != nil && !old.DueAt.Equal(*row.DueAt) && old.State == row.State:
		s.addHistory(tx, row.TicketID, now, "recomputed", row.Metric, old.dueString(), row.dueString(),
			fmt.Sprintf("%s due time moved", metricLabel(Metric(row.Metric))))
	}
	if row.MetAt != nil && (old.MetAt == nil || !had) {
		s.addHistory(tx, row.TicketID, now, "met", row.Metric, "", row.MetAt.UTC().Format(time.RFC3339Nano),
			fmt.Sprintf("%s target met", metricLabel(Metric(row.Metric))))
	}
	if had && old.State != row.State && row.MetAt == nil {
		s.addHistory(tx, row.TicketID, now, string(row.State), row.Metric, old.State, row.State,
			fmt.Sprintf("%s clock %s", metricLabel(Metric(row.Metric)), row.State))
	}
}

func (r clockRow) dueStringOr() string { return r.dueString() }

func (s *Service) addHistory(tx *gorm.DB, ticketID int64, at time.Time, event, field, from, to, note string) {
	// Errors surface on the transaction's next statement; history is
	// written through the same tx so it cannot be lost alone.
	tx.Create(&historyRow{TicketID: ticketID, At: at, Kind: "sla", Field: field, Event: event,
		FromValue: from, ToValue: to, Note: note})
}

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Millisecond)
	return &v
}

// facts reads what matching against policies needs beyond the ticket row:
// the department's tier and the requester's email only if some active
// policy matches on them.
func (s *Service) facts(ctx context.Context, tx *gorm.DB, t ticketFacts, policies []Policy) (Facts, error) {
	f := Facts{Priority: t.Priority, Type: t.WorkflowKey, Category: t.Category, DepartmentID: t.DepartmentID}
	var needTier, needEmail bool
	for _, p := range policies {
		if p.Active {
			needTier = needTier || len(p.Match.Tier) > 0
			needEmail = needEmail || len(p.Match.Organization) > 0
		}
	}
	if t.DepartmentID != nil && needTier {
		var tier []int
		if err := tx.Table("departments").Where("id = ?", *t.DepartmentID).Pluck("tier", &tier).Error; err != nil {
			return f, err
		}
		if len(tier) > 0 {
			f.DepartmentTier = tier[0]
		}
	}
	if !needEmail {
		return f, nil
	}
	var email []string
	if err := tx.Table("users").Where("id = ?", t.RequesterID).Pluck("email", &email).Error; err != nil {
		return f, err
	}
	if len(email) > 0 {
		f.RequesterEmail = email[0]
	}
	return f, nil
}

// timeline reads the state changes and public replies of a ticket.
func (s *Service) timeline(ctx context.Context, tx *gorm.DB, t ticketFacts, b *sweepBatch) (Timeline, error) {
	var def *workflow.Definition
	var err error
	if b != nil {
		def, err = b.workflow(ctx, s, t.WorkflowKey, t.WorkflowVersion)
	} else {
		def, err = s.flows.GetWorkflow(ctx, t.WorkflowKey, t.WorkflowVersion)
	}
	if err != nil {
		return Timeline{}, fmt.Errorf("workflow %s v%d: %w", t.WorkflowKey, t.WorkflowVersion, err)
	}
	behaviour := func(state string) workflow.SLABehaviour {
		if st, ok := def.State(state); ok {
			return st.SLA
		}
		return workflow.SLARunning // a state of an older version: count it
	}
	tl := Timeline{Created: t.CreatedAt, Initial: behaviour(def.Initial)}
	var states []historyRow
	if err := tx.Select("at", "from_value", "to_value").Where("ticket_id = ? AND kind = ?", t.ID, "state").
		Order("id").Find(&states).Error; err != nil {
		return tl, err
	}
	if len(states) > 0 {
		tl.Initial = behaviour(states[0].FromValue)
	}
	type reply struct {
		AuthorID  int64
		CreatedAt time.Time
	}
	var replies []reply
	if err := tx.Table("ticket_comments").Select("author_id", "created_at").
		Where("ticket_id = ? AND internal = ?", t.ID, false).Order("id").Find(&replies).Error; err != nil {
		return tl, err
	}
	steps := make([]Step, 0, len(states)+len(replies))
	for _, h := range states {
		steps = append(steps, Step{At: h.At, Kind: StepState, SLA: behaviour(h.ToValue)})
	}
	for _, r := range replies {
		k := StepTeamReply
		if r.AuthorID == t.RequesterID {
			k = StepRequesterReply
		}
		steps = append(steps, Step{At: r.CreatedAt, Kind: k})
	}
	// A reply and a transition at the same instant: the reply counts first
	// (a "resolve with a reply" answers before it stops the clock).
	slices.SortStableFunc(steps, func(a, b Step) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return stateLast(a) - stateLast(b)
	})
	tl.Steps = steps
	return tl, nil
}

func stateLast(s Step) int {
	if s.Kind == StepState {
		return 1
	}
	return 0
}

// Fire is the timer handler: it waits out an early firing (asynq stores
// instants in whole seconds), then recomputes, which records whatever is
// due and re-arms. A stale timer finds nothing to do.
func (s *Service) Fire(ctx context.Context, ticketID int64, at time.Time) error {
	if wait := at.Sub(s.now()); wait > 0 && wait <= 5*time.Second {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Recompute(ctx, ticketID)
}

// Sweep recomputes every ticket with a clock instant that passed without
// being recorded (a lost Redis, a dead worker, a restart), in batches, and
// returns how many tickets it visited; then it arms the timers of the
// instants coming within the horizon (see WithTimerHorizon). Run once per
// slot across replicas; concurrent sweeps are harmless (the unique key of
// sla_events records each instant once).
//
// A batch reads the policies and their calendars once and recomputes its
// tickets on a few goroutines, each ticket in its own transaction as
// Recompute does: on MySQL/MariaDB the time is round trips and commits, not
// CPU; SQLite has one writer, so there it stays one at a time.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	start := s.clock()
	visited := 0
	seen := map[int64]bool{}
	for {
		now := s.clock()
		if s.timer != nil {
			// An instant that has just passed is its timer's to record:
			// sweeping it too would only double the work (the second
			// recompute finds the event recorded) when timers run behind.
			now = now.Add(-sweepGrace)
		}
		var ids []int64
		if err := s.conn(ctx).Model(&clockRow{}).Where("next_at <= ?", now).Order("next_at").
			Limit(sweepBatchSize).Pluck("ticket_id", &ids).Error; err != nil {
			return visited, err
		}
		todo := ids[:0:0]
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			break
		}
		n, err := s.sweepBatch(ctx, todo)
		visited += n
		if err != nil {
			return visited, err
		}
		if len(ids) < sweepBatchSize {
			break
		}
	}
	if _, err := s.arm(ctx, start.Add(-sweepGrace)); err != nil {
		return visited, err
	}
	return visited, nil
}

const sweepBatchSize = 500

// sweepGrace: with timers, the sweep leaves instants younger than this to
// them. A lost timer's instant is then recorded by the first sweep at least
// this long after it (so at most 30 s + sweepGrace late in serve).
const sweepGrace = 10 * time.Second

// sweepBatch is what a sweep reads once per batch of due tickets instead of
// once per ticket: the policies, and their calendars and the workflow
// definitions (only read) as they are needed.
type sweepBatch struct {
	policies  []Policy
	mu        sync.Mutex
	schedules map[int64]*Schedule
	flows     map[flowKey]*workflow.Definition
}

type flowKey struct {
	key     string
	version int
}

func (b *sweepBatch) workflow(ctx context.Context, s *Service, key string, version int) (*workflow.Definition, error) {
	k := flowKey{key, version}
	b.mu.Lock()
	d, ok := b.flows[k]
	b.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := s.flows.GetWorkflow(ctx, key, version)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.flows[k] = d
	b.mu.Unlock()
	return d, nil
}

func (b *sweepBatch) schedule(ctx context.Context, s *Service, tx *gorm.DB, id *int64) (*Schedule, error) {
	if id == nil {
		return AlwaysOpenSchedule(), nil
	}
	b.mu.Lock()
	sch, ok := b.schedules[*id]
	b.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, err := s.schedule(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.schedules[*id] = sch
	b.mu.Unlock()
	return sch, nil
}

// sweepWorkers is how many tickets a sweep recomputes at once.
func (s *Service) sweepWorkers() int {
	if s.sweepConc > 0 {
		return s.sweepConc
	}
	if s.db.Dialect == database.SQLite {
		return 1 // one writer: more would only queue on the lock
	}
	// Waiting on page reads and commits more than on CPU (1M tickets do not
	// fit a default 128 MB buffer pool); half the connection pool.
	return 16
}

// sweepBatch recomputes ids with the batch's policies on sweepWorkers
// goroutines. A ticket that fails is logged and left for the next sweep; a
// cancelled ctx stops the batch.
func (s *Service) sweepBatch(ctx context.Context, ids []int64) (int, error) {
	pols, err := s.policies(ctx, s.conn(ctx))
	if err != nil {
		return 0, err
	}
	b := &sweepBatch{policies: pols, schedules: map[int64]*Schedule{}, flows: map[flowKey]*workflow.Definition{}}
	work := make(chan int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(s.sweepWorkers(), len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := s.recomputeWith(ctx, id, b); err != nil {
					s.log.Error("sla sweep: recompute failed", "ticket_id", id, "err", err)
					continue
				}
				mu.Lock()
				done++
				mu.Unlock()
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return done, ctx.Err()
}

// DefaultTimerHorizon is how far ahead timers are armed unless
// WithTimerHorizon says otherwise. The sweep runs every 30 s in serve, so
// an instant is armed at least 90 s before it falls due, and a couple of
// missed sweep slots cost nothing.
const DefaultTimerHorizon = 2 * time.Minute

// armSlack widens what Recompute arms beyond the sweep's horizon, so a
// Recompute whose transaction straddles a sweep's read (or runs on a
// replica whose clock is a little behind) cannot leave an instant to
// neither of them.
const armSlack = time.Minute

// arm schedules the timers of every clock instant in [from, now+horizon),
// where from is where this process's last arming stopped, or since (the
// sweep's start less its grace) if that is later: the sweep recomputed what
// was due before; a past instant's timer fires at once. Timer IDs are
// deterministic (and asynq keeps a fired one's ID a minute), so arming
// again what another replica or a Recompute armed is a no-op. It returns
// how many it armed.
func (s *Service) arm(ctx context.Context, since time.Time) (int, error) {
	if s.timer == nil || s.horizon <= 0 {
		return 0, nil
	}
	now := s.clock()
	to := now.Add(s.horizon)
	s.mu.Lock()
	from := s.armedTo
	s.mu.Unlock()
	if from.Before(since) {
		from = since
	}
	if !from.Before(to) {
		return 0, nil
	}
	type inst struct {
		TicketID int64
		Metric   string
		NextAt   time.Time
	}
	var rows []inst
	if err := s.conn(ctx).Model(&clockRow{}).Select("ticket_id", "metric", "next_at").
		Where("next_at >= ? AND next_at < ?", from, to).Order("next_at").Find(&rows).Error; err != nil {
		return 0, err
	}
	work := make(chan inst)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range min(4, len(rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				at := r.NextAt.UTC()
				if err := s.timer.Schedule(ctx, TimerID(r.TicketID, Metric(r.Metric), at), at, r.TicketID); err != nil {
					s.log.Warn("sla: arm timer (the sweep will catch the instant)", "ticket_id", r.TicketID, "err", err)
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for _, r := range rows {
		work <- r
	}
	close(work)
	wg.Wait()
	if failed == 0 {
		// A failure leaves the mark where it was: the next sweep arms the
		// range again (what did get armed is a no-op then).
		s.mu.Lock()
		if to.After(s.armedTo) {
			s.armedTo = to
		}
		s.mu.Unlock()
	}
	return len(rows) - failed, nil
}

// RecomputeAll recomputes every ticket that is not closed, in id order, for
// a policy or calendar change. It returns how many tickets it visited.
func (s *Service) RecomputeAll(ctx context.Context) (int, error) {
	var after int64
	n := 0
	for {
		var ids []int64
		if err := s.conn(ctx).Model(&ticketFacts{}).Where("id > ? AND status_category <> ?", after, string(workflow.CategoryClosed)).
			Order("id").Limit(500).Pluck("id", &ids).Error; err != nil {
			return n, err
		}
		for _, id := range ids {
			if err := s.Recompute(ctx, id); err != nil {
				return n, err
			}
			n++
		}
		if len(ids) < 500 {
			return n, nil
		}
		after = ids[len(ids)-1]
	}
}

// RunActions carries out a recorded warning's or breach's actions once:
// the event row remembers that they ran. Delivery is at least once, so a
// crash between an action and that mark can repeat the action.
func (s *Service) RunActions(ctx context.Context, ev RecordedEvent) error {
	var row eventRow
	err := s.conn(ctx).Where("ticket_id = ? AND metric = ? AND cycle = ? AND kind = ?", ev.TicketID, string(ev.Metric), ev.Cycle, ev.Kind).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && row.ActionsDoneAt != nil) {
		return nil
	}
	if err != nil {
		return err
	}
	var pr policyRow
	if err := s.conn(ctx).Take(&pr, ev.PolicyID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // the policy went away; nothing left to do
		}
		return err
	}
	p, err := pr.policy()
	if err != nil {
		return err
	}
	var actions []Action
	var within time.Duration
	for _, t := range p.Targets {
		if t.Metric == ev.Metric {
			within = time.Duration(t.Within)
			actions = t.OnBreach
			if ev.Kind == KindWarning {
				actions = t.OnWarning
			}
		}
	}
	reason := fmt.Sprintf("SLA %s: %s target of %s (policy %q), due %s", ev.Kind, metricLabel(ev.Metric), within, p.Name, ev.DueAt.UTC().Format(time.RFC3339Nano))
	for _, a := range actions {
		if s.actor == nil {
			s.log.Warn("sla: no actor wired; action skipped", "action", a.Action, "ticket_id", ev.TicketID)
			continue
		}
		var err error
		switch a.Action {
		case ActionEscalate:
			err = s.actor.Escalate(ctx, ev.TicketID, a, reason)
		case ActionRaisePriority:
			err = s.actor.RaisePriority(ctx, ev.TicketID, a.Priority, reason)
		case ActionNotify:
			err = s.actor.Notify(ctx, ev.TicketID, a.To, reason)
		}
		if err != nil {
			// A refused action (no lead to escalate to, already P1) will not
			// succeed on retry: log it and go on with the others.
			s.log.Warn("sla: action not carried out", "action", a.Action, "ticket_id", ev.TicketID, "err", err)
		}
	}
	return s.conn(ctx).Model(&eventRow{}).Where("id = ?", row.ID).Update("actions_done_at", s.clock()).Error
}

// Clocks returns a ticket's stored clocks in metric order.
func (s *Service) Clocks(ctx context.Context, ticketID int64) ([]Clock, error) {
	m, err := s.ClocksFor(ctx, []int64{ticketID})
	return m[ticketID], err
}

// ClocksFor returns the stored clocks of several tickets in one query.
func (s *Service) ClocksFor(ctx context.Context, ticketIDs []int64) (map[int64][]Clock, error) {
	out := map[int64][]Clock{}
	if len(ticketIDs) == 0 {
		return out, nil
	}
	var rows []clockRow
	if err := s.conn(ctx).Where("ticket_id IN ?", ticketIDs).Find(&rows).Error; err != nil {
		return nil, err
	}
	order := func(m string) int { return slices.Index(Metrics, Metric(m)) }
	slices.SortFunc(rows, func(a, b clockRow) int {
		if a.TicketID != b.TicketID {
			return int(a.TicketID - b.TicketID)
		}
		return order(a.Metric) - order(b.Metric)
	})
	for _, r := range rows {
		out[r.TicketID] = append(out[r.TicketID], r.clock())
	}
	return out, nil
}
