package tickets

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/batchq"
	"github.com/loopdesk/loopdesk/internal/database"
)

// Changes that arrive together share transactions, the way a database
// groups commits (fire_batch.go, create.go). Each change is a call that
// waits in a group's queue (internal/batchq); up to groupWorkers flushers
// take the queue a batch at a time. An idle service runs a call at once, in a
// transaction of its own; under load, the calls that arrive while earlier
// ones are being written go together in the next transaction, which
// writes what they share at its end, one statement per kind of row.
//
// Each call gets the outcome it would have had alone. A call refused
// before writing anything is answered inside the batch and the others go
// on; any other error rolls the batch back and each of its calls runs
// again alone, so one call's failure never undoes or changes another.

const (
	// groupMax bounds the calls of one transaction: the locks of a batch
	// are held until its last call is written.
	groupMax = 16
	// groupTimeout bounds one batch; the callers' contexts do not (a
	// batch serves many of them), though a call whose context ended
	// before its batch started is dropped.
	groupTimeout = 30 * time.Second
)

// groupWorkers is how many batches of one kind run at once: one on SQLite,
// whose one writer would only queue the others. On MariaDB one worker
// spends the least CPU per change but leaves the CPU idle while it waits
// for each statement; two gave the most transitions per second in
// BenchmarkTicketsHTTP (four: smaller batches, more CPU per transition).
func (s *Service) groupWorkers() int {
	if s.db.Dialect == database.SQLite {
		return 1
	}
	return 2
}

// call is what every grouped change has: its caller's context and the
// channel its outcome goes back on.
type call struct {
	ctx  context.Context
	done chan outcome
}

func (c *call) base() *call { return c }

type outcome struct {
	t   Ticket
	err error
	// refused: err came before anything of the call was written, and the
	// batch goes on without it.
	refused bool
	alone   bool // the batch failed: run the call in a transaction of its own
}

// group is the queue of one kind of change.
type group[C interface{ base() *call }] struct {
	q batchq.Queue[C]

	// Counters for tests and diagnostics: batches of more than one call,
	// the calls they held, and the batches that failed and ran alone.
	batches, batched, failed atomic.Int64
}

// run queues c and returns its outcome: batch runs a batch of calls in
// one transaction and answers each of them; alone runs one call in a
// transaction of its own.
func (g *group[C]) run(s *Service, c C, batch func(ctx context.Context, tx *gorm.DB, calls []C, out []outcome) error, alone func(C) (Ticket, error)) (Ticket, error) {
	b := c.base()
	b.done = make(chan outcome, 1)
	g.q.Add(c, s.groupWorkers(), groupMax, func(calls []C) { g.runBatch(s, calls, batch, alone) })
	// Waits even when the caller's context ends: once its batch has
	// started, the call's outcome is decided there.
	o := <-b.done
	if o.alone {
		return alone(c)
	}
	return o.t, o.err
}

// runBatch runs calls and answers each exactly once. It runs on a flusher
// goroutine, where a panic would end the process rather than one request:
// it becomes every unanswered call's error.
func (g *group[C]) runBatch(s *Service, calls []C, batch func(context.Context, *gorm.DB, []C, []outcome) error, alone func(C) (Ticket, error)) {
	answered := 0
	answer := func(c C, o outcome) {
		c.base().done <- o
		answered++
	}
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("tickets: panic in a grouped change: %v\n%s", r, debug.Stack())
			for _, c := range calls[answered:] {
				c.base().done <- outcome{err: err}
			}
		}
	}()
	// Calls are answered in the order of calls: first those whose
	// context ended, then the others (live).
	var ended []error
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.base().ctx.Err(); err != nil {
			ended = append(ended, err)
			calls[len(ended)-1] = c
		} else {
			live = append(live, c)
		}
	}
	copy(calls[len(ended):], live)
	for i, err := range ended {
		answer(calls[i], outcome{err: err})
	}
	switch len(live) {
	case 0:
		return
	case 1:
		t, err := alone(live[0])
		answer(live[0], outcome{t: t, err: err})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	out := make([]outcome, len(live))
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		clear(out)
		return batch(ctx, tx, live, out)
	})
	g.batches.Add(1)
	g.batched.Add(int64(len(live)))
	if err != nil {
		g.failed.Add(1)
	}
	for i, c := range live {
		if err != nil {
			answer(c, outcome{alone: true})
			continue
		}
		answer(c, out[i])
	}
}

// callOrder is the order a batch runs its calls in: by key, calls with
// one key in arrival order (out stays in the order of calls).
func callOrder[C any](calls []C, key func(C) int64) []int {
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(calls[a]), key(calls[b])) })
	return order
}

// callContext is the context a call's statements run on inside a batch:
// the call's own values (request ID) with the batch's deadline.
func callContext(batch, c context.Context) (context.Context, context.CancelFunc) {
	d, _ := batch.Deadline()
	return context.WithDeadline(context.WithoutCancel(c), d)
}
