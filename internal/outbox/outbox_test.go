package outbox_test

import (
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// TestWriteRefusesEventWithoutType: the relay could never publish it, so
// the change that writes it fails and nothing of it is kept.
func TestWriteRefusesEventWithoutType(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		before, err := outbox.Backlog(ctx, db.DB)
		if err != nil {
			t.Fatal(err)
		}
		err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return outbox.Write(ctx, tx, outbox.Event{Type: "ticket:created", AggregateType: "ticket", AggregateID: "1"},
				outbox.Event{AggregateType: "ticket", AggregateID: "1"})
		})
		if err == nil || !strings.Contains(err.Error(), "event 2 of 2 has no type") {
			t.Fatalf("write without a type: %v, want refused", err)
		}
		if after, err := outbox.Backlog(ctx, db.DB); err != nil || after != before {
			t.Fatalf("backlog %d -> %d (%v): the refused change left events behind", before, after, err)
		}
	})
}
