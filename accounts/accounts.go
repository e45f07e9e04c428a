// Package accounts owns users, departments, roles and permissions, API
// tokens and browser sessions. Permission checks happen in Can, nowhere else.
package accounts

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role is a named bundle of permissions.
type Role string

const (
	RoleAdmin            Role = "admin"
	RoleAgent            Role = "agent"
	RoleDepartmentMember Role = "department_member"
	RoleKnowledgeEditor  Role = "knowledge_editor"
	RoleRequester        Role = "requester"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleAdmin, RoleAgent, RoleDepartmentMember, RoleKnowledgeEditor, RoleRequester}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Permission is "resource:action", e.g. "users:write".
type Permission string

// Auto-assignment modes for departments.
const (
	AutoAssignNone        = "none"
	AutoAssignRoundRobin  = "round_robin"
	AutoAssignLeastLoaded = "least_loaded"
)

// User is a person who signs in.
type User struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Locale        string    `json:"locale"`
	Active        bool      `json:"active"`
	Roles         []Role    `json:"roles"`
	DepartmentIDs []int64   `json:"department_ids"`
	Version       int       `json:"version"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Can reports whether the user may do p.
func (u User) Can(p Permission) bool { return Can(u.Roles, p) }

// HasRole reports whether the user has role r.
func (u User) HasRole(r Role) bool {
	for _, x := range u.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Department is a team that works a queue; its lead is the hierarchical
// escalation target and its tier orders functional escalation.
type Department struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	LeadID     *int64  `json:"lead_id"`
	Tier       int     `json:"tier"`
	MemberIDs  []int64 `json:"member_ids"`
	AutoAssign string  `json:"auto_assign"`
	// MemberCapacity caps the open tickets auto-assignment gives one member (0: no cap).
	MemberCapacity int       `json:"member_capacity"`
	Version        int       `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Token is an API token's metadata; the secret is shown once at issue.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Errors returned by the service; the API maps them to HTTP statuses.
var (
	ErrNotFound           = errors.New("not found")
	ErrVersionConflict    = errors.New("the resource was changed by someone else; reload and retry")
	ErrInvalidCredentials = errors.New("email or password is wrong")
	ErrInactive           = errors.New("this account is deactivated")
	ErrEmailTaken         = errors.New("a user with this email already exists")
	ErrNameTaken          = errors.New("a department with this name already exists")
)

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field at once.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = fmt.Sprintf("%s: %s", f.Field, f.Message)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a problem with field.
func (e *ValidationError) Add(field, msg string) { e.Fields = append(e.Fields, FieldError{field, msg}) }

// Err returns e when it holds problems, else nil.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// NewUser is the input to CreateUser.
type NewUser struct {
	Email         string
	Name          string
	Locale        string // "en" (default) or "zh"
	Password      string // empty: the user cannot sign in with a password
	Roles         []Role
	DepartmentIDs []int64
}

// UserPatch changes the fields that are non-nil.
type UserPatch struct {
	Name          *string
	Locale        *string
	Active        *bool
	Password      *string
	Roles         *[]Role
	DepartmentIDs *[]int64
}

// NewDepartment is the input to CreateDepartment.
type NewDepartment struct {
	Name           string
	LeadID         *int64
	Tier           int // default 1
	MemberIDs      []int64
	AutoAssign     string // default "none"
	MemberCapacity int    // 0: no cap
}

// DepartmentPatch changes the fields that are non-nil. ClearLead removes the lead.
type DepartmentPatch struct {
	Name           *string
	LeadID         *int64
	ClearLead      bool
	Tier           *int
	MemberIDs      *[]int64
	AutoAssign     *string
	MemberCapacity *int
}

// Page asks for up to Limit items with ID greater than AfterID (keyset).
type Page struct {
	AfterID int64
	Limit   int
}
