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
	UpdatedAt     time.Time `gorm:"autoUpdateTime:false"` // the recompute's clock, not gorm's
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

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Millisecond)
	return &v
}

// Fire is the timer handler: it waits out an early firing (asynq stores
// instants in whole seconds), then recomputes, which records whatever is
// due and re-arms. A stale timer finds nothing to do. Firings that arrive
// while earlier ones are being recomputed are recomputed together (see
// coalescer).
func (s *Service) Fire(ctx context.Context, ticketID int64, at time.Time) error {
	if wait := at.Sub(s.now()); wait > 0 && wait <= 5*time.Second {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.fires.recompute(ctx, s, ticketID)
}

// Sweep recomputes every ticket with a clock instant that passed without
// being recorded (a lost Redis, a dead worker, a restart), in batches, and
// returns how many tickets it visited; then it arms the timers of the
// instants coming within the horizon (see WithTimerHorizon). Run once per
// slot across replicas; concurrent sweeps are harmless (the unique key of
// sla_events records each instant once).
//
// A batch of due tickets reads the policies once and is recomputed in
// chunks of sweepChunk tickets, one transaction each (see recompute.go),
// several chunks at once on MySQL/MariaDB and one at a time on SQLite,
// which has one writer.
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
		n, err := s.recomputeMany(ctx, todo)
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

// RecomputeAll recomputes every ticket that is not closed, 500 at a time, for
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
		done, err := s.recomputeMany(ctx, ids)
		n += done
		if err != nil {
			return n, err
		}
		if done < len(ids) {
			// Logged per ticket; failing makes the policy change's job retry.
			return n, fmt.Errorf("sla: %d of %d tickets could not be recomputed", len(ids)-done, len(ids))
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
			err = s.actor.Notify(ctx, ev.TicketID, a.To, ev.Kind, reason)
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
