package sla

import (
	"context"
	"slices"
	"time"

	"github.com/loopdesk/loopdesk/internal/batchq"
)

// coalescer recomputes the tickets of timer firings. Each firing joins a
// queue (internal/batchq); up to sweepWorkers flushers take the queue in
// chunks of sweepChunk firings. An idle service recomputes a firing at
// once, alone, as Recompute would; when many timers fall due together
// (10,000 in a minute in BenchmarkSLATimerLateness), those that arrive
// while the flushers are busy go together in the next chunk, one
// transaction for up to 25 tickets instead of one each. That matters most
// on SQLite, whose one writer otherwise serialises every handler's
// transaction.
type coalescer struct {
	q batchq.Queue[firing]
}

// firing is one timer firing waiting for its ticket's recompute.
type firing struct {
	ticketID int64
	done     chan error
}

// flushTimeout bounds one chunk's recompute; the handlers' contexts do not
// (a chunk serves many of them).
const flushTimeout = time.Minute

// recompute queues ticketID and waits for the chunk that recomputes it.
func (c *coalescer) recompute(ctx context.Context, s *Service, ticketID int64) error {
	f := firing{ticketID: ticketID, done: make(chan error, 1)}
	c.q.Add(f, s.sweepWorkers(), sweepChunk, func(fs []firing) { flushFirings(s, fs) })
	select {
	case err := <-f.done:
		return err
	case <-ctx.Done():
		// The chunk still runs; the task is retried and finds it done.
		return ctx.Err()
	}
}

// flushFirings recomputes the tickets of fs, each once however many of its
// firings are in the chunk; each firing gets its own ticket's outcome
// (recomputeEach).
func flushFirings(s *Service, fs []firing) {
	ids := make([]int64, 0, len(fs))
	for _, f := range fs {
		ids = append(ids, f.ticketID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	failed := s.recomputeEach(ctx, ids, nil)
	for _, f := range fs {
		f.done <- failed[f.ticketID]
	}
}
