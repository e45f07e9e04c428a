package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// Timers schedules one-shot tasks of one type at exact instants under
// deterministic IDs: scheduling an ID twice is a no-op and a stale timer is
// cancelled by its ID. asynq keeps ProcessAt in whole seconds, so a timer
// may fire up to a second early; handlers must wait or re-check.
type Timers struct {
	c        *Client
	taskType string
}

// NewTimers makes timers of taskType on the default queue.
func NewTimers(c *Client, taskType string) *Timers {
	mustTaskType(taskType)
	return &Timers{c: c, taskType: taskType}
}

// Schedule arranges payload to be handled at at under id.
func (t *Timers) Schedule(ctx context.Context, id string, at time.Time, payload []byte) error {
	_, err := t.c.EnqueueOnce(ctx, asynq.NewTask(t.taskType, payload), id,
		asynq.ProcessAt(at), asynq.MaxRetry(5), asynq.Retention(time.Minute))
	return err
}

// Cancel removes timer id if it has not started.
func (t *Timers) Cancel(_ context.Context, id string) error { return t.c.Cancel(DefaultQueue, id) }
