package workflow

// Role names the builtin definitions use; accounts defines the same five.
const (
	RoleAdmin            = "admin"
	RoleAgent            = "agent"
	RoleDepartmentMember = "department_member"
	RoleKnowledgeEditor  = "knowledge_editor"
	RoleRequester        = "requester"
)

// Builtin returns fresh copies of the shipped definitions "support",
// "change_request" and "article", in that order. Each is valid with the
// five roles above. Version is 0: publishing assigns it.
func Builtin() []*Definition {
	return []*Definition{supportWorkflow(), changeRequestWorkflow(), articleWorkflow()}
}

func staff() []string { return []string{RoleAdmin, RoleAgent, RoleDepartmentMember} }

func editors() []string { return []string{RoleKnowledgeEditor, RoleAdmin} }

func supportWorkflow() *Definition {
	return &Definition{
		Key:     "support",
		Name:    "Support ticket",
		Initial: "new",
		States: []State{
			{Name: "new", Label: "New", Category: CategoryNew, SLA: SLARunning},
			{Name: "open", Label: "Open", Category: CategoryOpen, SLA: SLARunning},
			{Name: "pending_customer", Label: "Waiting for customer", Category: CategoryPending, SLA: SLAPaused},
			{Name: "escalated", Label: "Escalated", Category: CategoryOpen, SLA: SLARunning},
			{Name: "in_progress", Label: "In progress", Category: CategoryOpen, SLA: SLARunning},
			{Name: "resolved", Label: "Resolved", Category: CategoryResolved, SLA: SLAStopped},
			{Name: "closed", Label: "Closed", Category: CategoryClosed, SLA: SLAStopped},
		},
		Events: []Event{
			{Name: "open", Label: "Open", From: []string{"new"}, To: "open",
				Guards: Guards{Roles: staff()}},
			{Name: "pick_up", Label: "Pick up", From: []string{"new", "open", "escalated"}, To: "in_progress",
				Guards:  Guards{Roles: staff()},
				Actions: []Action{{Type: ActionAssignActor}}},
			{Name: "wait_customer", Label: "Wait for customer", From: []string{"open", "in_progress", "escalated"}, To: "pending_customer",
				Guards: Guards{Roles: staff()}},
			{Name: "customer_replied", Label: "Customer replied", From: []string{"pending_customer"}, To: "open",
				Guards: Guards{Roles: staff(), RequesterOnly: true}},
			// The tickets service fires escalate when it records an escalation.
			{Name: "escalate", Label: "Escalate", From: []string{"new", "open", "in_progress"}, To: "escalated",
				Guards: Guards{Roles: staff(), RequireFields: []string{"reason"}}},
			{Name: "resolve", Label: "Resolve", From: []string{"new", "open", "in_progress", "escalated", "pending_customer"}, To: "resolved",
				Guards: Guards{Roles: staff(), RequireFields: []string{"resolution"}, Knowledge: true}},
			{Name: "close", Label: "Close", From: []string{"resolved"}, To: "closed",
				Guards: Guards{Roles: staff(), RequesterOnly: true}},
			{Name: "reopen", Label: "Reopen", From: []string{"resolved"}, To: "open",
				Guards: Guards{Roles: staff(), RequesterOnly: true, Within: "168h"}},
			{Name: "cancel", Label: "Cancel", From: []string{"new", "open", "pending_customer"}, To: "closed",
				Guards: Guards{Roles: staff(), RequireFields: []string{"reason"}}},
		},
	}
}

func changeRequestWorkflow() *Definition {
	return &Definition{
		Key:     "change_request",
		Name:    "Change request",
		Initial: "submitted",
		States: []State{
			{Name: "submitted", Label: "Submitted", Category: CategoryNew, SLA: SLARunning},
			{Name: "awaiting_approval", Label: "Awaiting approval", Category: CategoryPending, SLA: SLAPaused},
			{Name: "approved", Label: "Approved", Category: CategoryOpen, SLA: SLARunning},
			{Name: "implementing", Label: "Implementing", Category: CategoryOpen, SLA: SLARunning},
			{Name: "done", Label: "Done", Category: CategoryClosed, SLA: SLAStopped},
			{Name: "rejected", Label: "Rejected", Category: CategoryClosed, SLA: SLAStopped},
			{Name: "cancelled", Label: "Cancelled", Category: CategoryClosed, SLA: SLAStopped},
		},
		Events: []Event{
			{Name: "submit_for_approval", Label: "Submit for approval", From: []string{"submitted"}, To: "awaiting_approval",
				Guards: Guards{Roles: staff()}},
			{Name: "approve", Label: "Approve", From: []string{"awaiting_approval"}, To: "approved",
				Guards: Guards{Roles: []string{RoleAdmin}}},
			{Name: "reject", Label: "Reject", From: []string{"awaiting_approval"}, To: "rejected",
				Guards: Guards{Roles: []string{RoleAdmin}, RequireFields: []string{"reason"}}},
			{Name: "start_implementation", Label: "Start implementation", From: []string{"approved"}, To: "implementing",
				Guards: Guards{Roles: staff(), AssigneeRequired: true}},
			{Name: "complete", Label: "Complete", From: []string{"implementing"}, To: "done",
				Guards: Guards{Roles: staff(), RequireFields: []string{"resolution"}}},
			{Name: "cancel", Label: "Cancel", From: []string{"submitted", "approved"}, To: "cancelled",
				Guards: Guards{Roles: staff(), RequireFields: []string{"reason"}}},
		},
	}
}

func articleWorkflow() *Definition {
	return &Definition{
		Key:     "article",
		Name:    "Knowledge article",
		Initial: "draft",
		States: []State{
			{Name: "draft", Label: "Draft", Category: CategoryNew, SLA: SLAStopped},
			{Name: "in_review", Label: "In review", Category: CategoryPending, SLA: SLAStopped},
			// Published articles are live but not finished with: "resolved"
			// keeps them out of closed-only reports and lists.
			{Name: "published", Label: "Published", Category: CategoryResolved, SLA: SLAStopped},
			{Name: "archived", Label: "Archived", Category: CategoryClosed, SLA: SLAStopped},
		},
		Events: []Event{
			{Name: "submit", Label: "Submit for review", From: []string{"draft"}, To: "in_review",
				Guards: Guards{Roles: []string{RoleAgent, RoleDepartmentMember, RoleKnowledgeEditor, RoleAdmin}}},
			{Name: "approve", Label: "Approve and publish", From: []string{"in_review"}, To: "published",
				Guards: Guards{Roles: editors()}},
			{Name: "reject", Label: "Send back", From: []string{"in_review"}, To: "draft",
				Guards: Guards{Roles: editors(), RequireFields: []string{"comment"}}},
			{Name: "archive", Label: "Archive", From: []string{"published"}, To: "archived",
				Guards: Guards{Roles: editors()}},
			{Name: "restore", Label: "Restore to draft", From: []string{"archived"}, To: "draft",
				Guards: Guards{Roles: editors()}},
		},
	}
}
