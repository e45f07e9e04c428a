package api

import (
	"reflect"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
)

// Request and response bodies. These types are both what handlers decode
// and encode and what the OpenAPI document is reflected from, so the
// document cannot describe a body the server does not use.
//
// Tags read by the schema reflector: doc (description), enum (comma list),
// format (JSON Schema format). Fields without omitempty/omitzero that are
// not pointers, Optional or Nullable are required in requests.

func init() {
	// Enums of types this package does not own.
	roles := make([]any, len(accounts.Roles))
	for i, r := range accounts.Roles {
		roles[i] = string(r)
	}
	enumOf[reflect.TypeFor[accounts.Role]()] = roles
}

// TokenRequest signs in with a password to get an API token.
type TokenRequest struct {
	Email    string `json:"email" format:"email"`
	Password string `json:"password" format:"password"`
	Name     string `json:"name,omitempty" doc:"a label for the token, e.g. the script using it"`
}

// Validate keeps absurd inputs away from bcrypt and the rate limiter keys.
func (r *TokenRequest) Validate() []FieldError {
	var fe []FieldError
	if len(r.Email) > 254 {
		fe = append(fe, FieldError{Field: "email", Message: "must be at most 254 characters"})
	}
	if len(r.Password) > 1024 {
		fe = append(fe, FieldError{Field: "password", Message: "must be at most 1024 bytes"})
	}
	return fe
}

// TokenResponse is a newly issued token; the secret is shown only here.
type TokenResponse struct {
	ID        int64     `json:"id"`
	Token     string    `json:"token" doc:"the secret; send it as Authorization: Bearer <token>. It cannot be shown again."`
	Name      string    `json:"name"`
	UserID    int64     `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// TokenInfo is a token's metadata.
type TokenInfo struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" doc:"updated at most once a minute"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func tokenInfo(t accounts.Token) TokenInfo {
	return TokenInfo{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// UserResponse is a user as the API shows it (never a password hash).
type UserResponse struct {
	ID            int64           `json:"id"`
	Email         string          `json:"email" format:"email"`
	Name          string          `json:"name"`
	Locale        string          `json:"locale" enum:"en,zh"`
	Active        bool            `json:"active"`
	Roles         []accounts.Role `json:"roles"`
	DepartmentIDs []int64         `json:"department_ids"`
	Version       int             `json:"version" doc:"also sent as the ETag header"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

func userResponse(u accounts.User) UserResponse {
	return UserResponse{ID: u.ID, Email: u.Email, Name: u.Name, Locale: u.Locale, Active: u.Active,
		Roles: nonNil(u.Roles), DepartmentIDs: nonNil(u.DepartmentIDs), Version: u.Version,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// nonNil makes empty sets [] rather than null, so clients can iterate.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DepartmentRef names a department.
type DepartmentRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// MeResponse is the caller with what they may do.
type MeResponse struct {
	UserResponse
	Departments []DepartmentRef `json:"departments"`
	Permissions []string        `json:"permissions" doc:"resource:action strings granted by the caller's roles"`
}

// CreateUserRequest creates a user (admin).
type CreateUserRequest struct {
	Email         string          `json:"email" format:"email"`
	Name          string          `json:"name"`
	Roles         []accounts.Role `json:"roles" doc:"at least one"`
	Password      string          `json:"password,omitempty" format:"password" doc:"8 to 72 bytes; omit for a user who cannot sign in with a password"`
	DepartmentIDs []int64         `json:"department_ids,omitempty"`
	Locale        string          `json:"locale,omitempty" enum:"en,zh" doc:"default en"`
}

// UpdateUserRequest changes the fields present; absent fields are kept.
// Email cannot change (it is the sign-in identity).
type UpdateUserRequest struct {
	Name          Optional[string]          `json:"name,omitzero"`
	Locale        Optional[string]          `json:"locale,omitzero" enum:"en,zh"`
	Active        Optional[bool]            `json:"active,omitzero" doc:"false deactivates: tokens and sessions stop working"`
	Password      Optional[string]          `json:"password,omitzero" format:"password"`
	Roles         Optional[[]accounts.Role] `json:"roles,omitzero"`
	DepartmentIDs Optional[[]int64]         `json:"department_ids,omitzero"`
}

// Validate rejects a PATCH that would change nothing, a likely client bug.
func (r *UpdateUserRequest) Validate() []FieldError {
	if !r.Name.Set && !r.Locale.Set && !r.Active.Set && !r.Password.Set && !r.Roles.Set && !r.DepartmentIDs.Set {
		return []FieldError{{Field: "body", Message: "send at least one of: name, locale, active, password, roles, department_ids"}}
	}
	return nil
}

func (r *UpdateUserRequest) patch() accounts.UserPatch {
	return accounts.UserPatch{Name: r.Name.Ptr(), Locale: r.Locale.Ptr(), Active: r.Active.Ptr(),
		Password: r.Password.Ptr(), Roles: r.Roles.Ptr(), DepartmentIDs: r.DepartmentIDs.Ptr()}
}

// DepartmentResponse is a department with its members.
type DepartmentResponse struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	LeadID         *int64    `json:"lead_id" doc:"the hierarchical escalation target; null when none"`
	Tier           int       `json:"tier"`
	MemberIDs      []int64   `json:"member_ids"`
	AutoAssign     string    `json:"auto_assign" enum:"none,round_robin,least_loaded"`
	MemberCapacity int       `json:"member_capacity" doc:"most open tickets auto-assignment gives one member; 0 = no cap"`
	Version        int       `json:"version" doc:"also sent as the ETag header"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func departmentResponse(d accounts.Department) DepartmentResponse {
	return DepartmentResponse{ID: d.ID, Name: d.Name, LeadID: d.LeadID, Tier: d.Tier, MemberIDs: nonNil(d.MemberIDs),
		AutoAssign: d.AutoAssign, MemberCapacity: d.MemberCapacity, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// CreateDepartmentRequest creates a department (admin).
type CreateDepartmentRequest struct {
	Name           string           `json:"name"`
	LeadID         *int64           `json:"lead_id,omitempty" doc:"a user id; the lead becomes a member"`
	Tier           Optional[int]    `json:"tier,omitzero" doc:"1 or more, default 1; orders functional escalation"`
	MemberIDs      []int64          `json:"member_ids,omitempty"`
	AutoAssign     Optional[string] `json:"auto_assign,omitzero" enum:"none,round_robin,least_loaded" doc:"default none"`
	MemberCapacity int              `json:"member_capacity,omitempty" doc:"most open tickets auto-assignment gives one member; 0 (default) = no cap"`
}

func (r *CreateDepartmentRequest) input() accounts.NewDepartment {
	return accounts.NewDepartment{Name: r.Name, LeadID: r.LeadID, Tier: r.Tier.Value,
		MemberIDs: r.MemberIDs, AutoAssign: r.AutoAssign.Value, MemberCapacity: r.MemberCapacity}
}

// Validate catches explicit values the domain would read as "use the default".
func (r *CreateDepartmentRequest) Validate() []FieldError {
	var fe []FieldError
	if r.Tier.Set && r.Tier.Value < 1 {
		fe = append(fe, FieldError{Field: "tier", Message: "must be 1 or more"})
	}
	if r.AutoAssign.Set && r.AutoAssign.Value == "" {
		fe = append(fe, FieldError{Field: "auto_assign", Message: "must be one of: none, round_robin, least_loaded"})
	}
	return fe
}

// UpdateDepartmentRequest changes the fields present; lead_id null clears
// the lead.
type UpdateDepartmentRequest struct {
	Name           Optional[string]  `json:"name,omitzero"`
	LeadID         Nullable[int64]   `json:"lead_id,omitzero" doc:"null clears the lead"`
	Tier           Optional[int]     `json:"tier,omitzero"`
	MemberIDs      Optional[[]int64] `json:"member_ids,omitzero"`
	AutoAssign     Optional[string]  `json:"auto_assign,omitzero" enum:"none,round_robin,least_loaded"`
	MemberCapacity Optional[int]     `json:"member_capacity,omitzero" doc:"0 = no cap"`
}

// Validate rejects a PATCH that would change nothing.
func (r *UpdateDepartmentRequest) Validate() []FieldError {
	if !r.Name.Set && !r.LeadID.Set && !r.Tier.Set && !r.MemberIDs.Set && !r.AutoAssign.Set && !r.MemberCapacity.Set {
		return []FieldError{{Field: "body", Message: "send at least one of: name, lead_id, tier, member_ids, auto_assign, member_capacity"}}
	}
	return nil
}

func (r *UpdateDepartmentRequest) patch() accounts.DepartmentPatch {
	p := accounts.DepartmentPatch{Name: r.Name.Ptr(), Tier: r.Tier.Ptr(), MemberIDs: r.MemberIDs.Ptr(), AutoAssign: r.AutoAssign.Ptr(), MemberCapacity: r.MemberCapacity.Ptr()}
	if r.LeadID.Set {
		if r.LeadID.Null {
			p.ClearLead = true
		} else {
			v := r.LeadID.Value
			p.LeadID = &v
		}
	}
	return p
}

// HealthResponse is the body of /healthz and a passing /readyz.
type HealthResponse struct {
	Status  string            `json:"status" enum:"ok"`
	Version string            `json:"version,omitempty"`
	Checks  map[string]string `json:"checks,omitempty" doc:"readiness: each check and its result"`
}
