package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	c  *asynq.Client
	in *asynq.Inspector
}

// NewClient connects a client; Close it when done.
func NewClient(opt asynq.RedisConnOpt) *Client {
	return &Client{c: asynq.NewClient(opt), in: asynq.NewInspector(opt)}
}

// Enqueue puts task on its queue (asynq.Queue, ProcessAt, TaskID... as opts).
func (c *Client) Enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := c.c.EnqueueContext(ctx, task, opts...)
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %s: %w", task.Type(), err)
	}
	return info, nil
}

// EnqueueOnce enqueues task under the deterministic id. A task that already
// holds the id (pending, scheduled, running, retried, archived or retained)
// means the work is already queued: that is success with enqueued=false.
func (c *Client) EnqueueOnce(ctx context.Context, task *asynq.Task, id string, opts ...asynq.Option) (enqueued bool, err error) {
	opts = append(opts, asynq.TaskID(id))
	if _, err := c.c.EnqueueContext(ctx, task, opts...); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return false, nil
		}
		return false, fmt.Errorf("jobs: enqueue %s (%s): %w", task.Type(), id, err)
	}
	return true, nil
}

// Cancel deletes a not-yet-running task by queue and id (an SLA timer that
// a ticket change made stale). A task that is already gone is not an error;
// a running task cannot be deleted and its handler must re-check the DB.
func (c *Client) Cancel(queue, id string) error {
	if queue == "" {
		queue = DefaultQueue
	}
	err := c.in.DeleteTask(queue, id)
	if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	return fmt.Errorf("jobs: cancel %s/%s: %w", queue, id, err)
}

// Close releases the connections.
func (c *Client) Close() error {
	return errors.Join(c.c.Close(), c.in.Close())
}
