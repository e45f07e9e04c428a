package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/outbox"
)

// Locales a user interface can be shown in.
var Locales = []string{"en", "zh"}

const (
	maxEmailLen = 254
	maxNameLen  = 200
)

// NormalizeEmail is the canonical form emails are stored and looked up in:
// uniqueness is case-insensitive on every dialect because of it.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func checkEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > maxEmailLen {
		return fmt.Sprintf("must be at most %d characters", maxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return "must be a plain address like name@example.com"
	}
	return ""
}

func checkName(name string) string {
	if name == "" {
		return "is required"
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		return fmt.Sprintf("must be at most %d characters", maxNameLen)
	}
	return ""
}

func checkLocale(locale string) string {
	for _, l := range Locales {
		if locale == l {
			return ""
		}
	}
	return "must be one of: " + strings.Join(Locales, ", ")
}

// checkRoles reports every bad role and returns the set in Roles order.
func checkRoles(v *ValidationError, roles []Role) []Role {
	if len(roles) == 0 {
		v.Add("roles", "at least one role is required")
		return nil
	}
	seen := map[Role]bool{}
	for i, r := range roles {
		if !r.Valid() {
			v.Add(fmt.Sprintf("roles[%d]", i), fmt.Sprintf("unknown role %q", r))
			continue
		}
		seen[r] = true
	}
	out := make([]Role, 0, len(seen))
	for _, r := range Roles {
		if seen[r] {
			out = append(out, r)
		}
	}
	return out
}

// checkDepartmentIDs reports unknown departments and returns the set.
func (s *Service) checkDepartmentIDs(ctx context.Context, v *ValidationError, ids []int64) ([]int64, error) {
	ids = uniqueIDs(ids)
	missing, err := missingIDs(ctx, s.db.DB, "departments", ids)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		v.Add("department_ids", "unknown departments: "+joinIDs(missing))
	}
	return ids, nil
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// newUserPlan is a validated NewUser, ready to insert.
type newUserPlan struct {
	row   userRow
	roles []Role
	depts []int64
}

// planNewUser validates in (listing every problem) and hashes the password
// before any transaction opens: bcrypt is slow and must not hold a lock.
func (s *Service) planNewUser(ctx context.Context, in NewUser) (newUserPlan, error) {
	v := &ValidationError{}
	email := NormalizeEmail(in.Email)
	if msg := checkEmail(email); msg != "" {
		v.Add("email", msg)
	}
	name := strings.TrimSpace(in.Name)
	if msg := checkName(name); msg != "" {
		v.Add("name", msg)
	}
	locale := in.Locale
	if locale == "" {
		locale = "en"
	}
	if msg := checkLocale(locale); msg != "" {
		v.Add("locale", msg)
	}
	if in.Password != "" {
		if msg := checkPasswordRules(in.Password); msg != "" {
			v.Add("password", msg)
		}
	}
	roles := checkRoles(v, in.Roles)
	depts, err := s.checkDepartmentIDs(ctx, v, in.DepartmentIDs)
	if err != nil {
		return newUserPlan{}, err
	}
	if err := v.Err(); err != nil {
		return newUserPlan{}, err
	}
	hash := ""
	if in.Password != "" {
		if hash, err = s.hashPassword(in.Password); err != nil {
			return newUserPlan{}, err
		}
	}
	now := s.clock()
	row := userRow{Email: email, Name: name, Locale: locale, Active: true, PasswordHash: hash,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	return newUserPlan{row: row, roles: roles, depts: depts}, nil
}

// CreateUser validates and stores a new user with its roles and departments.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (User, error) {
	plan, err := s.planNewUser(ctx, in)
	if err != nil {
		return User{}, err
	}
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error { return s.insertUser(ctx, tx, &plan) })
	if err != nil {
		return User{}, err
	}
	return toUser(plan.row, plan.roles, plan.depts), nil
}

func (s *Service) insertUser(ctx context.Context, tx *gorm.DB, p *newUserPlan) error {
	if err := tx.Create(&p.row).Error; err != nil {
		if database.IsUniqueViolation(err) {
			return ErrEmailTaken
		}
		return err
	}
	if err := insertRoles(tx, p.row.ID, p.roles); err != nil {
		return err
	}
	if err := insertMemberships(tx, p.row.ID, p.depts); err != nil {
		return err
	}
	changed := []string{"email", "name", "locale", "active", "roles"}
	if p.row.PasswordHash != "" {
		changed = append(changed, "password")
	}
	if len(p.depts) > 0 {
		changed = append(changed, "department_ids")
	}
	if err := outbox.Write(ctx, tx, userEvent(EventUserCreated, p.row.ID, changed)); err != nil {
		return err
	}
	return s.touchDepartments(ctx, tx, p.depts, "member_ids")
}

func insertRoles(tx *gorm.DB, userID int64, roles []Role) error {
	if len(roles) == 0 {
		return nil
	}
	rows := make([]userRoleRow, len(roles))
	for i, r := range roles {
		rows[i] = userRoleRow{UserID: userID, Role: string(r)}
	}
	return tx.Create(&rows).Error
}

func insertMemberships(tx *gorm.DB, userID int64, deptIDs []int64) error {
	if len(deptIDs) == 0 {
		return nil
	}
	rows := make([]memberRow, len(deptIDs))
	for i, d := range deptIDs {
		rows[i] = memberRow{DepartmentID: d, UserID: userID}
	}
	return tx.Create(&rows).Error
}

func userEvent(typ string, id int64, changed []string) outbox.Event {
	return outbox.Event{Type: typ, AggregateType: "user", AggregateID: strconv.FormatInt(id, 10),
		Payload: EventPayload{ID: id, Changed: changed}}
}

// touchUsers bumps the version of users whose department membership changed
// through a department, so their ETags move and consumers hear of it.
func (s *Service) touchUsers(ctx context.Context, tx *gorm.DB, ids []int64) error {
	ids = uniqueIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	err := tx.Table("users").Where("id IN ?", ids).
		Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.clock()}).Error
	if err != nil {
		return err
	}
	events := make([]outbox.Event, len(ids))
	for i, id := range ids {
		events[i] = userEvent(EventUserUpdated, id, []string{"department_ids"})
	}
	return outbox.Write(ctx, tx, events...)
}

func toUser(r userRow, roles []Role, depts []int64) User {
	if roles == nil {
		roles = []Role{}
	}
	if depts == nil {
		depts = []int64{}
	}
	return User{ID: r.ID, Email: r.Email, Name: r.Name, Locale: r.Locale, Active: r.Active,
		Roles: roles, DepartmentIDs: depts, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// loadUsers attaches roles and departments to rows with two queries in all.
func loadUsers(ctx context.Context, db *gorm.DB, rows []userRow) ([]User, error) {
	if len(rows) == 0 {
		return []User{}, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	// Roles and memberships in one round trip: this runs on every
	// authenticated request.
	var links []struct {
		UserID       int64
		Role         string
		DepartmentID int64
	}
	err := db.WithContext(ctx).Raw(`SELECT user_id, role, 0 AS department_id FROM user_roles WHERE user_id IN ?
UNION ALL SELECT user_id, '' AS role, department_id FROM department_members WHERE user_id IN ?`, ids, ids).Scan(&links).Error
	if err != nil {
		return nil, err
	}
	roles := map[int64][]Role{}
	depts := map[int64][]int64{}
	for _, l := range links {
		if l.Role != "" {
			roles[l.UserID] = append(roles[l.UserID], Role(l.Role))
		} else {
			depts[l.UserID] = append(depts[l.UserID], l.DepartmentID)
		}
	}
	for _, d := range depts {
		slices.Sort(d)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = toUser(r, sortRoles(roles[r.ID]), depts[r.ID])
	}
	return out, nil
}

// sortRoles orders roles as Roles does; unknown stored roles go last.
func sortRoles(rs []Role) []Role {
	rank := func(r Role) int {
		for i, k := range Roles {
			if k == r {
				return i
			}
		}
		return len(Roles)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rank(rs[i]) < rank(rs[j]) })
	return rs
}

func (s *Service) getUser(ctx context.Context, db *gorm.DB, where string, arg any) (User, userRow, error) {
	var row userRow
	if err := db.WithContext(ctx).Where(where, arg).Take(&row).Error; err != nil {
		return User{}, row, notFound(err)
	}
	us, err := loadUsers(ctx, db, []userRow{row})
	if err != nil {
		return User{}, row, err
	}
	return us[0], row, nil
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, id int64) (User, error) {
	u, _, err := s.getUser(ctx, s.db.DB, "id = ?", id)
	return u, err
}

// GetUserByEmail looks the user up case-insensitively, or ErrNotFound.
func (s *Service) GetUserByEmail(ctx context.Context, email string) (User, error) {
	u, _, err := s.getUser(ctx, s.db.DB, "email = ?", NormalizeEmail(email))
	return u, err
}

// ListUsers returns a keyset page ordered by id.
func (s *Service) ListUsers(ctx context.Context, p Page) ([]User, error) {
	var rows []userRow
	err := s.conn(ctx).Where("id > ?", p.AfterID).Order("id").Limit(clampLimit(p.Limit)).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	return loadUsers(ctx, s.db.DB, rows)
}

// CountUsers counts every user, active or not.
func (s *Service) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&userRow{}).Count(&n).Error
	return n, err
}

// userUpdate is a validated UserPatch.
type userUpdate struct {
	set     map[string]any
	changed []string
	roles   []Role
	depts   []int64
}

func (s *Service) planUserPatch(ctx context.Context, id int64, p UserPatch) (userUpdate, error) {
	up := userUpdate{set: map[string]any{}}
	v := &ValidationError{}
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if msg := checkName(name); msg != "" {
			v.Add("name", msg)
		}
		up.field("name", name)
	}
	if p.Locale != nil {
		if msg := checkLocale(*p.Locale); msg != "" {
			v.Add("locale", msg)
		}
		up.field("locale", *p.Locale)
	}
	if p.Active != nil {
		up.field("active", *p.Active)
	}
	if p.Password != nil {
		if msg := checkPasswordRules(*p.Password); msg != "" {
			v.Add("password", msg)
		}
	}
	if p.Roles != nil {
		up.roles = checkRoles(v, *p.Roles)
		up.changed = append(up.changed, "roles")
	}
	if p.DepartmentIDs != nil {
		if err := s.planUserDepartments(ctx, v, id, *p.DepartmentIDs, &up); err != nil {
			return up, err
		}
	}
	if err := v.Err(); err != nil {
		return up, err
	}
	if p.Password != nil {
		hash, err := s.hashPassword(*p.Password)
		if err != nil {
			return up, err
		}
		up.set["password_hash"] = hash
		up.changed = append(up.changed, "password")
	}
	return up, nil
}

func (up *userUpdate) field(col string, val any) {
	up.set[col] = val
	up.changed = append(up.changed, col)
}

// planUserDepartments checks the new set exists and still holds every
// department the user leads: a lead is always a member.
func (s *Service) planUserDepartments(ctx context.Context, v *ValidationError, id int64, ids []int64, up *userUpdate) error {
	depts, err := s.checkDepartmentIDs(ctx, v, ids)
	if err != nil {
		return err
	}
	var led []int64
	if err := s.conn(ctx).Model(&departmentRow{}).Where("lead_id = ?", id).Order("id").Pluck("id", &led).Error; err != nil {
		return err
	}
	var dropped []int64
	for _, d := range led {
		if !containsID(depts, d) {
			dropped = append(dropped, d)
		}
	}
	if len(dropped) > 0 {
		v.Add("department_ids", "must include the departments this user leads: "+joinIDs(dropped))
	}
	up.depts = depts
	up.changed = append(up.changed, "department_ids")
	return nil
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// UpdateUser applies p if the stored version is still version (0: no
// precondition). Roles and DepartmentIDs replace the whole set.
func (s *Service) UpdateUser(ctx context.Context, id int64, version int, p UserPatch) (User, error) {
	up, err := s.planUserPatch(ctx, id, p)
	if err != nil {
		return User{}, err
	}
	var u User
	defer s.tokens.clear() // memberships, roles or the active flag may have moved
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		up.set["updated_at"] = s.clock()
		if err := versioned(ctx, tx, "users", id, version, up.set); err != nil {
			return err
		}
		if err := s.replaceUserSets(ctx, tx, id, up); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, userEvent(EventUserUpdated, id, up.changed)); err != nil {
			return err
		}
		u, _, err = s.getUser(ctx, tx, "id = ?", id)
		return err
	})
	return u, err
}

func (s *Service) replaceUserSets(ctx context.Context, tx *gorm.DB, id int64, up userUpdate) error {
	if up.roles != nil {
		if err := tx.Where("user_id = ?", id).Delete(&userRoleRow{}).Error; err != nil {
			return err
		}
		if err := insertRoles(tx, id, up.roles); err != nil {
			return err
		}
	}
	if up.depts == nil {
		return nil
	}
	var before []int64
	if err := tx.Model(&memberRow{}).Where("user_id = ?", id).Pluck("department_id", &before).Error; err != nil {
		return err
	}
	if err := tx.Where("user_id = ?", id).Delete(&memberRow{}).Error; err != nil {
		return err
	}
	if err := insertMemberships(tx, id, up.depts); err != nil {
		return err
	}
	return s.touchDepartments(ctx, tx, symmetricDiff(before, up.depts), "member_ids")
}

// symmetricDiff returns the ids in exactly one of a and b.
func symmetricDiff(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if !containsID(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !containsID(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// Authenticate checks an email and password. Unknown emails cost one bcrypt
// run too, and ErrInactive is only revealed to someone who knows the password.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	u, row, err := s.getUser(ctx, s.db.DB, "email = ?", NormalizeEmail(email))
	if errors.Is(err, ErrNotFound) {
		s.passwordMatches("", password)
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, err
	}
	if !s.passwordMatches(row.PasswordHash, password) {
		return User{}, ErrInvalidCredentials
	}
	if !u.Active {
		return User{}, ErrInactive
	}
	return u, nil
}

// DefaultAdminEmail is used by EnsureFirstAdmin when no email is configured.
const DefaultAdminEmail = "admin@loopdesk.local"

// EnsureFirstAdmin creates an admin when there are no users at all. With an
// empty password it generates one and returns it (shown to the operator once).
// Replicas racing here are serialised (a named lock on MySQL, the immediate
// write transaction on SQLite); the losers get created=false.
func (s *Service) EnsureFirstAdmin(ctx context.Context, email, password string) (bool, string, error) {
	if n, err := s.CountUsers(ctx); err != nil || n > 0 {
		return false, "", err
	}
	if strings.TrimSpace(email) == "" {
		email = DefaultAdminEmail
	}
	generated := ""
	if password == "" {
		generated = randomPassword(20)
		password = generated
	}
	plan, err := s.planNewUser(ctx, NewUser{Email: email, Name: "Administrator", Password: password, Roles: []Role{RoleAdmin}})
	if err != nil {
		return false, "", err
	}
	created := false
	err = s.withNamedLock(ctx, "loopdesk_first_admin", func(db *gorm.DB) error {
		return db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Model(&userRow{}).Count(&n).Error; err != nil || n > 0 {
				return err
			}
			if err := s.insertUser(ctx, tx, &plan); err != nil {
				return err
			}
			created = true
			return nil
		})
	})
	if errors.Is(err, ErrEmailTaken) {
		return false, "", nil
	}
	if err != nil || !created {
		return false, "", err
	}
	return true, generated, nil
}

// withNamedLock runs fn on one connection holding a MySQL named lock, so the
// lock outlives fn's transaction commit. SQLite needs none: its immediate
// transactions already run one writer at a time.
func (s *Service) withNamedLock(ctx context.Context, name string, fn func(db *gorm.DB) error) error {
	if s.db.Dialect != database.MySQL {
		return fn(s.conn(ctx))
	}
	return s.conn(ctx).Connection(func(c *gorm.DB) error {
		var got sql.NullInt64
		if err := c.Raw("SELECT GET_LOCK(?, 30)", name).Row().Scan(&got); err != nil {
			return err
		}
		if got.Int64 != 1 {
			return fmt.Errorf("take lock %s: timed out", name)
		}
		defer c.WithContext(context.WithoutCancel(ctx)).Exec("SELECT RELEASE_LOCK(?)", name)
		return fn(c)
	})
}
