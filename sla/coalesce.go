package sla

import (
	"context"
	"slices"
	"sync"
	"time"
)

// coalescer recomputes the tickets of timer firings. Each firing joins a
// queue; up to sweepWorkers flushers take the queue in chunks of
// sweepChunk. An idle service recomputes a firing at once, alone, as
// Recompute would; when many timers fall due together (10,000 in a minute
// in BenchmarkSLATimerLateness), those that arrive while the flushers are
// busy go together in the next chunk, one transaction for up to 25 tickets
// instead of one each. That matters most on SQLite, whose one writer
// otherwise serialises every handler's transaction.
type coalescer struct {
	mu      sync.Mutex
	queue   []int64                // ticket ids in arrival order
	waiting map[int64][]chan error // ticket id -> firings waiting for it
	running int                    // flushers at work
}

// flushTimeout bounds one chunk's recompute; the handlers' contexts do not
// (a chunk serves many of them).
const flushTimeout = time.Minute

// recompute queues ticketID and waits for the chunk that recomputes it.
func (c *coalescer) recompute(ctx context.Context, s *Service, ticketID int64) error {
	done := make(chan error, 1)
	c.mu.Lock()
	if c.waiting == nil {
		c.waiting = map[int64][]chan error{}
	}
	if _, queued := c.waiting[ticketID]; !queued {
		c.queue = append(c.queue, ticketID)
	}
	c.waiting[ticketID] = append(c.waiting[ticketID], done)
	if c.running < s.sweepWorkers() {
		c.running++
		go c.flush(s)
	}
	c.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The chunk still runs; the task is retried and finds it done.
		return ctx.Err()
	}
}

// flush recomputes queued tickets, a chunk at a time, until the queue is
// empty; each firing gets its own ticket's outcome (recomputeEach).
func (c *coalescer) flush(s *Service) {
	for {
		c.mu.Lock()
		n := min(len(c.queue), sweepChunk)
		if n == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		ids := slices.Clone(c.queue[:n])
		c.queue = c.queue[n:]
		waiters := make(map[int64][]chan error, n)
		for _, id := range ids {
			waiters[id] = c.waiting[id]
			delete(c.waiting, id)
		}
		c.mu.Unlock()

		slices.Sort(ids)
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		failed := s.recomputeEach(ctx, ids, nil)
		for _, id := range ids {
			for _, w := range waiters[id] {
				w <- failed[id]
			}
		}
		cancel()
	}
}
