// Package batchq queues work for a few flushers that take it in batches.
// An idle queue hands an item to its flusher at once, alone; under load,
// the items that arrive while the flushers are busy go together in the
// next batch. Callers use it to share one database transaction among
// concurrent changes (tickets) or timer firings (sla), the way a database
// groups commits.
package batchq

import (
	"slices"
	"sync"
)

// Queue holds items of type T waiting for a flusher. The zero value is
// ready to use.
type Queue[T any] struct {
	mu      sync.Mutex
	items   []T
	running int
}

// Add queues item and, when fewer than workers flushers run, starts one.
// A flusher hands the queue to run in batches of at most max items, in
// arrival order, until the queue is empty. run must not panic.
func (q *Queue[T]) Add(item T, workers, max int, run func([]T)) {
	q.mu.Lock()
	q.items = append(q.items, item)
	if q.running < workers {
		q.running++
		go q.flush(max, run)
	}
	q.mu.Unlock()
}

// Len is the number of items waiting.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *Queue[T]) flush(max int, run func([]T)) {
	for {
		q.mu.Lock()
		n := min(len(q.items), max)
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.items[:n])
		q.items = q.items[n:]
		q.mu.Unlock()
		run(batch)
	}
}
