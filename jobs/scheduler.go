package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"

	"github.com/loopdesk/loopdesk/internal/database"
)

// SlotLayout formats a slot: the scheduled tick time in UTC, to the second.
const SlotLayout = "2006-01-02T15:04:05Z"

// SchedulerConfig tunes a Scheduler. Zero values get the defaults noted.
type SchedulerConfig struct {
	Logger   *slog.Logger     // default: discard
	Instance string           // replica name stored as claimed_by; default hostname-pid
	Clock    func() time.Time // claimed_at and pruning; default time.Now
	// SlotRetention is how long claims are kept before pruning (hourly);
	// default 7 days.
	SlotRetention time.Duration
}

// specParser accepts the standard five fields or six with leading seconds
// ("*/10 * * * * *"), plus descriptors such as @hourly and @daily.
var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

type schedJob struct {
	name, spec, taskType string
	payload              []byte
	entry                cron.EntryID
}

// Scheduler runs periodic tasks once per time slot across all replicas:
// every replica's cron ticks, but only the one whose INSERT into job_slots
// succeeds enqueues, and the task ID (name:slot) guards Redis as well.
type Scheduler struct {
	db     *database.DB
	client *Client
	cfg    SchedulerConfig
	log    *slog.Logger
	cron   *cron.Cron

	mu   sync.Mutex
	jobs map[string]*schedJob
}

// NewScheduler builds a scheduler; Add jobs, then Start it.
func NewScheduler(db *database.DB, client *Client, cfg SchedulerConfig) *Scheduler {
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.SlotRetention <= 0 {
		cfg.SlotRetention = 7 * 24 * time.Hour
	}
	log := orDiscard(cfg.Logger).With("component", "scheduler", "instance", cfg.Instance)
	cl := cronLogger{log}
	s := &Scheduler{db: db, client: client, cfg: cfg, log: log, jobs: map[string]*schedJob{}}
	// Slots are UTC so replicas in different zones agree; Recover keeps a
	// panicking tick from killing the process (off by default in robfig).
	s.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl),
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))
	s.cron.Schedule(cron.Every(time.Hour), cron.FuncJob(s.prune))
	return s
}

// Add schedules taskType with payload under name. spec is a cron spec in
// UTC: five fields (minute precision), six with leading seconds, or a
// descriptor (@hourly, @daily...). "@every" is refused: its ticks depend on
// when each replica started, so replicas would never agree on a slot.
// name becomes part of the task ID and must be unique (at most 60 chars).
func (s *Scheduler) Add(name, spec, taskType string, payload []byte) error {
	if name == "" || len(name) > 60 || strings.ContainsAny(name, " \t\n") {
		return fmt.Errorf("jobs: schedule name %q: want 1-60 characters, no spaces", name)
	}
	if !ValidTaskType(taskType) {
		return fmt.Errorf("jobs: schedule %s: task type %q is not domain:verb", name, taskType)
	}
	if strings.HasPrefix(strings.TrimSpace(spec), "@every") {
		return fmt.Errorf("jobs: schedule %s: %q: @every is relative to process start and cannot be shared across replicas; use a cron spec such as \"*/30 * * * * *\"", name, spec)
	}
	sched, err := specParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("jobs: schedule %s: cron spec %q: %w", name, spec, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.jobs[name]; dup {
		return fmt.Errorf("jobs: schedule %s added twice", name)
	}
	j := &schedJob{name: name, spec: spec, taskType: taskType, payload: payload}
	s.jobs[name] = j
	j.entry = s.cron.Schedule(sched, cron.FuncJob(func() { s.tick(j) }))
	return nil
}

// tick claims the slot this run was scheduled for. The slot comes from the
// entry's scheduled time, not the wall clock, so a late wake-up on one
// replica still names the same slot as everyone else.
func (s *Scheduler) tick(j *schedJob) {
	s.mu.Lock()
	id := j.entry
	s.mu.Unlock()
	slot := s.cron.Entry(id).Prev
	if slot.IsZero() {
		slot = time.Now().Truncate(time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	claimed, err := s.ClaimAndEnqueue(ctx, j.name, slot)
	switch {
	case err != nil:
		s.log.Error("scheduled job not enqueued", "job", j.name, "slot", slot.UTC().Format(SlotLayout), "err", err)
	case claimed:
		s.log.Debug("scheduled job enqueued", "job", j.name, "slot", slot.UTC().Format(SlotLayout))
	}
}

// ClaimAndEnqueue claims (name, slot) for this replica and, if the claim is
// new, enqueues the job's task with task ID "name:slot". claimed=false with
// a nil error means another replica (or an earlier call) has the slot. If
// the enqueue fails the claim is released and the error returned, so the
// slot can be retried instead of being silently lost.
func (s *Scheduler) ClaimAndEnqueue(ctx context.Context, name string, slot time.Time) (claimed bool, err error) {
	s.mu.Lock()
	j := s.jobs[name]
	s.mu.Unlock()
	if j == nil {
		return false, fmt.Errorf("jobs: no scheduled job %q", name)
	}
	key := slot.UTC().Format(SlotLayout)
	now := s.cfg.Clock().UTC().Truncate(time.Millisecond)
	err = s.db.WithContext(ctx).Exec("INSERT INTO job_slots (job, slot, claimed_by, claimed_at) VALUES (?, ?, ?, ?)",
		name, key, s.cfg.Instance, now).Error
	if database.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jobs: claim %s at %s: %w", name, key, err)
	}
	task := asynq.NewTask(j.taskType, j.payload)
	// The retention keeps the ID taken after completion: a pruned or released
	// claim cannot make the same slot run twice within a day.
	if _, err := s.client.EnqueueOnce(ctx, task, name+":"+key, asynq.Retention(24*time.Hour)); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := s.db.WithContext(rctx).Exec("DELETE FROM job_slots WHERE job = ? AND slot = ? AND claimed_by = ?",
			name, key, s.cfg.Instance).Error; rerr != nil {
			err = errors.Join(err, fmt.Errorf("jobs: release claim: %w", rerr))
		}
		return false, err
	}
	return true, nil
}

// Prune deletes claims older than SlotRetention and returns how many.
// Several replicas pruning at once is harmless.
func (s *Scheduler) Prune(ctx context.Context) (int64, error) {
	cutoff := s.cfg.Clock().UTC().Add(-s.cfg.SlotRetention).Truncate(time.Millisecond)
	res := s.db.WithContext(ctx).Exec("DELETE FROM job_slots WHERE claimed_at < ?", cutoff)
	return res.RowsAffected, res.Error
}

func (s *Scheduler) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n, err := s.Prune(ctx); err != nil {
		s.log.Warn("prune job slots", "err", err)
	} else if n > 0 {
		s.log.Debug("pruned job slots", "rows", n)
	}
}

// Start runs the cron in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling new ticks; the returned context is done when the
// ticks already running have finished.
func (s *Scheduler) Stop() context.Context { return s.cron.Stop() }
