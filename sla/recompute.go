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
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/workflow"
)

// A recompute runs in three steps over one or more tickets in one
// transaction: load locks the tickets and reads what their clocks depend on
// in one statement per table, plan replays each ticket (pure but for
// calendar and workflow lookups) into a list of writes, and flush writes
// them in one statement per table. Recompute is a chunk of one; the sweep
// and RecomputeAll take chunks of sweepChunk tickets, so a sweep costs a
// dozen statements per chunk instead of a dozen per ticket.

type timerChange struct {
	cancel   string
	schedule string
	at       time.Time
}

// env is what recomputes share: the policies, and the calendars and
// workflow definitions read as they are needed. One env serves a Recompute
// or a whole sweep batch.
type env struct {
	policies  []Policy
	mu        sync.Mutex
	schedules map[int64]*Schedule
	flows     map[flowKey]*workflow.Definition
}

type flowKey struct {
	key     string
	version int
}

func newEnv(policies []Policy) *env {
	return &env{policies: policies, schedules: map[int64]*Schedule{}, flows: map[flowKey]*workflow.Definition{}}
}

func (e *env) workflow(ctx context.Context, s *Service, key string, version int) (*workflow.Definition, error) {
	k := flowKey{key, version}
	e.mu.Lock()
	d, ok := e.flows[k]
	e.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := s.flows.GetWorkflow(ctx, key, version)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.flows[k] = d
	e.mu.Unlock()
	return d, nil
}

func (e *env) schedule(ctx context.Context, s *Service, tx *gorm.DB, id *int64) (*Schedule, error) {
	if id == nil {
		return AlwaysOpenSchedule(), nil
	}
	e.mu.Lock()
	sch, ok := e.schedules[*id]
	e.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, err := s.schedule(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.schedules[*id] = sch
	e.mu.Unlock()
	return sch, nil
}

// Recompute replays ticketID's history against the policy that matches it
// now, stores the clocks, records every warning or breach whose instant has
// passed (each exactly once), and re-arms the timers. It is what every
// trigger calls: ticket events, timers, the sweep, policy changes.
func (s *Service) Recompute(ctx context.Context, ticketID int64) error {
	return s.recomputeChunk(ctx, []int64{ticketID}, nil)
}

// recomputeChunk recomputes ids (sorted, so chunks lock tickets in one
// order) in one transaction. e nil reads the policies inside it.
func (s *Service) recomputeChunk(ctx context.Context, ids []int64, e *env) error {
	var timers map[int64][]timerChange
	// sla_events' unique key cannot trip here: every recorder locks the
	// ticket rows first, so a recorded instant is seen before it is written.
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		use := e
		if use == nil {
			pols, err := s.policies(ctx, tx)
			if err != nil {
				return err
			}
			use = newEnv(pols)
		}
		var err error
		timers, err = s.recomputeTx(ctx, tx, ids, use)
		return err
	})
	if err != nil {
		if len(ids) == 1 {
			return fmt.Errorf("sla: recompute ticket %d: %w", ids[0], err)
		}
		return fmt.Errorf("sla: recompute tickets %d..%d (%d): %w", ids[0], ids[len(ids)-1], len(ids), err)
	}
	for _, id := range ids {
		s.applyTimers(ctx, id, timers[id])
	}
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

func (s *Service) recomputeTx(ctx context.Context, tx *gorm.DB, ids []int64, e *env) (map[int64][]timerChange, error) {
	now := s.clock()
	in, err := s.load(tx, ids, e.policies)
	if err != nil {
		return nil, err
	}
	w := &writes{timers: map[int64][]timerChange{}}
	for _, t := range in.tickets {
		if err := s.plan(ctx, tx, e, in, t, now, w); err != nil {
			return nil, fmt.Errorf("ticket %d: %w", t.ID, err)
		}
	}
	return w.timers, w.flush(ctx, tx)
}

// inputs is what load read for a chunk, by ticket id.
type inputs struct {
	tickets  []ticketFacts
	clocks   map[int64][]clockRow
	recorded map[int64][]eventRow
	states   map[int64][]historyRow
	replies  map[int64][]reply
	tiers    map[int64]int    // department id -> tier
	emails   map[int64]string // requester id -> email
}

type reply struct {
	TicketID  int64
	AuthorID  int64
	CreatedAt time.Time
}

// byTicket groups rows by their ticket id, keeping their order.
func byTicket[T any](rows []T, ticketID func(T) int64) map[int64][]T {
	out := make(map[int64][]T)
	for _, r := range rows {
		out[ticketID(r)] = append(out[ticketID(r)], r)
	}
	return out
}

// load locks ids' ticket rows and reads their clocks, recorded events,
// state changes and public replies, and what matching the policies needs
// beyond the ticket row (a department's tier, a requester's email) only if
// some active policy matches on it. Deleted tickets are simply absent.
func (s *Service) load(tx *gorm.DB, ids []int64, policies []Policy) (*inputs, error) {
	in := &inputs{tiers: map[int64]int{}, emails: map[int64]string{}}
	if err := s.forUpdate(tx).Where("id IN ?", ids).Order("id").Find(&in.tickets).Error; err != nil {
		return nil, err
	}
	if len(in.tickets) == 0 {
		return in, nil
	}
	tids := make([]int64, len(in.tickets))
	for i, t := range in.tickets {
		tids[i] = t.ID
	}
	var clocks []clockRow
	if err := tx.Where("ticket_id IN ?", tids).Order("id").Find(&clocks).Error; err != nil {
		return nil, err
	}
	in.clocks = byTicket(clocks, func(c clockRow) int64 { return c.TicketID })
	var events []eventRow
	if err := tx.Select("ticket_id", "metric", "cycle", "kind").Where("ticket_id IN ?", tids).Find(&events).Error; err != nil {
		return nil, err
	}
	in.recorded = byTicket(events, func(ev eventRow) int64 { return ev.TicketID })
	var states []historyRow
	if err := tx.Select("ticket_id", "at", "from_value", "to_value").Where("ticket_id IN ? AND kind = ?", tids, "state").
		Order("id").Find(&states).Error; err != nil {
		return nil, err
	}
	in.states = byTicket(states, func(h historyRow) int64 { return h.TicketID })
	var replies []reply
	if err := tx.Table("ticket_comments").Select("ticket_id", "author_id", "created_at").
		Where("ticket_id IN ? AND internal = ?", tids, false).Order("id").Find(&replies).Error; err != nil {
		return nil, err
	}
	in.replies = byTicket(replies, func(r reply) int64 { return r.TicketID })
	var needTier, needEmail bool
	for _, p := range policies {
		if p.Active {
			needTier = needTier || len(p.Match.Tier) > 0
			needEmail = needEmail || len(p.Match.Organization) > 0
		}
	}
	if needTier {
		var deps []int64
		for _, t := range in.tickets {
			if t.DepartmentID != nil && !slices.Contains(deps, *t.DepartmentID) {
				deps = append(deps, *t.DepartmentID)
			}
		}
		if len(deps) > 0 {
			var rows []struct {
				ID   int64
				Tier int
			}
			if err := tx.Table("departments").Select("id", "tier").Where("id IN ?", deps).Find(&rows).Error; err != nil {
				return nil, err
			}
			for _, r := range rows {
				in.tiers[r.ID] = r.Tier
			}
		}
	}
	if needEmail {
		var users []int64
		for _, t := range in.tickets {
			if !slices.Contains(users, t.RequesterID) {
				users = append(users, t.RequesterID)
			}
		}
		var rows []struct {
			ID    int64
			Email string
		}
		if err := tx.Table("users").Select("id", "email").Where("id IN ?", users).Find(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			in.emails[r.ID] = r.Email
		}
	}
	return in, nil
}

// facts is what policies match on.
func (in *inputs) facts(t ticketFacts) Facts {
	f := Facts{Priority: t.Priority, Type: t.WorkflowKey, Category: t.Category, DepartmentID: t.DepartmentID,
		RequesterEmail: in.emails[t.RequesterID]}
	if t.DepartmentID != nil {
		f.DepartmentTier = in.tiers[*t.DepartmentID]
	}
	return f
}

// writes collects a chunk's writes for flush.
type writes struct {
	events      []eventRow
	history     []historyRow
	outbox      []outbox.Event
	created     []clockRow // new clocks
	updated     []clockRow // existing clocks, all columns rewritten
	dropClocks  []int64    // clock ids
	dropTickets []int64    // tickets whose clocks all go
	timers      map[int64][]timerChange
}

func (w *writes) addHistory(ticketID int64, at time.Time, event, field, from, to, note string) {
	w.history = append(w.history, historyRow{TicketID: ticketID, At: at, Kind: "sla", Field: field, Event: event,
		FromValue: from, ToValue: to, Note: note})
}

// flush writes everything in one statement per table and kind.
func (w *writes) flush(ctx context.Context, tx *gorm.DB) error {
	if len(w.events) > 0 {
		if err := tx.Create(&w.events).Error; err != nil {
			return err
		}
	}
	if len(w.history) > 0 {
		if err := tx.Create(&w.history).Error; err != nil {
			return err
		}
	}
	if err := outbox.Write(ctx, tx, w.outbox...); err != nil {
		return err
	}
	if len(w.dropTickets) > 0 {
		if err := tx.Where("ticket_id IN ?", w.dropTickets).Delete(&clockRow{}).Error; err != nil {
			return err
		}
	}
	if len(w.dropClocks) > 0 {
		if err := tx.Where("id IN ?", w.dropClocks).Delete(&clockRow{}).Error; err != nil {
			return err
		}
	}
	if len(w.created) > 0 {
		if err := tx.Create(&w.created).Error; err != nil {
			return err
		}
	}
	if len(w.updated) > 0 {
		// An upsert on the primary key rewrites the rows in one statement
		// (the rows exist: their tickets are locked).
		if err := tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&w.updated).Error; err != nil {
			return err
		}
	}
	return nil
}

// plan replays one ticket against the policy that matches it now and adds
// what changes to w.
func (s *Service) plan(ctx context.Context, tx *gorm.DB, e *env, in *inputs, t ticketFacts, now time.Time, w *writes) error {
	existing := in.clocks[t.ID]
	p, ok := Choose(e.policies, in.facts(t))
	if !ok {
		// No policy covers the ticket any more: its clocks go.
		for _, c := range existing {
			if c.NextAt != nil && s.inReach(*c.NextAt, now) {
				w.timers[t.ID] = append(w.timers[t.ID], timerChange{cancel: TimerID(t.ID, Metric(c.Metric), *c.NextAt)})
			}
		}
		if len(existing) > 0 {
			w.dropTickets = append(w.dropTickets, t.ID)
			w.addHistory(t.ID, now, "policy", "", strconv.FormatInt(existing[0].PolicyID, 10), "",
				"No SLA policy matches the ticket any more; its clocks were removed")
		}
		return nil
	}
	sched, err := e.schedule(ctx, s, tx, p.CalendarID)
	if err != nil {
		return err
	}
	tl, err := s.timeline(ctx, e, in, t)
	if err != nil {
		return err
	}
	recorded := in.recorded[t.ID]
	has := func(m Metric, cycle int, kind string) bool {
		return slices.ContainsFunc(recorded, func(ev eventRow) bool {
			return ev.Metric == string(m) && ev.Cycle == cycle && ev.Kind == kind
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
			return err
		}
		if comp.Cycle == 0 {
			continue // next_response before any requester reply: no clock yet
		}
		kept[string(target.Metric)] = true
		old, had := byMetric[string(target.Metric)]
		row := clockRow{ID: old.ID, TicketID: t.ID, Metric: string(target.Metric), PolicyID: p.ID,
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
			record(w, &row, p, target, KindBreach, *comp.DueAt, now)
			breached = true
		} else if warnPassed && !warned && !breached && !duePassed {
			record(w, &row, p, target, KindWarning, *comp.WarnAt, now)
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
		clockHistory(w, now, had, old, row, p, target)
		if row.ID == 0 {
			w.created = append(w.created, row)
		} else {
			w.updated = append(w.updated, row)
		}
		w.timers[t.ID] = append(w.timers[t.ID], s.timerFor(t.ID, target.Metric, old.NextAt, row.NextAt, now))
	}
	for _, c := range existing {
		if !kept[c.Metric] {
			w.dropClocks = append(w.dropClocks, c.ID)
			w.timers[t.ID] = append(w.timers[t.ID], s.timerFor(t.ID, Metric(c.Metric), c.NextAt, nil, now))
		}
	}
	return nil
}

// record adds one warning or breach: the event row (whose unique key makes
// it exactly once), the clock's mark, a history entry and the outbox event
// that runs the actions.
func record(w *writes, row *clockRow, p Policy, t Target, kind string, at, now time.Time) {
	w.events = append(w.events, eventRow{TicketID: row.TicketID, Metric: row.Metric, Cycle: row.Cycle, Kind: kind,
		PolicyID: p.ID, DueAt: at.Truncate(time.Millisecond), RecordedAt: now})
	if kind == KindWarning {
		row.FirstWarnedAt = ptr(now)
	} else {
		row.BreachedAt = ptr(at.Truncate(time.Millisecond))
	}
	what, typ := "warning point reached", EventWarned
	if kind == KindBreach {
		what, typ = "breached", EventBreached
	}
	w.addHistory(row.TicketID, now, kind, row.Metric, "", at.UTC().Format(time.RFC3339Nano),
		fmt.Sprintf("%s target of %s (policy %q) %s; due %s", metricLabel(Metric(row.Metric)),
			time.Duration(t.Within), p.Name, what, row.dueString()))
	w.outbox = append(w.outbox, outbox.Event{Type: typ, AggregateType: "ticket", AggregateID: strconv.FormatInt(row.TicketID, 10),
		Payload: RecordedEvent{TicketID: row.TicketID, Metric: Metric(row.Metric), Cycle: row.Cycle, Kind: kind, PolicyID: p.ID, DueAt: at}})
}

// clockHistory records a clock starting, a new policy, and a target met.
func clockHistory(w *writes, now time.Time, had bool, old, row clockRow, p Policy, t Target) {
	switch {
	case !had || old.Cycle != row.Cycle:
		w.addHistory(row.TicketID, now, "started", row.Metric, "", row.dueString(),
			fmt.Sprintf("%s clock started under policy %q: %s", metricLabel(Metric(row.Metric)), p.Name, time.Duration(t.Within)))
	case old.PolicyID != row.PolicyID || old.TargetMs != row.TargetMs:
		w.addHistory(row.TicketID, now, "recomputed", row.Metric, old.dueString(), row.dueString(),
			fmt.Sprintf("%s clock recomputed from the ticket's history under policy %q: %s", metricLabel(Metric(row.Metric)), p.Name, time.Duration(t.Within)))
	case old.DueAt != nil && row.DueAt != nil && !old.DueAt.Equal(*row.DueAt) && old.State == row.State:
		w.addHistory(row.TicketID, now, "recomputed", row.Metric, old.dueString(), row.dueString(),
			fmt.Sprintf("%s due time moved", metricLabel(Metric(row.Metric))))
	}
	if row.MetAt != nil && (old.MetAt == nil || !had) {
		w.addHistory(row.TicketID, now, "met", row.Metric, "", row.MetAt.UTC().Format(time.RFC3339Nano),
			fmt.Sprintf("%s target met", metricLabel(Metric(row.Metric))))
	}
	if had && old.State != row.State && row.MetAt == nil {
		w.addHistory(row.TicketID, now, string(row.State), row.Metric, old.State, row.State,
			fmt.Sprintf("%s clock %s", metricLabel(Metric(row.Metric)), row.State))
	}
}

// timeline builds a ticket's state changes and public replies.
func (s *Service) timeline(ctx context.Context, e *env, in *inputs, t ticketFacts) (Timeline, error) {
	def, err := e.workflow(ctx, s, t.WorkflowKey, t.WorkflowVersion)
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
	states, replies := in.states[t.ID], in.replies[t.ID]
	if len(states) > 0 {
		tl.Initial = behaviour(states[0].FromValue)
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

// sweepChunk is how many tickets the sweep and RecomputeAll recompute in
// one transaction: large enough that statements per ticket fall well below
// one, small enough that a chunk's row locks are held for milliseconds.
const sweepChunk = 25

// sweepWorkers is how many chunks are recomputed at once.
func (s *Service) sweepWorkers() int {
	if s.sweepConc > 0 {
		return s.sweepConc
	}
	if s.db.Dialect == database.SQLite {
		return 1 // one writer: more would only queue on the lock
	}
	// Page reads (1M tickets do not fit a default 128 MB buffer pool) and
	// commits overlap across connections (in BenchmarkSLASweep, 4 or 8
	// chunks of 10-50 tickets at once were within 30 % of each other).
	return 8
}

// recomputeEach recomputes ids (sorted) as one chunk and, if that fails,
// one ticket at a time, so one bad ticket does not fail the others. It
// returns the error of each ticket that could not be recomputed.
func (s *Service) recomputeEach(ctx context.Context, ids []int64, e *env) map[int64]error {
	err := s.recomputeChunk(ctx, ids, e)
	switch {
	case err == nil:
		return nil
	case len(ids) == 1:
		return map[int64]error{ids[0]: err}
	}
	failed := map[int64]error{}
	for _, id := range ids {
		if err := s.recomputeChunk(ctx, []int64{id}, e); err != nil {
			failed[id] = err
		}
	}
	return failed
}

// recomputeMany recomputes ids with the policies read once, in sorted
// chunks on sweepWorkers goroutines, and returns how many it recomputed. A
// chunk that fails is retried one ticket at a time, so one bad ticket is
// logged and left for the next sweep without holding back the others; a
// cancelled ctx stops it.
func (s *Service) recomputeMany(ctx context.Context, ids []int64) (int, error) {
	pols, err := s.policies(ctx, s.conn(ctx))
	if err != nil {
		return 0, err
	}
	e := newEnv(pols)
	ids = slices.Clone(ids)
	slices.Sort(ids)
	work := make(chan []int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(s.sweepWorkers(), (len(ids)+sweepChunk-1)/sweepChunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range work {
				failed := s.recomputeEach(ctx, chunk, e)
				for id, err := range failed {
					if !errors.Is(err, context.Canceled) {
						s.log.Error("sla: recompute failed", "ticket_id", id, "err", err)
					}
				}
				n := len(chunk) - len(failed)
				mu.Lock()
				done += n
				mu.Unlock()
			}
		}()
	}
feed:
	for chunk := range slices.Chunk(ids, sweepChunk) {
		select {
		case work <- chunk:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return done, ctx.Err()
}
