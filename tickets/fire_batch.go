package tickets

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
)

// fireQueue groups concurrent Fire calls into shared transactions, the way
// a database groups commits. Alone, a transition is six statements (BEGIN,
// the locked read, the versioned UPDATE, the history and outbox INSERTs,
// COMMIT); under load the calls that arrive while earlier ones are being
// written go together in the next transaction, which reads and locks all
// their tickets in one statement and writes their updates (one statement
// per set of columns, write.go updateRows), history rows and outbox events
// together at its end. An idle service fires a call at once, in a
// transaction of its own.
//
// Each call gets the outcome it would have had alone. Calls run one after
// the other inside the batch, in ticket id order (so two batches lock
// tickets in the same order), two calls on one ticket in arrival order,
// and a call sees the changes of the calls before it. A call refused
// before writing anything (no such ticket, stale version) gets its error
// and the others go on; any other error rolls the batch back and each of
// its calls runs again alone (fireAlone), so a refusal of one never
// undoes or changes another.
type fireQueue struct {
	mu      sync.Mutex
	queue   []*fireCall
	running int

	// Counters for tests and diagnostics: batches of more than one call,
	// the calls they held, and the batches that failed and ran alone.
	batches, batched, failed atomic.Int64
}

const (
	// fireBatchMax bounds the calls of one transaction: the locks of a
	// batch are held until its last call is written.
	fireBatchMax = 16
	// fireBatchTimeout bounds one batch; the callers' contexts do not (a
	// batch serves many of them), though a call whose context ended
	// before its batch started is dropped.
	fireBatchTimeout = 30 * time.Second
)

// fireWorkers is how many batches run at once: one on SQLite, whose one
// writer would only queue the others. On MariaDB one worker spends the
// least CPU per transition but leaves the CPU idle while it waits for
// each statement; two gave the most transitions per second in
// BenchmarkTicketsHTTP (four: smaller batches, more CPU per transition).
func (s *Service) fireWorkers() int {
	if s.db.Dialect == database.SQLite {
		return 1
	}
	return 2
}

// fire queues c and returns its outcome.
func (q *fireQueue) fire(ctx context.Context, s *Service, c *fireCall) (Ticket, error) {
	c.done = make(chan fireOutcome, 1)
	q.mu.Lock()
	q.queue = append(q.queue, c)
	if q.running < s.fireWorkers() {
		q.running++
		go q.flush(s)
	}
	q.mu.Unlock()
	// Waits even when ctx ends: once its batch has started, the call's
	// outcome is decided there.
	o := <-c.done
	if o.alone {
		return s.fireAlone(c)
	}
	return o.t, o.err
}

// flush runs queued calls, a batch at a time, until the queue is empty.
func (q *fireQueue) flush(s *Service) {
	for {
		q.mu.Lock()
		n := min(len(q.queue), fireBatchMax)
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.queue[:n])
		q.queue = q.queue[n:]
		q.mu.Unlock()
		s.fireBatch(batch)
	}
}

// fireBatch runs calls in one transaction and answers each of them.
func (s *Service) fireBatch(calls []*fireCall) {
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- fireOutcome{err: err}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		t, err := s.fireAlone(live[0])
		live[0].done <- fireOutcome{t: t, err: err}
		return
	}
	slices.SortStableFunc(live, func(a, b *fireCall) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	ids := make([]int64, 0, len(live))
	for _, c := range live {
		if len(ids) == 0 || ids[len(ids)-1] != c.id {
			ids = append(ids, c.id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), fireBatchTimeout)
	defer cancel()
	out := make([]fireOutcome, len(live))
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		// Every ticket of the batch, read and locked in one statement.
		loaded, err := s.loadTickets(ctx, tx, ids, true)
		if err != nil {
			return err
		}
		var appends appendRows
		for i, c := range live {
			// The call's own values (request ID), the batch's deadline.
			cctx, ccancel := context.WithDeadline(context.WithoutCancel(c.ctx), deadline(ctx))
			out[i] = s.fireLoaded(cctx, tx, c, loaded, &appends)
			ccancel()
			if out[i].err != nil && !out[i].refused {
				return out[i].err
			}
		}
		return appends.write(ctx, tx)
	})
	s.fires.batches.Add(1)
	s.fires.batched.Add(int64(len(live)))
	if err != nil {
		s.fires.failed.Add(1)
	}
	for i, c := range live {
		if err != nil {
			c.done <- fireOutcome{alone: true}
			continue
		}
		c.done <- out[i]
	}
}

// fireLoaded runs c inside the batch's tx on its ticket as loaded (a
// second call on one ticket reads it again, to see the first call's
// change), its history rows and outbox events going to appends.
func (s *Service) fireLoaded(ctx context.Context, tx *gorm.DB, c *fireCall, loaded map[int64]loadedTicket, appends *appendRows) fireOutcome {
	var (
		m   *mutation
		err error
	)
	if l, ok := loaded[c.id]; ok && l.row.ID != 0 {
		m, err = s.beginLoaded(ctx, tx, c.actor, l, true, c.version)
		loaded[c.id] = loadedTicket{} // used: a later call reads again
	} else if ok {
		if err := appends.flushUpdates(ctx, tx); err != nil { // the earlier change to this ticket
			return fireOutcome{err: err}
		}
		m, err = s.begin(ctx, tx, c.actor, c.id, c.version)
	} else {
		err = accounts.ErrNotFound
	}
	if err != nil {
		// No such ticket or a stale version: nothing of c was written, the
		// batch goes on without it. Anything else fails the batch.
		return fireOutcome{err: err, refused: errors.Is(err, accounts.ErrNotFound) || errors.Is(err, accounts.ErrVersionConflict)}
	}
	m.appends = appends
	t, err := m.fire(c)
	return fireOutcome{t: t, err: err}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
