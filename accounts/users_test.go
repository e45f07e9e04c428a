package accounts_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestCreateGetUser(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		s := newService(db, clk)
		d := mustDept(t, s, accounts.NewDepartment{Name: "Billing"})
		u, err := s.CreateUser(ctx, accounts.NewUser{
			Email: "  Ada@Example.COM ", Name: " Ada ", Locale: "zh", Password: "s3cret-pass",
			Roles: []accounts.Role{accounts.RoleRequester, accounts.RoleAgent, accounts.RoleAgent}, DepartmentIDs: []int64{d.ID, d.ID},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := accounts.User{ID: u.ID, Email: "ada@example.com", Name: "Ada", Locale: "zh", Active: true,
			Roles: []accounts.Role{accounts.RoleAgent, accounts.RoleRequester}, DepartmentIDs: []int64{d.ID}, Version: 1,
			CreatedAt: clk.Now().Truncate(time.Millisecond), UpdatedAt: clk.Now().Truncate(time.Millisecond)}
		if !reflect.DeepEqual(u, want) {
			t.Fatalf("created\n got %+v\nwant %+v", u, want)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetUser = %+v, %v\nwant %+v", got, err, want)
		}
		byEmail, err := s.GetUserByEmail(ctx, "ADA@example.com ")
		if err != nil || byEmail.ID != u.ID {
			t.Fatalf("GetUserByEmail = %+v, %v", byEmail, err)
		}
		if _, err := s.GetUser(ctx, u.ID+100); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		if _, err := s.GetUserByEmail(ctx, "nobody@example.com"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown email: %v", err)
		}
		plain, err := s.CreateUser(ctx, accounts.NewUser{Email: "b@example.com", Name: "B", Roles: []accounts.Role{accounts.RoleRequester}})
		if err != nil || plain.Locale != "en" || len(plain.DepartmentIDs) != 0 || plain.DepartmentIDs == nil {
			t.Fatalf("defaults: %+v, %v", plain, err)
		}
		if n, err := s.CountUsers(ctx); err != nil || n != 2 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
	})
}

func TestListUsersPages(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		d := mustDept(t, s, accounts.NewDepartment{Name: "Ops"})
		var ids []int64
		for i := 0; i < 7; i++ {
			u, err := s.CreateUser(ctx, accounts.NewUser{Email: fmt.Sprintf("u%d@example.com", i), Name: "U",
				Roles: []accounts.Role{accounts.RoleAgent, accounts.RoleKnowledgeEditor}, DepartmentIDs: []int64{d.ID}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		var seen []int64
		after := int64(0)
		for pages := 0; ; pages++ {
			page, err := s.ListUsers(ctx, accounts.Page{AfterID: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				if pages != 3 {
					t.Fatalf("took %d pages, want 3 (+1 empty)", pages)
				}
				break
			}
			if len(page) > 3 {
				t.Fatalf("page of %d with limit 3", len(page))
			}
			for _, u := range page {
				if len(u.Roles) != 2 || !slices.Equal(u.DepartmentIDs, []int64{d.ID}) {
					t.Fatalf("user %d loaded as %+v", u.ID, u)
				}
				seen = append(seen, u.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(seen, ids) {
			t.Fatalf("listed %v, want %v", seen, ids)
		}
		all, err := s.ListUsers(ctx, accounts.Page{})
		if err != nil || len(all) != 7 {
			t.Fatalf("default limit: %d, %v", len(all), err)
		}
	})
}

func TestEmailUniqueCaseInsensitive(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		mustUser(t, s, "dup@example.com")
		_, err := s.CreateUser(ctx, accounts.NewUser{Email: "DUP@Example.com", Name: "X", Roles: []accounts.Role{accounts.RoleAgent}})
		if !errors.Is(err, accounts.ErrEmailTaken) {
			t.Fatalf("want ErrEmailTaken, got %v", err)
		}
	})
}

func TestConcurrentCreateSameEmail(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		before := len(events(t, db))
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				email := "race@example.com"
				if i%2 == 1 {
					email = "RACE@example.com"
				}
				_, errs[i] = s.CreateUser(ctx, accounts.NewUser{Email: email, Name: "R", Password: "password1", Roles: []accounts.Role{accounts.RoleAgent}})
			}(i)
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, accounts.ErrEmailTaken):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d creates won, want exactly 1", wins)
		}
		if n, _ := s.CountUsers(ctx); n != 1 {
			t.Fatalf("%d users stored", n)
		}
		if got := len(events(t, db)) - before; got != 1 {
			t.Fatalf("%d outbox events for one created user", got)
		}
	})
}

func TestCreateUserValidationListsEveryField(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		_, err := s.CreateUser(ctx, accounts.NewUser{
			Email: "Ada <ada@example.com>", Name: strings.Repeat("é", 201), Locale: "fr", Password: "short",
			Roles: []accounts.Role{accounts.RoleAgent, "boss"}, DepartmentIDs: []int64{999},
		})
		want := []string{"email", "name", "locale", "password", "roles[1]", "department_ids"}
		if got := fields(t, err); !slices.Equal(got, want) {
			t.Fatalf("fields %v, want %v", got, want)
		}
		_, err = s.CreateUser(ctx, accounts.NewUser{Email: "", Name: "  ", Password: strings.Repeat("x", 73)})
		if got := fields(t, err); !slices.Equal(got, []string{"email", "name", "password", "roles"}) {
			t.Fatalf("fields %v", got)
		}
		for _, bad := range []string{"not-an-email", "a@b@c", "<a@example.com>", "a@example.com, b@example.com"} {
			_, err := s.CreateUser(ctx, accounts.NewUser{Email: bad, Name: "X", Roles: []accounts.Role{accounts.RoleAgent}})
			if got := fields(t, err); !slices.Equal(got, []string{"email"}) {
				t.Fatalf("%q: fields %v", bad, got)
			}
		}
		// 72 bytes is bcrypt's limit and still allowed.
		if _, err := s.CreateUser(ctx, accounts.NewUser{Email: "max@example.com", Name: "M", Password: strings.Repeat("p", 72), Roles: []accounts.Role{accounts.RoleAgent}}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountUsers(ctx); n != 1 {
			t.Fatalf("invalid users were stored: %d", n)
		}
		if recs := events(t, db); len(recs) != 1 {
			t.Fatalf("%d outbox events, want 1 (only the valid user)", len(recs))
		}
	})
}

func TestUpdateUser(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		clk := newClock()
		s := newService(db, clk)
		d1 := mustDept(t, s, accounts.NewDepartment{Name: "One"})
		d2 := mustDept(t, s, accounts.NewDepartment{Name: "Two"})
		u := mustUser(t, s, "up@example.com")
		clk.Advance(time.Minute)
		got, err := s.UpdateUser(ctx, u.ID, u.Version, accounts.UserPatch{
			Name: ptr("New Name"), Locale: ptr("zh"), Password: ptr("new password"),
			Roles: &[]accounts.Role{accounts.RoleKnowledgeEditor}, DepartmentIDs: &[]int64{d2.ID, d1.ID},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "New Name" || got.Locale != "zh" || got.Version != 2 ||
			!slices.Equal(got.Roles, []accounts.Role{accounts.RoleKnowledgeEditor}) ||
			!slices.Equal(got.DepartmentIDs, []int64{d1.ID, d2.ID}) || !got.UpdatedAt.Equal(clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("updated: %+v", got)
		}
		if _, err := s.Authenticate(ctx, "up@example.com", "new password"); err != nil {
			t.Fatalf("new password: %v", err)
		}
		// Replacing the set removes what is not listed.
		got, err = s.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{DepartmentIDs: &[]int64{}})
		if err != nil || len(got.DepartmentIDs) != 0 || got.Version != 3 {
			t.Fatalf("clear departments: %+v, %v", got, err)
		}
		d, _ := s.GetDepartment(ctx, d1.ID)
		if len(d.MemberIDs) != 0 || d.Version <= d1.Version {
			t.Fatalf("department not updated with the membership: %+v", d)
		}
		if _, err := s.UpdateUser(ctx, u.ID+99, 0, accounts.UserPatch{Name: ptr("x")}); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		_, err = s.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Name: ptr(""), Locale: ptr("de"), Roles: &[]accounts.Role{}, DepartmentIDs: &[]int64{-1}})
		if f := fields(t, err); !slices.Equal(f, []string{"name", "locale", "roles", "department_ids"}) {
			t.Fatalf("fields %v", f)
		}
	})
}

func TestUpdateUserVersionConflict(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "v@example.com")
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = s.UpdateUser(ctx, u.ID, u.Version, accounts.UserPatch{Name: ptr("writer " + strconv.Itoa(i))})
			}(i)
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, accounts.ErrVersionConflict):
				t.Fatalf("unexpected: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d updates won with the same version, want 1", wins)
		}
		got, _ := s.GetUser(ctx, u.ID)
		if got.Version != 2 {
			t.Fatalf("version %d, want 2", got.Version)
		}
		// A stale version after the fact conflicts too and changes nothing.
		if _, err := s.UpdateUser(ctx, u.ID, 1, accounts.UserPatch{Name: ptr("late")}); !errors.Is(err, accounts.ErrVersionConflict) {
			t.Fatalf("stale: %v", err)
		}
		if again, _ := s.GetUser(ctx, u.ID); again.Name != got.Name {
			t.Fatalf("stale update changed the name to %q", again.Name)
		}
		if updates := eventsOf(t, db, accounts.EventUserUpdated, strconv.FormatInt(u.ID, 10)); len(updates) != 1 {
			t.Fatalf("%d user:updated events, want 1", len(updates))
		}
	})
}

func TestAuthenticate(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "auth@example.com")
		got, err := s.Authenticate(ctx, " AUTH@example.com", "correct horse")
		if err != nil || got.ID != u.ID {
			t.Fatalf("good login: %+v, %v", got, err)
		}
		for _, c := range []struct{ email, pw string }{
			{"auth@example.com", "wrong horse"},
			{"auth@example.com", ""},
			{"ghost@example.com", "correct horse"},
		} {
			if _, err := s.Authenticate(ctx, c.email, c.pw); !errors.Is(err, accounts.ErrInvalidCredentials) {
				t.Fatalf("%s/%s: %v", c.email, c.pw, err)
			}
		}
		nopw, err := s.CreateUser(ctx, accounts.NewUser{Email: "nopw@example.com", Name: "N", Roles: []accounts.Role{accounts.RoleRequester}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, nopw.Email, ""); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("user without password: %v", err)
		}
		if _, err := s.UpdateUser(ctx, u.ID, 0, accounts.UserPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, u.Email, "wrong horse"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("inactive with wrong password must not reveal inactivity: %v", err)
		}
		if _, err := s.Authenticate(ctx, u.Email, "correct horse"); !errors.Is(err, accounts.ErrInactive) {
			t.Fatalf("inactive: %v", err)
		}
	})
}
