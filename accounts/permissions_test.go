package accounts_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
)

func TestCanPerRole(t *testing.T) {
	type P = accounts.Permission
	cases := []struct {
		role  accounts.Role
		allow []P
		deny  []P
	}{
		{accounts.RoleAdmin, accounts.AllPermissions, nil},
		{accounts.RoleAgent,
			[]P{accounts.PermTicketsRead, accounts.PermTicketsReadAll, accounts.PermTicketsWrite, accounts.PermTicketsEscalate,
				accounts.PermCommentsInternal, accounts.PermArticlesRead, accounts.PermArticlesWrite, accounts.PermDepartmentsRead,
				accounts.PermUsersRead, accounts.PermTokensManageOwn},
			[]P{accounts.PermUsersWrite, accounts.PermDepartmentsWrite, accounts.PermArticlesApprove, accounts.PermFAQReview,
				accounts.PermWorkflowsWrite, accounts.PermSLAWrite, accounts.PermTokensManageAll}},
		{accounts.RoleDepartmentMember,
			[]P{accounts.PermTicketsRead, accounts.PermTicketsWrite, accounts.PermTicketsEscalate, accounts.PermCommentsInternal,
				accounts.PermArticlesRead, accounts.PermArticlesWrite},
			[]P{accounts.PermTicketsReadAll, accounts.PermUsersWrite, accounts.PermArticlesApprove, accounts.PermFAQReview, accounts.PermSLAWrite}},
		{accounts.RoleKnowledgeEditor,
			[]P{accounts.PermArticlesApprove, accounts.PermFAQReview, accounts.PermArticlesRead, accounts.PermArticlesWrite,
				accounts.PermTicketsRead, accounts.PermReportsRead},
			[]P{accounts.PermTicketsWrite, accounts.PermCommentsInternal, accounts.PermUsersWrite, accounts.PermWorkflowsWrite}},
		{accounts.RoleRequester,
			[]P{accounts.PermTicketsCreate, accounts.PermTicketsRead, accounts.PermArticlesRead, accounts.PermTokensManageOwn, accounts.PermCommentsCreate},
			[]P{accounts.PermTicketsReadAll, accounts.PermTicketsWrite, accounts.PermCommentsInternal, accounts.PermArticlesWrite,
				accounts.PermArticlesReadDrafts, accounts.PermUsersRead, accounts.PermDepartmentsRead, accounts.PermReportsRead}},
	}
	for _, c := range cases {
		t.Run(string(c.role), func(t *testing.T) {
			for _, p := range c.allow {
				if !accounts.Can([]accounts.Role{c.role}, p) {
					t.Errorf("%s should have %s", c.role, p)
				}
			}
			for _, p := range c.deny {
				if accounts.Can([]accounts.Role{c.role}, p) {
					t.Errorf("%s should not have %s", c.role, p)
				}
			}
		})
	}
}

func TestCanEdgeCases(t *testing.T) {
	if accounts.Can(nil, accounts.PermTicketsRead) {
		t.Error("no roles granted a permission")
	}
	if accounts.Can([]accounts.Role{"root"}, accounts.PermUsersWrite) {
		t.Error("unknown role granted a permission")
	}
	if accounts.Can([]accounts.Role{accounts.RoleAdmin}, "tickets:fly") {
		t.Error("unknown permission granted")
	}
	both := []accounts.Role{accounts.RoleRequester, accounts.RoleKnowledgeEditor}
	if !accounts.Can(both, accounts.PermArticlesApprove) || !accounts.Can(both, accounts.PermTicketsCreate) {
		t.Error("roles do not combine")
	}
	u := accounts.User{Roles: []accounts.Role{accounts.RoleAgent}}
	if !u.Can(accounts.PermTicketsEscalate) || u.Can(accounts.PermUsersWrite) {
		t.Error("User.Can disagrees with Can")
	}
}

func TestPermissionsOf(t *testing.T) {
	all := accounts.PermissionsOf([]accounts.Role{accounts.RoleAdmin})
	if len(all) != len(accounts.AllPermissions) || !slices.IsSorted(all) {
		t.Fatalf("admin: %v", all)
	}
	for _, p := range all {
		if parts := strings.Split(string(p), ":"); len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			t.Errorf("%q is not resource:action", p)
		}
	}
	got := accounts.PermissionsOf([]accounts.Role{accounts.RoleRequester})
	want := []accounts.Permission{"articles:read", "comments:create", "csat:submit", "tickets:create", "tickets:read", "tokens:manage_own"}
	if !slices.Equal(got, want) {
		t.Fatalf("requester: %v, want %v", got, want)
	}
	if got := accounts.PermissionsOf(nil); got == nil || len(got) != 0 {
		t.Fatalf("no roles: %#v", got)
	}
}
