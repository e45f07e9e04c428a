// Package notify tells people about things that happened to tickets: it
// resolves who is meant ("assignee", "department_lead", "department",
// "user:<id>" or an email address), stores one in-app notification per
// recipient and, when a mail transport is configured, emails each of them.
//
// The database row is written first and committed; mail goes out after,
// outside any transaction and under a deadline, and its outcome is recorded
// on the row. A mail server that is down never loses the in-app
// notification, and never holds the caller (the SLA worker) for long.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
)

// Recipient keywords, as SLA policies write them (sla.Recipient*).
const (
	ToAssignee       = "assignee"
	ToDepartmentLead = "department_lead"
	ToDepartment     = "department"
	userPrefix       = "user:"
)

// Kinds of notification.
const (
	KindSLABreach  = "sla.breach"
	KindSLAWarning = "sla.warning"
)

// Column limits (the MySQL schema's).
const (
	maxSubject    = 300
	maxEmailError = 1000
)

// DefaultSendTimeout bounds all the mail of one Notify call.
const DefaultSendTimeout = 15 * time.Second

// retryDelays are the waits before the second, third... send of a mail
// that failed; after the last, the mail is given up.
var retryDelays = [...]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour}

// MaxEmailAttempts is how many sends a notification's mail gets.
const MaxEmailAttempts = len(retryDelays) + 1

// sendLease is how long a row claimed for sending stays out of other
// workers' reach; a worker that dies mid-send leaves it due again after.
const sendLease = 10 * time.Minute

// Message is what to tell the recipients about a ticket.
type Message struct {
	TicketID int64
	Kind     string // e.g. KindSLABreach
	Subject  string
	Body     string // plain text
}

// Notification is one stored in-app notification.
type Notification struct {
	ID         int64
	UserID     *int64 // nil: a raw email address that is no user's
	Email      string // where the mail goes ("" when the user has none)
	TicketID   int64
	Kind       string
	Subject    string
	Body       string
	CreatedAt  time.Time
	ReadAt     *time.Time
	EmailedAt  *time.Time
	EmailError string
	// EmailAttempts counts the sends tried; EmailRetryAt is when the next
	// is due (nil when sent, given up, or there is no mail to send).
	EmailAttempts int
	EmailRetryAt  *time.Time
}

// Skipped is a recipient entry that named nobody to notify, and why.
type Skipped struct {
	To     string
	Reason string
}

// Result is what a Notify call did.
type Result struct {
	Notifications []Notification
	Skipped       []Skipped
}

// Email is one plain-text mail.
type Email struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends one mail; ctx carries the deadline.
type Mailer interface {
	Send(ctx context.Context, m Email) error
}

// Directory is what notify needs of accounts; *accounts.Service has it.
type Directory interface {
	GetUser(ctx context.Context, id int64) (accounts.User, error)
	GetUserByEmail(ctx context.Context, email string) (accounts.User, error)
	GetDepartment(ctx context.Context, id int64) (accounts.Department, error)
}

// Service stores notifications and sends their mail.
type Service struct {
	db      *database.DB
	dir     Directory
	mailer  Mailer
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithMailer sets the mail transport; without one only in-app
// notifications are stored.
func WithMailer(m Mailer) Option { return func(s *Service) { s.mailer = m } }

// WithSendTimeout bounds the mail of one Notify call (default
// DefaultSendTimeout).
func WithSendTimeout(d time.Duration) Option { return func(s *Service) { s.timeout = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock injects the time source.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New makes the service.
func New(db *database.DB, dir Directory, opts ...Option) *Service {
	s := &Service{db: db, dir: dir, timeout: DefaultSendTimeout, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// HasMailer reports whether mail is sent besides the in-app notifications.
func (s *Service) HasMailer() bool { return s.mailer != nil }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// notificationRow is a Notification as the notifications table holds it.
type notificationRow struct {
	Notification `gorm:"embedded"`
}

func (notificationRow) TableName() string { return "notifications" }

// notification is the row with its times in UTC (drivers return local).
func (r notificationRow) notification() Notification {
	n := r.Notification
	n.CreatedAt = n.CreatedAt.UTC()
	n.ReadAt, n.EmailedAt, n.EmailRetryAt = utc(n.ReadAt), utc(n.EmailedAt), utc(n.EmailRetryAt)
	return n
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ticketFacts is the little notify reads of a ticket to resolve recipients.
type ticketFacts struct {
	ID           int64
	AssigneeID   *int64
	DepartmentID *int64
}

func (ticketFacts) TableName() string { return "tickets" }

// recipient is a resolved address: a user, or a bare email address.
type recipient struct {
	userID *int64
	email  string
}

// Notify resolves to, stores one notification per distinct recipient and
// mails them when a transport is configured. Entries that name nobody
// (no assignee, unknown user, malformed address...) are skipped and listed
// in the result; only a missing ticket or a storage failure is an error.
func (s *Service) Notify(ctx context.Context, msg Message, to []string) (Result, error) {
	var res Result
	var t ticketFacts
	if err := s.conn(ctx).Select("id", "assignee_id", "department_id").Where("id = ?", msg.TicketID).Take(&t).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return res, fmt.Errorf("notify about ticket %d: %w", msg.TicketID, accounts.ErrNotFound)
		}
		return res, err
	}
	recips, skipped, err := s.resolve(ctx, t, to)
	res.Skipped = skipped
	if err != nil || len(recips) == 0 {
		return res, err
	}
	now := s.clock()
	lease := now.Add(sendLease)
	rows := make([]notificationRow, len(recips))
	for i, r := range recips {
		rows[i] = notificationRow{Notification{UserID: r.userID, Email: r.email, TicketID: t.ID, Kind: msg.Kind,
			Subject: clip(oneLine(msg.Subject), maxSubject), Body: msg.Body, CreatedAt: now}}
		if s.mailer != nil && r.email != "" {
			// Due again only if this process dies before recording the send.
			rows[i].EmailRetryAt = &lease
		}
	}
	if err := s.conn(ctx).Create(&rows).Error; err != nil {
		return res, err
	}
	// Committed: the in-app notifications exist whatever the mail does.
	if s.mailer != nil {
		s.mail(ctx, rows)
	}
	for _, r := range rows {
		res.Notifications = append(res.Notifications, r.notification())
	}
	return res, nil
}

// mail sends every row's mail at once under one deadline and records each
// outcome, with the time of the next try when it failed. Failures are
// logged and stored, never returned: the in-app notification already did
// its job.
func (s *Service) mail(ctx context.Context, rows []notificationRow) {
	// The caller's cancellation (worker shutdown) still applies, but not a
	// longer deadline than ours.
	sendCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // a department's worth of mail without flooding the server
	tried := make([]bool, len(rows))
	for i := range rows {
		if rows[i].Email == "" {
			continue
		}
		wg.Add(1)
		go func(r *notificationRow, tried *bool) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-sendCtx.Done():
			}
			if err := ended(sendCtx); err != nil {
				// Also when a turn came free as the deadline ended.
				r.EmailError = clip("not sent: "+err.Error(), maxEmailError)
				return
			}
			*tried = true
			err := s.mailer.Send(sendCtx, Email{To: r.Email, Subject: r.Subject, Body: r.Body})
			if err != nil {
				r.EmailError = clip(err.Error(), maxEmailError)
				return
			}
			at := s.clock()
			r.EmailedAt = &at
		}(&rows[i], &tried[i])
	}
	wg.Wait()
	now := s.clock()
	for i := range rows {
		r := &rows[i]
		if r.Email == "" {
			continue
		}
		if !tried[i] {
			// The deadline ended while it waited its turn: no try was
			// made, so none is counted, and the next run takes it.
			r.EmailRetryAt = &now
			continue
		}
		r.EmailAttempts++
		r.EmailRetryAt = nil
		switch {
		case r.EmailedAt != nil:
			r.EmailError = ""
		case r.EmailAttempts < MaxEmailAttempts:
			next := now.Add(retryDelays[r.EmailAttempts-1])
			r.EmailRetryAt = &next
		default:
			r.EmailError = clip(fmt.Sprintf("gave up after %d attempts: %s", r.EmailAttempts, r.EmailError), maxEmailError)
		}
	}
	// Recording the outcome must not fail because the send used up ctx's time.
	rec := context.WithoutCancel(ctx)
	for _, r := range rows {
		if r.Email == "" {
			continue
		}
		if r.EmailError != "" {
			s.log.WarnContext(ctx, "notification email not sent", "notification_id", r.ID, "ticket_id", r.TicketID, "to", r.Email, "err", r.EmailError)
		}
		err := s.conn(rec).Model(&notificationRow{}).Where("id = ?", r.ID).
			Updates(map[string]any{"emailed_at": r.EmailedAt, "email_error": r.EmailError,
				"email_attempts": r.EmailAttempts, "email_retry_at": r.EmailRetryAt}).Error
		if err != nil {
			s.log.WarnContext(ctx, "record notification email outcome", "notification_id", r.ID, "err", err)
		}
	}
}

// ended is ctx.Err(), counting a deadline that has passed even before the
// context's timer has marked it: a connection's deadline (the same time)
// can fire first and free a turn a moment early.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// RetryResult is what one RetryMail call did.
type RetryResult struct {
	Sent, Failed, GaveUp int
}

// RetryMail sends the mail of up to limit notifications whose next try is
// due, oldest due first. Each row is claimed first (its next try moved a
// lease ahead, only if still due), so workers running it at once never
// send the same mail twice. Without a mail transport it does nothing.
func (s *Service) RetryMail(ctx context.Context, limit int) (RetryResult, error) {
	var res RetryResult
	if s.mailer == nil {
		return res, nil
	}
	now := s.clock()
	var due []notificationRow
	if err := s.conn(ctx).Where("email_retry_at IS NOT NULL AND email_retry_at <= ? AND emailed_at IS NULL", now).
		Order("email_retry_at, id").Limit(limit).Find(&due).Error; err != nil {
		return res, fmt.Errorf("notify: due mail: %w", err)
	}
	lease := now.Add(sendLease)
	claimed := due[:0]
	for _, r := range due {
		q := s.conn(ctx).Model(&notificationRow{}).
			Where("id = ? AND email_attempts = ? AND emailed_at IS NULL AND email_retry_at IS NOT NULL AND email_retry_at <= ?", r.ID, r.EmailAttempts, now).
			Update("email_retry_at", lease)
		if database.IsRetryable(q.Error) {
			continue // another worker is claiming it; a later run sees who won
		}
		if q.Error != nil {
			return res, fmt.Errorf("notify: claim mail %d: %w", r.ID, q.Error)
		}
		if q.RowsAffected == 1 {
			claimed = append(claimed, r)
		}
	}
	if len(claimed) == 0 {
		return res, nil
	}
	s.mail(ctx, claimed)
	for _, r := range claimed {
		switch {
		case r.EmailedAt != nil:
			res.Sent++
		case r.EmailRetryAt != nil:
			res.Failed++ // tried and failed, or not reached before the deadline
		default:
			res.GaveUp++
		}
	}
	return res, nil
}

// resolve turns recipient entries into distinct addresses, in the order
// first named.
func (s *Service) resolve(ctx context.Context, t ticketFacts, to []string) ([]recipient, []Skipped, error) {
	var out []recipient
	var skipped []Skipped
	seenUser := map[int64]bool{}
	seenEmail := map[string]bool{}
	addUser := func(entry string, u accounts.User) {
		if !u.Active {
			skipped = append(skipped, Skipped{entry, fmt.Sprintf("user %d is deactivated", u.ID)})
			return
		}
		if seenUser[u.ID] {
			return
		}
		seenUser[u.ID] = true
		email := accounts.NormalizeEmail(u.Email)
		seenEmail[email] = true
		id := u.ID
		out = append(out, recipient{userID: &id, email: email})
	}
	// addID adds user id; a missing one is skipped, other errors abort.
	addID := func(entry string, id int64) error {
		u, err := s.dir.GetUser(ctx, id)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			skipped = append(skipped, Skipped{entry, fmt.Sprintf("no user %d", id)})
			return nil
		case err != nil:
			return err
		}
		addUser(entry, u)
		return nil
	}
	// The ticket's department, read once for its lead and its members.
	var dept *accounts.Department
	department := func(entry string) (*accounts.Department, error) {
		if t.DepartmentID == nil {
			skipped = append(skipped, Skipped{entry, "the ticket has no department"})
			return nil, nil
		}
		if dept == nil {
			d, err := s.dir.GetDepartment(ctx, *t.DepartmentID)
			if errors.Is(err, accounts.ErrNotFound) {
				skipped = append(skipped, Skipped{entry, fmt.Sprintf("no department %d", *t.DepartmentID)})
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			dept = &d
		}
		return dept, nil
	}

	for _, raw := range to {
		entry := strings.TrimSpace(raw)
		switch {
		case entry == ToAssignee:
			if t.AssigneeID == nil {
				skipped = append(skipped, Skipped{entry, "the ticket has no assignee"})
				continue
			}
			if err := addID(entry, *t.AssigneeID); err != nil {
				return nil, nil, err
			}
		case entry == ToDepartmentLead, entry == ToDepartment:
			d, err := department(entry)
			if err != nil {
				return nil, nil, err
			}
			if d == nil {
				continue
			}
			ids, none := d.MemberIDs, fmt.Sprintf("department %d has no members", d.ID)
			if entry == ToDepartmentLead {
				ids, none = nil, fmt.Sprintf("department %d has no lead", d.ID)
				if d.LeadID != nil {
					ids = []int64{*d.LeadID}
				}
			}
			if len(ids) == 0 {
				skipped = append(skipped, Skipped{entry, none})
				continue
			}
			for _, id := range ids {
				if err := addID(entry, id); err != nil {
					return nil, nil, err
				}
			}
		case strings.HasPrefix(entry, userPrefix):
			id, err := strconv.ParseInt(strings.TrimPrefix(entry, userPrefix), 10, 64)
			if err != nil || id < 1 {
				skipped = append(skipped, Skipped{entry, "not a user id"})
				continue
			}
			if err := addID(entry, id); err != nil {
				return nil, nil, err
			}
		case strings.Contains(entry, "@"):
			a, err := mail.ParseAddress(entry)
			if err != nil || a.Name != "" || a.Address != entry {
				skipped = append(skipped, Skipped{entry, "not a plain email address"})
				continue
			}
			email := accounts.NormalizeEmail(a.Address)
			// An address that is a user's reaches that user's in-app list too.
			u, err := s.dir.GetUserByEmail(ctx, email)
			switch {
			case err == nil:
				addUser(entry, u)
			case errors.Is(err, accounts.ErrNotFound):
				if !seenEmail[email] {
					seenEmail[email] = true
					out = append(out, recipient{email: email})
				}
			default:
				return nil, nil, err
			}
		default:
			skipped = append(skipped, Skipped{entry, "unknown recipient; use assignee, department_lead, department, user:<id> or an email address"})
		}
	}
	return out, skipped, nil
}

// Filter narrows a user's list.
type Filter struct {
	UnreadOnly bool
}

// CursorKind names the list f makes, for page cursors (internal/cursor):
// a page of one list cannot continue the other.
func (f Filter) CursorKind() string {
	if f.UnreadOnly {
		return "notifications:unread"
	}
	return "notifications"
}

// List returns userID's notifications newest first. p.AfterID continues
// after (that is, below) a notification id of the previous page.
func (s *Service) List(ctx context.Context, userID int64, f Filter, p accounts.Page) ([]Notification, error) {
	q := s.conn(ctx).Where("user_id = ?", userID)
	if f.UnreadOnly {
		q = q.Where("read_at IS NULL")
	}
	if p.AfterID > 0 {
		q = q.Where("id < ?", p.AfterID)
	}
	limit := p.Limit
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	var rows []notificationRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Notification, len(rows))
	for i, r := range rows {
		out[i] = r.notification()
	}
	return out, nil
}

// MarkRead marks userID's notification id read (once: the first read time
// stays) and returns it. Another user's notification is ErrNotFound, so
// its existence is not revealed.
func (s *Service) MarkRead(ctx context.Context, userID, id int64) (Notification, error) {
	now := s.clock()
	if err := s.conn(ctx).Model(&notificationRow{}).Where("id = ? AND user_id = ? AND read_at IS NULL", id, userID).
		Update("read_at", now).Error; err != nil {
		return Notification{}, err
	}
	return s.Get(ctx, userID, id)
}

// Get returns userID's notification id; another user's is ErrNotFound.
func (s *Service) Get(ctx context.Context, userID, id int64) (Notification, error) {
	var r notificationRow
	if err := s.conn(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Notification{}, accounts.ErrNotFound
		}
		return Notification{}, err
	}
	return r.notification(), nil
}

// UnreadCount is how many of userID's notifications are unread: one COUNT
// on the (user_id, read_at, id) index, cheap enough for every page's header.
func (s *Service) UnreadCount(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&notificationRow{}).Where("user_id = ? AND read_at IS NULL", userID).Count(&n).Error
	return n, err
}

// MarkAllRead marks userID's unread notifications read and returns how many
// it marked. upToID > 0 leaves those newer than it alone: what arrived
// after the person looked at the list stays unread.
func (s *Service) MarkAllRead(ctx context.Context, userID, upToID int64) (int64, error) {
	q := s.conn(ctx).Model(&notificationRow{}).Where("user_id = ? AND read_at IS NULL", userID)
	if upToID > 0 {
		q = q.Where("id <= ?", upToID)
	}
	res := q.Update("read_at", s.clock())
	return res.RowsAffected, res.Error
}

// oneLine keeps a subject to one header line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
