package database_test

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

// A batch runs its statements in order in the caller's transaction,
// answers the last one's affected rows, and a failing statement fails the
// batch so the transaction rolls back everything, on both backends.
func TestBatch(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE batch_probe (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		var b database.Batch
		b.Add("INSERT INTO batch_probe (id, note) VALUES (?, ?), (?, ?)", 1, "semi;colon", 2, "it's ? quoted")
		b.Add("INSERT INTO batch_probe (id, note) VALUES (?, ?)", 3, "three")
		b.Add("UPDATE batch_probe SET note = ? WHERE id >= ?", "changed", 2)
		if b.Len() != 3 {
			t.Fatalf("Len %d", b.Len())
		}
		var n int64
		err := db.Transaction(func(tx *gorm.DB) error {
			var err error
			n, err = b.Exec(ctx, tx, db.Dialect)
			return err
		})
		if err != nil || n != 2 {
			t.Fatalf("exec: %d rows, %v; want 2 rows", n, err)
		}
		var notes []string
		db.Raw("SELECT note FROM batch_probe ORDER BY id").Scan(&notes)
		if len(notes) != 3 || notes[0] != "semi;colon" || notes[1] != "changed" || notes[2] != "changed" {
			t.Fatalf("rows %q", notes)
		}

		// The second statement fails (duplicate key): nothing of the batch stays.
		var bad database.Batch
		bad.Add("INSERT INTO batch_probe (id, note) VALUES (?, ?)", 10, "ten")
		bad.Add("INSERT INTO batch_probe (id, note) VALUES (?, ?)", 1, "duplicate")
		bad.Add("UPDATE batch_probe SET note = ?", "lost")
		err = db.Transaction(func(tx *gorm.DB) error {
			_, err := bad.Exec(ctx, tx, db.Dialect)
			return err
		})
		if !database.IsUniqueViolation(err) {
			t.Fatalf("failing batch: %v, want a unique violation", err)
		}
		var count int64
		db.Raw("SELECT COUNT(*) FROM batch_probe WHERE id = 10 OR note = 'lost'").Scan(&count)
		if count != 0 {
			t.Fatalf("%d rows of a failed batch stayed", count)
		}
		if n, err := (&database.Batch{}).Exec(ctx, db.DB, db.Dialect); n != 0 || err != nil {
			t.Fatalf("empty batch: %d %v", n, err)
		}
	})
}
