package accounts

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// DefaultBcryptCost is the production password hash cost.
const DefaultBcryptCost = 12

// Service is the accounts domain over one database.
type Service struct {
	db         *database.DB
	now        func() time.Time
	bcryptCost int

	dummyOnce sync.Once
	dummyHash []byte

	tokens tokenCache
}

// Option configures a Service.
type Option func(*Service)

// WithBcryptCost sets the password hash cost (tests use bcrypt.MinCost).
func WithBcryptCost(cost int) Option {
	return func(s *Service) {
		if cost >= bcrypt.MinCost && cost <= bcrypt.MaxCost {
			s.bcryptCost = cost
		}
	}
}

// WithClock injects the time source.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns the accounts service over db.
func New(db *database.DB, opts ...Option) *Service {
	s := &Service{db: db, now: time.Now, bcryptCost: DefaultBcryptCost, tokens: tokenCache{ttl: DefaultTokenCacheTTL}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock returns the current time as stored: UTC, milliseconds (MariaDB
// scans whole datetime(3) indexes when given nanoseconds).
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// Domain events written to the outbox in the transaction of the change.
const (
	EventUserCreated       = "user:created"
	EventUserUpdated       = "user:updated"
	EventDepartmentCreated = "department:created"
	EventDepartmentUpdated = "department:updated"
)

// EventPayload is the body of every accounts event: which record and which
// fields changed. Consumers re-read the record; secrets never travel here.
type EventPayload struct {
	ID      int64    `json:"id"`
	Changed []string `json:"changed"`
}

// Rows mapped onto the migrated tables; never used for AutoMigrate.
type userRow struct {
	ID           int64
	Email        string
	Name         string
	Locale       string
	Active       bool
	PasswordHash string
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (userRow) TableName() string { return "users" }

type userRoleRow struct {
	UserID int64
	Role   string
}

func (userRoleRow) TableName() string { return "user_roles" }

type departmentRow struct {
	ID             int64
	Name           string
	LeadID         *int64
	Tier           int
	AutoAssign     string
	MemberCapacity int
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (departmentRow) TableName() string { return "departments" }

type memberRow struct {
	DepartmentID int64
	UserID       int64
}

func (memberRow) TableName() string { return "department_members" }

type tokenRow struct {
	ID         int64
	UserID     int64
	Name       string
	TokenHash  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

type sessionRow struct {
	IDHash    string `gorm:"column:id_hash;primaryKey"`
	UserID    int64
	CsrfToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (sessionRow) TableName() string { return "sessions" }

// notFound maps gorm's miss to the domain error.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// uniqueIDs drops duplicates and sorts, so sets compare and insert cleanly.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// missingIDs returns the ids in want that have no row in table.
func missingIDs(ctx context.Context, db *gorm.DB, table string, want []int64) ([]int64, error) {
	if len(want) == 0 {
		return nil, nil
	}
	var found []int64
	if err := db.WithContext(ctx).Table(table).Where("id IN ?", want).Pluck("id", &found).Error; err != nil {
		return nil, err
	}
	have := make(map[int64]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	var missing []int64
	for _, id := range want {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// clampLimit applies the API's list limits: default 50, at most 200.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	}
	return n
}

// versioned runs UPDATE ... SET version=version+1 WHERE id=? [AND version=?]
// and turns zero affected rows into ErrNotFound or ErrVersionConflict.
func versioned(ctx context.Context, tx *gorm.DB, table string, id int64, version int, set map[string]any) error {
	set["version"] = gorm.Expr("version + 1")
	q := tx.WithContext(ctx).Table(table).Where("id = ?", id)
	if version != 0 {
		q = q.Where("version = ?", version)
	}
	res := q.Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := tx.WithContext(ctx).Table(table).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return ErrVersionConflict
}
