package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
)

// RelayConfig tunes a Relay. Zero values get the defaults noted.
type RelayConfig struct {
	Interval   time.Duration // poll interval when idle; default 200ms
	Batch      int           // records per pass; default 100
	Logger     *slog.Logger  // default: discard
	Registerer prometheus.Registerer
	// Retention keeps a completed event task (and so its task ID) in Redis
	// for this long, which is what deduplicates a re-relay after a crash
	// between enqueue and MarkPublished; default 24h.
	Retention time.Duration
	// EnqueueTimeout bounds one enqueue so a hung Redis cannot stall the
	// loop (or hold row locks on MySQL); default 5s.
	EnqueueTimeout time.Duration
}

const maxRelayBackoff = 5 * time.Second

// Relay publishes committed outbox events as asynq tasks, at least once.
// Each task ID is derived from the event ID, so publishing an event again
// (crash before MarkPublished, two replicas racing) is absorbed by asynq.
type Relay struct {
	db     *database.DB
	client *Client
	cfg    RelayConfig
	log    *slog.Logger

	backlog   prometheus.Gauge
	published prometheus.Counter
	errs      prometheus.Counter
}

// NewRelay builds a relay over db's outbox table.
func NewRelay(db *database.DB, client *Client, cfg RelayConfig) (*Relay, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 200 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.EnqueueTimeout <= 0 {
		cfg.EnqueueTimeout = 5 * time.Second
	}
	r := &Relay{db: db, client: client, cfg: cfg, log: orDiscard(cfg.Logger).With("component", "outbox-relay")}
	var err error
	if r.backlog, err = register(cfg.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "loopdesk_outbox_backlog", Help: "Outbox events not yet published.",
	})); err != nil {
		return nil, err
	}
	if r.published, err = register(cfg.Registerer, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loopdesk_outbox_published_total", Help: "Outbox events published as tasks.",
	})); err != nil {
		return nil, err
	}
	if r.errs, err = register(cfg.Registerer, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loopdesk_outbox_errors_total", Help: "Failed attempts to publish an outbox event.",
	})); err != nil {
		return nil, err
	}
	return r, nil
}

// Run relays until ctx is done, then returns nil. A full batch is followed
// at once by the next; failures back off exponentially up to 5s. Events are
// never dropped: a failed one stays pending and is retried.
func (r *Relay) Run(ctx context.Context) error {
	var (
		backoff    time.Duration
		lastGauged time.Time
	)
	for {
		n, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			backoff = min(max(2*backoff, r.cfg.Interval), maxRelayBackoff)
			wait = backoff
			r.log.Warn("outbox relay failed; backing off", "err", err, "retry_in", wait)
		case n >= r.cfg.Batch:
			backoff = 0 // more is waiting: go again now
		default:
			backoff = 0
			wait = r.cfg.Interval
		}
		// The backlog is a COUNT over an index; once a second is plenty.
		if time.Since(lastGauged) >= time.Second {
			r.updateBacklog(ctx)
			lastGauged = time.Now()
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// RelayOnce publishes at most one batch of pending events, oldest first,
// and returns how many it published. It stops at the first enqueue failure
// (Redis is likely down; the rest would fail too), recording the attempt
// on that event, and returns the error.
//
// On MySQL/MariaDB the batch is claimed with SELECT ... FOR UPDATE SKIP
// LOCKED inside a transaction so replicas relay disjoint batches. SQLite has
// one writer anyway, and a write transaction held across Redis calls would
// block every request, so there the batch is read and marked without one;
// a rare overlap between processes is absorbed by the task IDs.
func (r *Relay) RelayOnce(ctx context.Context) (published int, err error) {
	if r.db.Dialect == database.MySQL {
		var enqErr error
		err = r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			locked := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
			var dbErr error
			published, enqErr, dbErr = r.relayBatch(ctx, tx, locked)
			// Commit on an enqueue failure too: the marks of what did go
			// out, and the failed attempt, must stick.
			return dbErr
		})
		if err != nil {
			// Rolled back: nothing is marked, the queued tasks will be
			// enqueued again next pass and deduplicated by their IDs.
			return 0, errors.Join(enqErr, fmt.Errorf("jobs: relay outbox: %w", err))
		}
		return published, enqErr
	}
	published, enqErr, dbErr := r.relayBatch(ctx, r.db.DB, r.db.DB)
	if dbErr != nil {
		published = 0
	}
	return published, errors.Join(enqErr, dbErr)
}

// relayBatch reads pending records through read and writes marks through w.
// enqErr is the enqueue failure that stopped the batch; dbErr a failure to
// read or mark.
func (r *Relay) relayBatch(ctx context.Context, w, read *gorm.DB) (published int, enqErr, dbErr error) {
	recs, err := outbox.Pending(ctx, read, r.cfg.Batch)
	if err != nil {
		return 0, nil, fmt.Errorf("jobs: read outbox: %w", err)
	}
	var done []int64
	for _, rec := range recs {
		task, terr := NewEventTask(NewEnvelope(rec), asynq.Retention(r.cfg.Retention))
		if terr != nil {
			// A record that cannot become a task is not Redis's fault: note it
			// for operators and move on so it does not block the others.
			r.errs.Inc()
			r.log.Error("outbox event cannot be published", "event_id", rec.ID, "type", rec.EventType, "err", terr)
			if dbErr = outbox.MarkFailed(ctx, w, rec.ID, terr); dbErr != nil {
				break
			}
			continue
		}
		ectx, cancel := context.WithTimeout(ctx, r.cfg.EnqueueTimeout)
		_, err := r.client.EnqueueOnce(ectx, task, OutboxTaskID(rec))
		cancel()
		if err != nil {
			r.errs.Inc()
			r.log.Warn("outbox event not published", "event_id", rec.ID, "type", rec.EventType,
				"request_id", rec.RequestID, "attempt", rec.Attempts+1, "err", err)
			enqErr = err
			// Mark with a context of its own: ctx may be what just expired.
			mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			dbErr = outbox.MarkFailed(mctx, w.WithContext(mctx), rec.ID, err)
			mcancel()
			break
		}
		done = append(done, rec.ID)
	}
	if len(done) > 0 {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := outbox.MarkPublished(mctx, w.WithContext(mctx), done)
		cancel()
		if err != nil {
			// The tasks are queued; a later pass re-enqueues, the IDs dedupe.
			return 0, enqErr, errors.Join(dbErr, fmt.Errorf("jobs: mark outbox published: %w", err))
		}
		r.published.Add(float64(len(done)))
	}
	if dbErr != nil {
		dbErr = fmt.Errorf("jobs: mark outbox: %w", dbErr)
	}
	return len(done), enqErr, dbErr
}

func (r *Relay) updateBacklog(ctx context.Context) {
	n, err := outbox.Backlog(ctx, r.db.DB)
	if err != nil {
		return
	}
	r.backlog.Set(float64(n))
}

// Backlog counts pending events and updates the gauge, for readiness and CLI.
func (r *Relay) Backlog(ctx context.Context) (int64, error) {
	n, err := outbox.Backlog(ctx, r.db.DB)
	if err == nil {
		r.backlog.Set(float64(n))
	}
	return n, err
}
