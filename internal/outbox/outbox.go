// Package outbox records domain events in the same transaction as the change
// that caused them; the relay in jobs turns them into asynq tasks. A change
// that commits always has its events; an event is never sent for a change
// that rolled back.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Event is a domain event. Type follows asynq's "domain:verb" naming
// (e.g. "user:created") and becomes the task type.
type Event struct {
	Type          string
	AggregateType string
	AggregateID   string
	Payload       any
	RequestID     string
}

// Record is a stored event.
type Record struct {
	ID            int64
	EventType     string
	AggregateType string
	AggregateID   string
	Payload       string
	RequestID     string
	CreatedAt     time.Time
	PublishedAt   *time.Time
	Attempts      int
	LastError     string
}

// TableName binds Record to the outbox table.
func (Record) TableName() string { return "outbox" }

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request ID that events written
// under it will carry into their tasks and logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Write stores events inside tx, which must be the transaction of the change.
func Write(ctx context.Context, tx *gorm.DB, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	// One multi-row INSERT in plain SQL: it runs in every change's
	// transaction, and gorm's Create (INSERT ... RETURNING on MariaDB) costs
	// more CPU than the statement itself. The event IDs are not needed.
	var sb strings.Builder
	args := make([]any, 0, 6*len(events))
	sb.WriteString("INSERT INTO outbox (event_type, aggregate_type, aggregate_id, payload, request_id, created_at) VALUES ")
	for i, e := range events {
		if e.Type == "" {
			// The relay cannot publish an event without a type; refusing it
			// here fails the change that wrote it instead of leaving a row
			// that would be retried forever.
			return fmt.Errorf("outbox: event %d of %d has no type", i+1, len(events))
		}
		b, err := json.Marshal(e.Payload)
		if err != nil {
			return fmt.Errorf("outbox: encode %s payload: %w", e.Type, err)
		}
		rid := e.RequestID
		if rid == "" {
			rid = RequestID(ctx)
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?,?,?,?,?)")
		args = append(args, e.Type, e.AggregateType, e.AggregateID, string(b), rid, now)
	}
	return tx.WithContext(ctx).Exec(sb.String(), args...).Error
}

// Pending returns up to limit unpublished events, oldest first.
func Pending(ctx context.Context, db *gorm.DB, limit int) ([]Record, error) {
	var recs []Record
	err := db.WithContext(ctx).Where("published_at IS NULL").Order("id").Limit(limit).Find(&recs).Error
	return recs, err
}

// MarkPublished records that the events reached the queue.
func MarkPublished(ctx context.Context, db *gorm.DB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	return db.WithContext(ctx).Model(&Record{}).Where("id IN ?", ids).Update("published_at", now).Error
}

// MarkFailed counts a failed attempt and keeps the last error for operators.
func MarkFailed(ctx context.Context, db *gorm.DB, id int64, cause error) error {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return db.WithContext(ctx).Model(&Record{}).Where("id = ?", id).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": msg}).Error
}

// Backlog counts unpublished events, for metrics and readiness.
func Backlog(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Record{}).Where("published_at IS NULL").Count(&n).Error
	return n, err
}
