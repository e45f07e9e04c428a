package accounts

import "sort"

// Permissions of the whole product. A "read" that is not "read_all" is
// scoped by the owning domain: a requester reads the tickets they opened, a
// department member those of their departments or assigned to them.
const (
	PermUsersRead        Permission = "users:read"
	PermUsersWrite       Permission = "users:write"
	PermDepartmentsRead  Permission = "departments:read"
	PermDepartmentsWrite Permission = "departments:write"

	PermTicketsRead      Permission = "tickets:read"
	PermTicketsReadAll   Permission = "tickets:read_all"
	PermTicketsCreate    Permission = "tickets:create"
	PermTicketsWrite     Permission = "tickets:write"
	PermTicketsAssign    Permission = "tickets:assign"
	PermTicketsEscalate  Permission = "tickets:escalate"
	PermTicketsMigrate   Permission = "tickets:migrate" // move tickets to a newer workflow version
	PermCommentsCreate   Permission = "comments:create" // public replies
	PermCommentsInternal Permission = "comments:internal"
	PermCSATSubmit       Permission = "csat:submit"

	PermWorkflowsRead  Permission = "workflows:read"
	PermWorkflowsWrite Permission = "workflows:write"
	PermSLARead        Permission = "sla:read"
	PermSLAWrite       Permission = "sla:write" // policies and business calendars

	PermArticlesRead       Permission = "articles:read" // published articles
	PermArticlesReadDrafts Permission = "articles:read_drafts"
	PermArticlesWrite      Permission = "articles:write" // drafts and edits
	PermArticlesApprove    Permission = "articles:approve"
	PermFAQReview          Permission = "faq:review"

	PermReportsRead     Permission = "reports:read"
	PermTemplatesWrite  Permission = "templates:write"
	PermWebhooksWrite   Permission = "webhooks:write"
	PermTokensManageOwn Permission = "tokens:manage_own"
	PermTokensManageAll Permission = "tokens:manage_all"
)

// AllPermissions lists every permission; admin holds them all.
var AllPermissions = []Permission{
	PermUsersRead, PermUsersWrite, PermDepartmentsRead, PermDepartmentsWrite,
	PermTicketsRead, PermTicketsReadAll, PermTicketsCreate, PermTicketsWrite, PermTicketsAssign,
	PermTicketsEscalate, PermTicketsMigrate, PermCommentsCreate, PermCommentsInternal, PermCSATSubmit,
	PermWorkflowsRead, PermWorkflowsWrite, PermSLARead, PermSLAWrite,
	PermArticlesRead, PermArticlesReadDrafts, PermArticlesWrite, PermArticlesApprove, PermFAQReview,
	PermReportsRead, PermTemplatesWrite, PermWebhooksWrite, PermTokensManageOwn, PermTokensManageAll,
}

// workTickets is what everyone who answers tickets needs.
var workTickets = []Permission{
	PermTicketsRead, PermTicketsCreate, PermTicketsWrite, PermTicketsAssign, PermTicketsEscalate,
	PermCommentsCreate, PermCommentsInternal,
	PermArticlesRead, PermArticlesReadDrafts, PermArticlesWrite,
	PermDepartmentsRead, PermUsersRead, PermWorkflowsRead, PermSLARead, PermTokensManageOwn,
}

var rolePermissions = map[Role]map[Permission]bool{
	RoleAdmin: set(AllPermissions),
	// Front line: sees every queue.
	RoleAgent: set(workTickets, PermTicketsReadAll),
	// Works its departments' tickets only (tickets:read without read_all).
	RoleDepartmentMember: set(workTickets),
	RoleKnowledgeEditor: set([]Permission{
		PermArticlesRead, PermArticlesReadDrafts, PermArticlesWrite, PermArticlesApprove, PermFAQReview,
		PermTicketsRead, PermTicketsReadAll, PermDepartmentsRead, PermUsersRead, PermReportsRead, PermTokensManageOwn,
	}),
	RoleRequester: set([]Permission{
		PermTicketsCreate, PermTicketsRead, PermCommentsCreate, PermCSATSubmit, PermArticlesRead, PermTokensManageOwn,
	}),
}

func set(ps []Permission, more ...Permission) map[Permission]bool {
	m := make(map[Permission]bool, len(ps)+len(more))
	for _, p := range append(append([]Permission{}, ps...), more...) {
		m[p] = true
	}
	return m
}

// Can reports whether any of roles grants p. It is the only place a
// permission is decided; unknown roles grant nothing.
func Can(roles []Role, p Permission) bool {
	for _, r := range roles {
		if rolePermissions[r][p] {
			return true
		}
	}
	return false
}

// PermissionsOf returns everything roles grant, sorted, for /me.
func PermissionsOf(roles []Role) []Permission {
	out := []Permission{}
	for _, p := range AllPermissions {
		if Can(roles, p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
