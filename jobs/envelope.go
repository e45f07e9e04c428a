package jobs

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/loopdesk/loopdesk/internal/outbox"
)

// Envelope is the payload of a task made from an outbox event. The event ID
// lets idempotent handlers remember what they have already done; the request
// ID ties the work back to the request that caused it.
type Envelope struct {
	EventID       int64           `json:"event_id"`
	Type          string          `json:"type"`
	AggregateType string          `json:"aggregate_type"`
	AggregateID   string          `json:"aggregate_id"`
	RequestID     string          `json:"request_id,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// NewEnvelope wraps a stored outbox record.
func NewEnvelope(rec outbox.Record) Envelope {
	p := json.RawMessage(rec.Payload)
	if len(p) == 0 {
		p = json.RawMessage("null")
	}
	return Envelope{EventID: rec.ID, Type: rec.EventType, AggregateType: rec.AggregateType,
		AggregateID: rec.AggregateID, RequestID: rec.RequestID, Payload: p}
}

// Decode unmarshals the event's own payload into v.
func (e Envelope) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("jobs: decode %s payload of event %d: %w", e.Type, e.EventID, err)
	}
	return nil
}

// OutboxTaskID is the deterministic task ID of an outbox event: enqueueing
// the same event twice is rejected by asynq while the task is pending,
// running, retried, archived or retained. The creation time rides along with
// the ID so that a database restored from backup (or recreated), whose IDs
// start over, cannot have its new events swallowed as duplicates of old
// ones still retained in Redis.
func OutboxTaskID(rec outbox.Record) string {
	return fmt.Sprintf("outbox-%d-%d", rec.ID, rec.CreatedAt.UnixMilli())
}

// NewEventTask builds the asynq task for an envelope; its type is the event type.
func NewEventTask(env Envelope, opts ...asynq.Option) (*asynq.Task, error) {
	if env.Type == "" {
		return nil, errors.New("jobs: event has no type")
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("jobs: encode event %d: %w", env.EventID, err)
	}
	return asynq.NewTask(env.Type, b, opts...), nil
}

// DecodeEnvelope reads the envelope of an event task. A task whose payload
// is not an envelope (no event ID) is an error.
func DecodeEnvelope(t *asynq.Task) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(t.Payload(), &env); err != nil {
		return Envelope{}, fmt.Errorf("jobs: task %s is not an event envelope: %w", t.Type(), err)
	}
	if env.EventID == 0 {
		return Envelope{}, fmt.Errorf("jobs: task %s is not an event envelope: no event_id", t.Type())
	}
	if env.Type == "" {
		env.Type = t.Type()
	}
	return env, nil
}
