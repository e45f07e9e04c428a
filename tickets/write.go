package tickets

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
)

// The statements every ticket change runs (the ticket INSERT, the versioned
// UPDATE, history and tag rows) are written here as plain SQL with
// positional arguments and sent on the transaction's connection directly:
// gorm's statement building and its INSERT ... RETURNING cost more CPU than
// the database spends on them. Column names come from this file, never
// from input.

// execTx runs one statement on tx's connection (the *sql.Tx inside
// gorm's Transaction).
func execTx(ctx context.Context, tx *gorm.DB, query string, args ...any) (sql.Result, error) {
	return tx.Statement.ConnPool.ExecContext(ctx, query, args...)
}

// insertTicket stores r and sets its ID.
func insertTicket(ctx context.Context, tx *gorm.DB, r *ticketRow) error {
	res, err := execTx(ctx, tx, `INSERT INTO tickets (subject, description, status, status_category, priority, workflow_key,
 workflow_version, category, channel, custom_fields, department_id, assignee_id, requester_id, version, state_entered_at,
 resolved_at, closed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Subject, r.Description, r.Status, r.StatusCategory, r.Priority, r.WorkflowKey,
		r.WorkflowVersion, r.Category, r.Channel, r.CustomFields, r.DepartmentID, r.AssigneeID, r.RequesterID, r.Version, r.StateEnteredAt,
		r.ResolvedAt, r.ClosedAt, r.CreatedAt, r.UpdatedAt)
	if err != nil {
		return err
	}
	r.ID, err = res.LastInsertId()
	return err
}

// ticketTag is one row of ticket_tags.
type ticketTag struct {
	ticketID int64
	tag      string
}

func tagsOf(id int64, tags []string) []ticketTag {
	out := make([]ticketTag, len(tags))
	for i, t := range tags {
		out[i] = ticketTag{id, t}
	}
	return out
}

// insertTags stores tags of one or more tickets in one statement.
func insertTags(ctx context.Context, tx *gorm.DB, tags []ticketTag) error {
	if len(tags) == 0 {
		return nil
	}
	var sb strings.Builder
	args := make([]any, 0, 2*len(tags))
	sb.WriteString("INSERT INTO ticket_tags (ticket_id, tag) VALUES ")
	for i, t := range tags {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?)")
		args = append(args, t.ticketID, t.tag)
	}
	_, err := execTx(ctx, tx, sb.String(), args...)
	return err
}

// insertHistory appends history rows in one statement (their IDs are not
// needed: history is read back ordered by id).
func insertHistory(ctx context.Context, tx *gorm.DB, rows []historyRow) error {
	if len(rows) == 0 {
		return nil
	}
	var sb strings.Builder
	args := make([]any, 0, 9*len(rows))
	sb.WriteString("INSERT INTO ticket_history (ticket_id, actor_id, at, kind, field, event, from_value, to_value, note) VALUES ")
	for i, h := range rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?,?,?,?,?,?,?,?)")
		args = append(args, h.TicketID, h.ActorID, h.At, h.Kind, h.Field, h.Event, h.FromValue, h.ToValue, h.Note)
	}
	_, err := execTx(ctx, tx, sb.String(), args...)
	return err
}

// versionedUpdate runs UPDATE tickets SET ..., version = version + 1 WHERE
// id = ? [AND version = ?] and turns zero affected rows into ErrNotFound or
// ErrVersionConflict. set maps column names (of this package) to values;
// a "version" entry only asks for the bump, which always happens.
func versionedUpdate(ctx context.Context, tx *gorm.DB, id int64, version int, set map[string]any) error {
	cols := make([]string, 0, len(set))
	for c := range set {
		if c != "version" {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	var sb strings.Builder
	args := make([]any, 0, len(cols)+2)
	sb.WriteString("UPDATE tickets SET ")
	for _, c := range cols {
		sb.WriteString(c)
		sb.WriteString(" = ?, ")
		args = append(args, set[c])
	}
	sb.WriteString("version = version + 1 WHERE id = ?")
	args = append(args, id)
	if version != 0 {
		sb.WriteString(" AND version = ?")
		args = append(args, version)
	}
	res, err := execTx(ctx, tx, sb.String(), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var n int64
	if err := tx.WithContext(ctx).Table("tickets").Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return accounts.ErrNotFound
	}
	return accounts.ErrVersionConflict
}

// rowUpdate is a versioned update waiting for the end of its transaction.
type rowUpdate struct {
	id      int64
	version int // as read under the row lock
	set     map[string]any
}

// updateRows runs updates, one statement per set of columns:
//
//	UPDATE tickets SET c = CASE id WHEN ? THEN ? ... END, ...,
//	  version = version + 1 WHERE id IN (...)
//
//	  AND version = CASE id WHEN ? THEN ? ... END
//
// Each ticket appears at most once (a second change to a ticket flushes
// the first). The rows are locked and their versions were checked when
// they were read, so fewer rows than ids means the lock did not hold: an
// error, which fails the transaction (a batch then runs each call alone,
// where a real conflict becomes ErrVersionConflict).
func updateRows(ctx context.Context, tx *gorm.DB, updates []rowUpdate) error {
	groups := map[string][]rowUpdate{}
	var keys []string
	for _, u := range updates {
		cols := make([]string, 0, len(u.set))
		for c := range u.set {
			if c != "version" {
				cols = append(cols, c)
			}
		}
		sort.Strings(cols)
		k := strings.Join(cols, ",")
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], u)
	}
	for _, k := range keys {
		g := groups[k]
		if len(g) == 1 {
			if err := versionedUpdate(ctx, tx, g[0].id, g[0].version, g[0].set); err != nil {
				return err
			}
			continue
		}
		cols := strings.Split(k, ",")
		var sb strings.Builder
		args := make([]any, 0, 2*len(cols)*len(g)+2*len(g))
		sb.WriteString("UPDATE tickets SET ")
		for _, c := range cols {
			sb.WriteString(c)
			sb.WriteString(" = CASE id")
			for _, u := range g {
				sb.WriteString(" WHEN ? THEN ?")
				args = append(args, u.id, u.set[c])
			}
			sb.WriteString(" END, ")
		}
		sb.WriteString("version = version + 1 WHERE id IN (")
		for i, u := range g {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('?')
			args = append(args, u.id)
		}
		sb.WriteString(") AND version = CASE id")
		for _, u := range g {
			sb.WriteString(" WHEN ? THEN ?")
			args = append(args, u.id, u.version)
		}
		sb.WriteString(" END")
		res, err := execTx(ctx, tx, sb.String(), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != int64(len(g)) {
			return fmt.Errorf("tickets: grouped update changed %d of %d locked rows", n, len(g))
		}
	}
	return nil
}
