package tickets

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
)

// fireBatch runs concurrent Fire calls in one transaction (group.go).
// The calls run one after the other, in ticket id order (so two batches
// lock tickets in the same order), two calls on one ticket in arrival
// order, and a call sees the changes of the calls before it. Alone, a
// transition is six statements (BEGIN, the locked read, the versioned
// UPDATE, the history and outbox INSERTs, COMMIT); a batch reads and locks
// all its tickets in one statement and writes their updates (one
// statement per set of columns, write.go updateRows), history rows and
// outbox events together at its end. A call refused before writing (no
// such ticket, a stale version) is answered inside the batch.
func (s *Service) fireBatch(ctx context.Context, tx *gorm.DB, calls []*fireCall, out []outcome) error {
	order := callOrder(calls, func(c *fireCall) int64 { return c.id })
	ids := make([]int64, 0, len(calls))
	for _, i := range order {
		if id := calls[i].id; len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	// Every ticket of the batch, read and locked in one statement.
	loaded, err := s.loadTickets(ctx, tx, ids, true)
	if err != nil {
		return err
	}
	var appends appendRows
	for _, i := range order {
		cctx, cancel := callContext(ctx, calls[i].ctx)
		out[i] = s.fireLoaded(cctx, tx, calls[i], loaded, &appends)
		cancel()
		if out[i].err != nil && !out[i].refused {
			return out[i].err
		}
	}
	return appends.write(ctx, tx)
}

// fireLoaded runs c inside the batch's tx on its ticket as loaded (a
// second call on one ticket reads it again, to see the first call's
// change), its history rows and outbox events going to appends.
func (s *Service) fireLoaded(ctx context.Context, tx *gorm.DB, c *fireCall, loaded map[int64]loadedTicket, appends *appendRows) outcome {
	var (
		m   *mutation
		err error
	)
	if l, ok := loaded[c.id]; ok && l.row.ID != 0 {
		m, err = s.beginLoaded(ctx, tx, c.actor, l, true, c.version)
		loaded[c.id] = loadedTicket{} // used: a later call reads again
	} else if ok {
		if err := appends.flushUpdates(ctx, tx); err != nil { // the earlier change to this ticket
			return outcome{err: err}
		}
		m, err = s.begin(ctx, tx, c.actor, c.id, c.version)
	} else {
		err = accounts.ErrNotFound
	}
	if err != nil {
		// No such ticket or a stale version: nothing of c was written, the
		// batch goes on without it. Anything else fails the batch.
		return outcome{err: err, refused: errors.Is(err, accounts.ErrNotFound) || errors.Is(err, accounts.ErrVersionConflict)}
	}
	m.appends = appends
	t, err := m.fire(c)
	return outcome{t: t, err: err}
}
