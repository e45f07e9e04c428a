package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loopdesk/loopdesk/internal/outbox"
)

// WorkerConfig tunes a Worker. Zero values get the defaults noted.
type WorkerConfig struct {
	Concurrency int            // handlers running at once; default 10
	Queues      map[string]int // queue name -> priority; default {"default": 1}
	Logger      *slog.Logger   // default: discard
	Registerer  prometheus.Registerer
	// DelayedTaskCheckInterval is how often scheduled and retry tasks are
	// moved to pending: it bounds timer lateness. Default 1s (asynq's 5s
	// makes SLA timers up to 5s late).
	DelayedTaskCheckInterval time.Duration
	// TaskCheckInterval is the poll interval when all queues are empty;
	// default 1s (asynq's). Tests use less.
	TaskCheckInterval time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for running handlers
	// before handing their tasks back to Redis; default 10s.
	ShutdownTimeout time.Duration
}

// Outcomes of loopdesk_jobs_processed_total.
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"  // handler error or panic: asynq retries or archives
	OutcomeIgnored = "ignored" // event nobody handles (yet): acknowledged
)

// Worker runs task handlers: an asynq.Server dispatching through an
// asynq.ServeMux, with metrics, logging and panic recovery around each task.
type Worker struct {
	srv       *asynq.Server
	mux       *asynq.ServeMux
	log       *slog.Logger
	processed *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// NewWorker builds a worker; register handlers, then Start it.
func NewWorker(opt asynq.RedisConnOpt, cfg WorkerConfig) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = map[string]int{DefaultQueue: 1}
	}
	if cfg.DelayedTaskCheckInterval <= 0 {
		cfg.DelayedTaskCheckInterval = time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	log := orDiscard(cfg.Logger).With("component", "worker")
	w := &Worker{mux: asynq.NewServeMux(), log: log}
	var err error
	if w.processed, err = register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loopdesk_jobs_processed_total",
		Help: "Tasks processed by type and outcome (success, failed, ignored).",
	}, []string{"type", "outcome"})); err != nil {
		return nil, err
	}
	if w.duration, err = register(cfg.Registerer, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loopdesk_job_duration_seconds",
		Help:    "Task handler run time by type.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"type"})); err != nil {
		return nil, err
	}
	w.srv = asynq.NewServer(opt, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   cfg.Queues,
		Logger:                   asynqLogger{orDiscard(cfg.Logger)},
		LogLevel:                 asynqLevel(orDiscard(cfg.Logger)),
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
	})
	return w, nil
}

// Handle registers h for event tasks of taskType (exact match). h gets the
// decoded envelope and a context carrying the event's request ID
// (outbox.RequestID). Delivery is at least once: h must be idempotent.
// It panics on a malformed type or a second registration, like http.ServeMux.
func (w *Worker) Handle(taskType string, h func(ctx context.Context, env Envelope) error) {
	mustTaskType(taskType)
	w.mux.HandleFunc(taskType, func(ctx context.Context, t *asynq.Task) error {
		env, err := DecodeEnvelope(t)
		if err != nil {
			// A payload that does not decode never will: archive, do not retry.
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return h(outbox.WithRequestID(ctx, env.RequestID), env)
	})
}

// HandleFunc registers h for raw tasks of taskType (exact match): timers,
// cron ticks, anything that is not an outbox event.
func (w *Worker) HandleFunc(taskType string, h func(ctx context.Context, t *asynq.Task) error) {
	mustTaskType(taskType)
	w.mux.HandleFunc(taskType, h)
}

// HandlePayload registers a handler for a raw task given only its payload,
// so callers outside jobs (periodic work wired in cmd) need not import asynq.
func (w *Worker) HandlePayload(taskType string, h func(ctx context.Context, payload []byte) error) {
	w.HandleFunc(taskType, func(ctx context.Context, t *asynq.Task) error { return h(ctx, t.Payload()) })
}

func mustTaskType(t string) {
	if !ValidTaskType(t) {
		panic(fmt.Sprintf("jobs: task type %q is not domain:verb", t))
	}
}

// ProcessTask implements asynq.Handler: it dispatches t, turns a panic into
// an error, and records the outcome.
func (w *Worker) ProcessTask(ctx context.Context, t *asynq.Task) (err error) {
	start := time.Now()
	outcome := OutcomeSuccess
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("jobs: handler for %s panicked: %v", t.Type(), r)
			w.log.Error("task handler panicked", "type", t.Type(), "task_id", taskID(ctx),
				"request_id", peekRequestID(t), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		} else if err != nil {
			w.log.Warn("task failed", "type", t.Type(), "task_id", taskID(ctx),
				"request_id", peekRequestID(t), "retry", retryCount(ctx), "err", err)
		}
		if err != nil {
			outcome = OutcomeFailed
		}
		w.processed.WithLabelValues(t.Type(), outcome).Inc()
		w.duration.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
	}()

	h, pattern := w.mux.Handler(t)
	if pattern != t.Type() {
		// asynq's mux matches by prefix; only exact registrations count,
		// so "user:created" never swallows "user:created_by_import".
		outcome = OutcomeIgnored
		return w.unhandled(ctx, t)
	}
	return h.ProcessTask(ctx, t)
}

// unhandled acknowledges event tasks nobody consumes yet, so publishing an
// event ahead of its consumer is harmless. Anything else without a handler
// is a wiring mistake: archive it (no retries) where operators can see it.
func (w *Worker) unhandled(ctx context.Context, t *asynq.Task) error {
	if env, err := DecodeEnvelope(t); err == nil {
		w.log.Debug("no handler for event; acknowledged", "type", t.Type(), "event_id", env.EventID,
			"request_id", env.RequestID)
		return nil
	}
	return fmt.Errorf("jobs: no handler for task type %q: %w", t.Type(), asynq.SkipRetry)
}

// Start begins fetching and processing tasks in the background.
func (w *Worker) Start() error {
	if err := w.srv.Start(w); err != nil {
		return fmt.Errorf("jobs: start worker: %w", err)
	}
	return nil
}

// Shutdown stops fetching, waits up to ShutdownTimeout for running handlers
// and hands unfinished tasks back to Redis for another worker.
func (w *Worker) Shutdown() { w.srv.Shutdown() }

// Ping checks the worker's Redis connection, for readiness.
func (w *Worker) Ping() error { return w.srv.Ping() }

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}

func retryCount(ctx context.Context) int {
	n, _ := asynq.GetRetryCount(ctx)
	return n
}

// peekRequestID returns the request ID of an event task for logs, or "".
func peekRequestID(t *asynq.Task) string {
	if env, err := DecodeEnvelope(t); err == nil {
		return env.RequestID
	}
	return ""
}

var _ asynq.Handler = (*Worker)(nil)
