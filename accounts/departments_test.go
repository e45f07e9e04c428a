package accounts_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
)

func TestCreateDepartment(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		lead := mustUser(t, s, "lead@example.com", accounts.RoleDepartmentMember)
		m := mustUser(t, s, "m@example.com", accounts.RoleDepartmentMember)
		d := mustDept(t, s, accounts.NewDepartment{Name: " Network ", LeadID: &lead.ID, MemberIDs: []int64{m.ID, m.ID}})
		if d.Name != "Network" || d.Tier != 1 || d.AutoAssign != accounts.AutoAssignNone || d.Version != 1 ||
			*d.LeadID != lead.ID || !slices.Equal(d.MemberIDs, []int64{lead.ID, m.ID}) {
			t.Fatalf("created %+v", d)
		}
		got, err := s.GetDepartment(ctx, d.ID)
		if err != nil || got.Name != d.Name || !slices.Equal(got.MemberIDs, d.MemberIDs) || *got.LeadID != lead.ID {
			t.Fatalf("GetDepartment = %+v, %v", got, err)
		}
		if u, _ := s.GetUser(ctx, lead.ID); !slices.Equal(u.DepartmentIDs, []int64{d.ID}) {
			t.Fatalf("lead's departments: %v", u.DepartmentIDs)
		}
		if _, err := s.CreateDepartment(ctx, accounts.NewDepartment{Name: "Network"}); !errors.Is(err, accounts.ErrNameTaken) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := s.GetDepartment(ctx, d.ID+50); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

func TestDepartmentValidation(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "x@example.com")
		_, err := s.CreateDepartment(ctx, accounts.NewDepartment{Name: "", Tier: -1, AutoAssign: "random", LeadID: ptr(int64(404)), MemberIDs: []int64{u.ID, 405}})
		if f := fields(t, err); !slices.Equal(f, []string{"name", "tier", "auto_assign", "lead_id", "member_ids"}) {
			t.Fatalf("fields %v", f)
		}
		_, err = s.CreateDepartment(ctx, accounts.NewDepartment{Name: "Ok", MemberIDs: []int64{999}})
		if f := fields(t, err); !slices.Equal(f, []string{"member_ids"}) {
			t.Fatalf("unknown member: fields %v", f)
		}
		if ds, _ := s.ListDepartments(ctx, accounts.Page{}); len(ds) != 0 {
			t.Fatalf("invalid departments stored: %+v", ds)
		}
	})
}

func TestUpdateDepartment(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		a := mustUser(t, s, "a@example.com")
		b := mustUser(t, s, "b@example.com")
		c := mustUser(t, s, "c@example.com")
		d := mustDept(t, s, accounts.NewDepartment{Name: "L2", Tier: 2, LeadID: &a.ID, AutoAssign: accounts.AutoAssignRoundRobin})

		// A new lead joins the members; the old one stays.
		got, err := s.UpdateDepartment(ctx, d.ID, d.Version, accounts.DepartmentPatch{LeadID: &b.ID, Tier: ptr(3)})
		if err != nil || *got.LeadID != b.ID || got.Tier != 3 || got.Version != 2 || !slices.Equal(got.MemberIDs, []int64{a.ID, b.ID}) {
			t.Fatalf("new lead: %+v, %v", got, err)
		}
		// Replacing members always keeps the lead.
		got, err = s.UpdateDepartment(ctx, d.ID, got.Version, accounts.DepartmentPatch{MemberIDs: &[]int64{c.ID}})
		if err != nil || !slices.Equal(got.MemberIDs, []int64{b.ID, c.ID}) {
			t.Fatalf("replace members: %+v, %v", got, err)
		}
		if ua, _ := s.GetUser(ctx, a.ID); len(ua.DepartmentIDs) != 0 || ua.Version == a.Version {
			t.Fatalf("removed member a: %+v", ua)
		}
		got, err = s.UpdateDepartment(ctx, d.ID, 0, accounts.DepartmentPatch{ClearLead: true, Name: ptr("Level 2")})
		if err != nil || got.LeadID != nil || got.Name != "Level 2" {
			t.Fatalf("clear lead: %+v, %v", got, err)
		}
		if _, err := s.UpdateDepartment(ctx, d.ID, 1, accounts.DepartmentPatch{Tier: ptr(1)}); !errors.Is(err, accounts.ErrVersionConflict) {
			t.Fatalf("stale: %v", err)
		}
		if _, err := s.UpdateDepartment(ctx, d.ID+9, 0, accounts.DepartmentPatch{Tier: ptr(1)}); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		other := mustDept(t, s, accounts.NewDepartment{Name: "Other"})
		if _, err := s.UpdateDepartment(ctx, other.ID, 0, accounts.DepartmentPatch{Name: ptr("Level 2")}); !errors.Is(err, accounts.ErrNameTaken) {
			t.Fatalf("rename onto existing: %v", err)
		}
		_, err = s.UpdateDepartment(ctx, d.ID, 0, accounts.DepartmentPatch{Tier: ptr(0), AutoAssign: ptr("x"), LeadID: ptr(int64(777)), MemberIDs: &[]int64{778}})
		if f := fields(t, err); !slices.Equal(f, []string{"tier", "auto_assign", "lead_id", "member_ids"}) {
			t.Fatalf("fields %v", f)
		}
	})
}

func TestUpdateDepartmentVersionConflict(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		d := mustDept(t, s, accounts.NewDepartment{Name: "Race"})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = s.UpdateDepartment(ctx, d.ID, d.Version, accounts.DepartmentPatch{Tier: ptr(i + 2)})
			}(i)
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if errors.Is(err, accounts.ErrVersionConflict) {
				conflicts++
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("errors %v: want one success and one conflict", errs)
		}
	})
}

func TestLeadCannotLeaveOwnDepartmentThroughUser(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		lead := mustUser(t, s, "lead@example.com")
		d := mustDept(t, s, accounts.NewDepartment{Name: "Led", LeadID: &lead.ID})
		_, err := s.UpdateUser(ctx, lead.ID, 0, accounts.UserPatch{DepartmentIDs: &[]int64{}})
		if f := fields(t, err); !slices.Equal(f, []string{"department_ids"}) {
			t.Fatalf("fields %v", f)
		}
		if got, _ := s.GetDepartment(ctx, d.ID); !slices.Equal(got.MemberIDs, []int64{lead.ID}) {
			t.Fatalf("members %v", got.MemberIDs)
		}
	})
}

func TestListDepartmentsPages(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "m@example.com")
		var ids []int64
		for i := 0; i < 5; i++ {
			ids = append(ids, mustDept(t, s, accounts.NewDepartment{Name: "D" + strconv.Itoa(i), MemberIDs: []int64{u.ID}}).ID)
		}
		first, err := s.ListDepartments(ctx, accounts.Page{Limit: 2})
		if err != nil || len(first) != 2 || first[0].ID != ids[0] || first[1].ID != ids[1] {
			t.Fatalf("first page: %+v, %v", first, err)
		}
		rest, err := s.ListDepartments(ctx, accounts.Page{AfterID: first[1].ID, Limit: 500})
		if err != nil || len(rest) != 3 || rest[0].ID != ids[2] {
			t.Fatalf("rest: %+v, %v", rest, err)
		}
		for _, d := range append(first, rest...) {
			if !slices.Equal(d.MemberIDs, []int64{u.ID}) {
				t.Fatalf("department %d members %v", d.ID, d.MemberIDs)
			}
		}
	})
}

func TestOutboxWrittenWithChangeOnly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newService(db, newClock())
		u := mustUser(t, s, "o@example.com")
		d := mustDept(t, s, accounts.NewDepartment{Name: "Out", LeadID: &u.ID})
		uid, did := strconv.FormatInt(u.ID, 10), strconv.FormatInt(d.ID, 10)
		created := eventsOf(t, db, accounts.EventUserCreated, uid)
		if len(created) != 1 || created[0].AggregateType != "user" {
			t.Fatalf("user:created events %+v", created)
		}
		if pl := created[0].Payload; containsAny(pl, "$2a$", "password_hash", "correct horse") {
			t.Fatalf("payload leaks a secret: %s", pl)
		}
		var p accounts.EventPayload
		if err := json.Unmarshal([]byte(created[0].Payload), &p); err != nil || p.ID != u.ID || !slices.Contains(p.Changed, "email") {
			t.Fatalf("payload %s: %+v, %v", created[0].Payload, p, err)
		}
		if dc := eventsOf(t, db, accounts.EventDepartmentCreated, did); len(dc) != 1 || dc[0].AggregateType != "department" {
			t.Fatalf("department:created events %+v", dc)
		}
		// The lead became a member: the user heard of it too.
		if uu := eventsOf(t, db, accounts.EventUserUpdated, uid); len(uu) != 1 {
			t.Fatalf("user:updated for membership: %+v", uu)
		}

		if _, err := s.UpdateDepartment(ctx, d.ID, d.Version, accounts.DepartmentPatch{Tier: ptr(4)}); err != nil {
			t.Fatal(err)
		}
		du := eventsOf(t, db, accounts.EventDepartmentUpdated, did)
		if len(du) != 1 || !json.Valid([]byte(du[0].Payload)) {
			t.Fatalf("department:updated: %+v", du)
		}
		before := len(events(t, db))
		failures := []error{}
		_, err := s.UpdateDepartment(ctx, d.ID, d.Version, accounts.DepartmentPatch{Tier: ptr(5)}) // stale
		failures = append(failures, err)
		_, err = s.UpdateUser(ctx, u.ID, 99, accounts.UserPatch{Name: ptr("nope")}) // stale
		failures = append(failures, err)
		_, err = s.CreateUser(ctx, accounts.NewUser{Email: "O@example.com", Name: "dup", Roles: []accounts.Role{accounts.RoleAgent}})
		failures = append(failures, err)
		_, err = s.CreateDepartment(ctx, accounts.NewDepartment{Name: "Out", MemberIDs: []int64{u.ID}})
		failures = append(failures, err)
		for i, err := range failures {
			if err == nil {
				t.Fatalf("change %d should have failed", i)
			}
		}
		if after := len(events(t, db)); after != before {
			t.Fatalf("failed changes wrote %d outbox events", after-before)
		}
		if got, _ := s.GetUser(ctx, u.ID); got.Name == "nope" {
			t.Fatal("failed update was stored")
		}
	})
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestDepartmentMemberCapacity(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		svc := newService(db, newClock())
		d, err := svc.CreateDepartment(ctx, accounts.NewDepartment{Name: "Billing", MemberCapacity: 5})
		if err != nil {
			t.Fatal(err)
		}
		if d.MemberCapacity != 5 {
			t.Fatalf("capacity %d, want 5", d.MemberCapacity)
		}
		three := 3
		d, err = svc.UpdateDepartment(ctx, d.ID, d.Version, accounts.DepartmentPatch{MemberCapacity: &three})
		if err != nil || d.MemberCapacity != 3 {
			t.Fatalf("update capacity: %v %d", err, d.MemberCapacity)
		}
		neg := -1
		_, err = svc.UpdateDepartment(ctx, d.ID, 0, accounts.DepartmentPatch{MemberCapacity: &neg})
		var ve *accounts.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != "member_capacity" {
			t.Fatalf("negative capacity: %v", err)
		}
	})
}
