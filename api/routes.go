package api

import (
	"net/http"
	"reflect"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/workflow"
)

// route is one endpoint. The same value registers the gin handler chain
// (auth, permission, idempotency, body decoding) and describes the
// operation in the OpenAPI document, so the two cannot drift.
type route struct {
	Method      string
	Path        string // gin syntax (:id), full path
	Summary     string
	Description string
	Tag         string
	Resource    string              // singular noun for 404 details
	Public      bool                // no bearer token needed
	Perm        accounts.Permission // required permission; "" = any signed-in user
	Request     any                 // zero value of the body type; decoded before Handler
	Response    any                 // zero value of the success body type
	List        bool                // Response is wrapped in the list envelope
	Paged       bool                // accepts ?limit= and ?cursor=
	Status      int                 // success status
	Idempotent  bool                // honours Idempotency-Key
	ETag        bool                // sends ETag; PATCH honours If-Match
	Location    bool                // 201 with a Location header
	RateLimited bool                // may answer 429
	Produces    string              // media type of a non-JSON success body
	// Query declares the query parameters (besides limit and cursor, which
	// Paged adds). A route that declares any rejects undeclared ones with a
	// 400, so a typo such as ?stauts= is never a silently unfiltered list.
	Query []*Parameter
	// RawBody: Request documents the body, but the handler reads and parses
	// it itself (still through readBody: content type, 1 MiB, problem+json).
	RawBody bool
	// IfMatch: a non-PATCH write that honours If-Match (transitions,
	// escalations); PATCH with ETag always does.
	IfMatch bool
	// DomainCursor: the cursor is the domain's opaque format (tickets), not
	// api's fixed-size one, so the document gives it no length.
	DomainCursor bool
	// NeedsSLA: the handler uses the SLA service (503 without one).
	NeedsSLA bool
	// NeedsKnowledge: the handler uses the knowledge service (503 without one).
	NeedsKnowledge bool
	Handler        gin.HandlerFunc
}

// chain builds the handler chain in the one order every route uses.
func (r route) chain(d Deps, idem *idempotency) []gin.HandlerFunc {
	var hs []gin.HandlerFunc
	if r.Resource != "" {
		res := r.Resource
		hs = append(hs, func(c *gin.Context) { c.Set(ctxResource, res) })
	}
	if !r.Public {
		hs = append(hs, BearerAuth(d.Accounts))
	}
	if r.Perm != "" {
		hs = append(hs, RequirePermission(r.Perm))
	}
	if r.Query != nil {
		hs = append(hs, onlyQuery(r.queryNames()))
	}
	if r.Tag == "tickets" || r.Tag == "workflows" {
		hs = append(hs, func(c *gin.Context) {
			if d.Tickets == nil {
				c.Header("Retry-After", "5")
				WriteProblem(c, http.StatusServiceUnavailable, "the tickets service is not configured on this server")
			}
		})
	}
	if r.NeedsSLA {
		hs = append(hs, func(c *gin.Context) {
			if d.SLA == nil {
				c.Header("Retry-After", "5")
				WriteProblem(c, http.StatusServiceUnavailable, "the SLA service is not configured on this server")
			}
		})
	}
	if r.NeedsKnowledge {
		hs = append(hs, func(c *gin.Context) {
			if d.Knowledge == nil {
				c.Header("Retry-After", "5")
				WriteProblem(c, http.StatusServiceUnavailable, "the knowledge service is not configured on this server")
			}
		})
	}
	if r.Idempotent {
		hs = append(hs, idem.middleware())
	}
	if r.Request != nil && !r.RawBody {
		t := reflect.TypeOf(r.Request)
		hs = append(hs, func(c *gin.Context) {
			v := reflect.New(t).Interface()
			if !Decode(c, v) {
				return
			}
			c.Set(ctxBody, v)
		})
	}
	return append(hs, r.Handler)
}

const apiBase = "/api/v1"

func (h *handlers) routes() []route {
	return []route{
		{Method: "GET", Path: "/healthz", Tag: "operations", Public: true, Summary: "Liveness: the process is serving",
			Response: HealthResponse{}, Status: 200, Handler: h.healthz},
		{Method: "GET", Path: "/readyz", Tag: "operations", Public: true, Summary: "Readiness: database, Redis and background checks answer within 2s",
			Description: "503 with a problem listing each failed check otherwise.",
			Response:    HealthResponse{}, Status: 200, Handler: h.readyz},
		{Method: "GET", Path: "/metrics", Tag: "operations", Public: true, Summary: "Prometheus metrics",
			Status: 200, Produces: "text/plain", Handler: gin.WrapH(promhttp.HandlerFor(h.d.Registry, promhttp.HandlerOpts{}))},
		{Method: "GET", Path: apiBase + "/openapi.json", Tag: "operations", Public: true, Summary: "This OpenAPI 3.1 document",
			Status: 200, Produces: "application/json", Handler: h.openapi},
		{Method: "GET", Path: "/api/docs", Tag: "operations", Public: true, Summary: "Human-readable API reference (HTML)",
			Status: 200, Produces: "text/html", Handler: h.docsPage},

		{Method: "POST", Path: apiBase + "/auth/tokens", Tag: "auth", Public: true, RateLimited: true,
			Summary:     "Sign in with email and password to get an API token",
			Description: "Limited to 10 attempts per account and 50 per client IP in 15 minutes; a successful sign-in resets the account's count.",
			Request:     TokenRequest{}, Response: TokenResponse{}, Status: 201, Handler: h.createToken},
		{Method: "GET", Path: apiBase + "/me", Tag: "auth", Summary: "The caller: profile, roles, departments and permissions",
			Response: MeResponse{}, Status: 200, ETag: true, Handler: h.me},
		{Method: "GET", Path: apiBase + "/me/tokens", Tag: "auth", Summary: "The caller's API tokens, revoked ones included",
			Response: TokenInfo{}, List: true, Status: 200, Handler: h.listTokens},
		{Method: "DELETE", Path: apiBase + "/me/tokens/:id", Tag: "auth", Resource: "token", Summary: "Revoke one of the caller's tokens",
			Description: "Revoking an already revoked token succeeds; another user's token is 404.",
			Status:      204, Handler: h.revokeToken},

		{Method: "GET", Path: apiBase + "/users", Tag: "users", Perm: accounts.PermUsersRead, Summary: "List users by id",
			Response: UserResponse{}, List: true, Paged: true, Status: 200, Handler: h.listUsers},
		{Method: "POST", Path: apiBase + "/users", Tag: "users", Perm: accounts.PermUsersWrite, Summary: "Create a user",
			Request: CreateUserRequest{}, Response: UserResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createUser},
		{Method: "GET", Path: apiBase + "/users/:id", Tag: "users", Resource: "user", Perm: accounts.PermUsersRead, Summary: "Get a user",
			Response: UserResponse{}, Status: 200, ETag: true, Handler: h.getUser},
		{Method: "PATCH", Path: apiBase + "/users/:id", Tag: "users", Resource: "user", Perm: accounts.PermUsersWrite, Summary: "Change a user",
			Request: UpdateUserRequest{}, Response: UserResponse{}, Status: 200, ETag: true, Handler: h.updateUser},

		{Method: "GET", Path: apiBase + "/departments", Tag: "departments", Perm: accounts.PermDepartmentsRead, Summary: "List departments by id",
			Response: DepartmentResponse{}, List: true, Paged: true, Status: 200, Handler: h.listDepartments},
		{Method: "POST", Path: apiBase + "/departments", Tag: "departments", Perm: accounts.PermDepartmentsWrite, Summary: "Create a department",
			Request: CreateDepartmentRequest{}, Response: DepartmentResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createDepartment},
		{Method: "GET", Path: apiBase + "/departments/:id", Tag: "departments", Resource: "department", Perm: accounts.PermDepartmentsRead, Summary: "Get a department",
			Response: DepartmentResponse{}, Status: 200, ETag: true, Handler: h.getDepartment},
		{Method: "PATCH", Path: apiBase + "/departments/:id", Tag: "departments", Resource: "department", Perm: accounts.PermDepartmentsWrite, Summary: "Change a department",
			Request: UpdateDepartmentRequest{}, Response: DepartmentResponse{}, Status: 200, ETag: true, Handler: h.updateDepartment},

		{Method: "GET", Path: apiBase + "/tickets", Tag: "tickets", Perm: accounts.PermTicketsRead, Summary: "List the tickets the caller may see",
			Description: "Requesters see their own tickets, department members their departments' queues, agents all. " +
				"Filters combine with AND; unknown parameters are a 400. The cursor belongs to the filters and sort it came with.",
			Query: ticketListQuery(), Response: TicketResponse{}, List: true, Paged: true, DomainCursor: true, Status: 200, Handler: h.listTickets},
		{Method: "POST", Path: apiBase + "/tickets", Tag: "tickets", Perm: accounts.PermTicketsCreate, Summary: "Open a ticket",
			Description: "It starts in the initial state of the latest version of its workflow (type).",
			Request:     CreateTicketRequest{}, Response: TicketResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createTicket},
		{Method: "GET", Path: apiBase + "/tickets/:id", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead, Summary: "Get a ticket",
			Description: "A ticket the caller may not see is a 404.",
			Response:    TicketResponse{}, Status: 200, ETag: true, Handler: h.getTicket},
		{Method: "PATCH", Path: apiBase + "/tickets/:id", Tag: "tickets", Resource: "ticket", Summary: "Change a ticket's fields",
			Description: "Staff only (the domain checks tickets:write, and tickets:assign for the assignee). The status changes only through transitions.",
			Request:     UpdateTicketRequest{}, Response: TicketResponse{}, Status: 200, ETag: true, Handler: h.updateTicket},
		{Method: "GET", Path: apiBase + "/tickets/:id/comments", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead, Summary: "A ticket's comments, oldest first",
			Description: "Requesters never see internal notes.",
			Response:    CommentResponse{}, List: true, Status: 200, Handler: h.listComments},
		{Method: "POST", Path: apiBase + "/tickets/:id/comments", Tag: "tickets", Resource: "ticket", Summary: "Reply publicly or add an internal note",
			Description: "A public reply needs comments:create, an internal note comments:internal.",
			Request:     CreateCommentRequest{}, Response: CommentResponse{}, Status: 201, Idempotent: true, Handler: h.createComment},
		{Method: "GET", Path: apiBase + "/tickets/:id/transitions", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead,
			Summary:     "The workflow events the caller may fire now",
			Description: "Exactly the events whose role, permission and precondition guards pass for the caller now; require_fields lists what the POST must carry.",
			Response:    TransitionsResponse{}, Status: 200, ETag: true, Handler: h.listTransitions},
		{Method: "POST", Path: apiBase + "/tickets/:id/transitions", Tag: "tickets", Resource: "ticket", Summary: "Fire a workflow event",
			Description: "409 with allowed for an event not allowed from the current state, 403 when a guard refuses the caller, " +
				"422 listing each missing field as fields.<name>, 409 when the ticket is not ready (e.g. unassigned). Answers the updated ticket.",
			Request: TransitionRequest{}, Response: TicketResponse{}, Status: 200, ETag: true, IfMatch: true, Handler: h.fireTransition},
		{Method: "GET", Path: apiBase + "/tickets/:id/escalations", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead, Summary: "A ticket's escalations, oldest first",
			Response: EscalationResponse{}, List: true, Status: 200, Handler: h.listEscalations},
		{Method: "POST", Path: apiBase + "/tickets/:id/escalations", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsEscalate, Summary: "Escalate a ticket",
			Description: "Functional: to a department (to_department_id) or the first department of a tier. Hierarchical: to the lead of the ticket's (or the named) department.",
			Request:     CreateEscalationRequest{}, Response: EscalatedResponse{}, Status: 201, Idempotent: true, ETag: true, IfMatch: true, Handler: h.createEscalation},
		{Method: "GET", Path: apiBase + "/tickets/:id/history", Tag: "tickets", Resource: "ticket", Perm: accounts.PermTicketsRead, Summary: "Every change to a ticket, oldest first",
			Description: "Who (actor_id, null for the system), when, what, from and to.",
			Response:    HistoryEntryResponse{}, List: true, Status: 200, Handler: h.ticketHistory},
		{Method: "GET", Path: apiBase + "/tickets/:id/sla", Tag: "tickets", Resource: "ticket", Perm: accounts.PermSLARead, NeedsSLA: true,
			Summary:     "A ticket's SLA clocks, one per metric",
			Description: "The clocks as last computed (the SLA engine recomputes them on every change of the ticket and at each warning and due instant), in metric order. A ticket the caller may not see is a 404.",
			Response:    SLAClockResponse{}, List: true, Status: 200, Handler: h.ticketSLA},

		{Method: "GET", Path: apiBase + "/workflows", Tag: "workflows", Perm: accounts.PermWorkflowsRead, Summary: "List workflows with their latest version",
			Response: WorkflowSummaryResponse{}, List: true, Status: 200, Handler: h.listWorkflows},
		{Method: "GET", Path: apiBase + "/workflows/:key", Tag: "workflows", Resource: "workflow", Perm: accounts.PermWorkflowsRead, Summary: "Get a workflow definition",
			Query:    []*Parameter{queryParam("version", "integer", false, "the version; default the latest.")},
			Response: workflow.Definition{}, Status: 200, Handler: h.getWorkflow},
		{Method: "POST", Path: apiBase + "/workflows", Tag: "workflows", Resource: "workflow", Perm: accounts.PermWorkflowsWrite, Summary: "Publish a new version of a workflow",
			Description: "The body is a definition (key, name, initial, states, events); its version is assigned. " +
				"An invalid one is a 422 listing every problem by its path (e.g. events[2].to); nothing is published. Tickets keep their version until migrated.",
			Request: PublishWorkflowRequest{}, RawBody: true, Response: workflow.Definition{}, Status: 201, Idempotent: true, Location: true, Handler: h.publishWorkflow},
		{Method: "POST", Path: apiBase + "/workflows/:key/migrations", Tag: "workflows", Resource: "workflow", Perm: accounts.PermTicketsMigrate,
			Summary: "Move open tickets from one version of a workflow to another",
			Description: "Tickets not in a closed state move, each state through state_map: every state in use must be mapped to a state of the target, " +
				"even to the same name. Every ticket moved gets a history entry.",
			Request: WorkflowMigrationRequest{}, Response: WorkflowMigrationResponse{}, Status: 200, Handler: h.migrateWorkflow},

		{Method: "GET", Path: apiBase + "/sla/calendars", Tag: "sla", Perm: accounts.PermSLARead, NeedsSLA: true, Summary: "List business calendars by name",
			Response: CalendarResponse{}, List: true, Status: 200, Handler: h.listCalendars},
		{Method: "POST", Path: apiBase + "/sla/calendars", Tag: "sla", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Create a business calendar",
			Description: "Every problem is listed at once (422): unknown time zone, unreadable or overlapping ranges, bad holidays, no working time.",
			Request:     CalendarRequest{}, Response: CalendarResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createCalendar},
		{Method: "GET", Path: apiBase + "/sla/calendars/:id", Tag: "sla", Resource: "calendar", Perm: accounts.PermSLARead, NeedsSLA: true, Summary: "Get a business calendar",
			Response: CalendarResponse{}, Status: 200, ETag: true, Handler: h.getCalendar},
		{Method: "PATCH", Path: apiBase + "/sla/calendars/:id", Tag: "sla", Resource: "calendar", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Replace a business calendar",
			Description: "The body is the whole calendar, as for POST. The clocks of open tickets under policies using it are recomputed.",
			Request:     CalendarRequest{}, Response: CalendarResponse{}, Status: 200, ETag: true, Handler: h.updateCalendar},
		{Method: "DELETE", Path: apiBase + "/sla/calendars/:id", Tag: "sla", Resource: "calendar", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Delete a business calendar",
			Description: "409 while a policy uses it: point those policies at another calendar first.",
			Status:      204, IfMatch: true, Handler: h.deleteCalendar},

		{Method: "GET", Path: apiBase + "/sla/policies", Tag: "sla", Perm: accounts.PermSLARead, NeedsSLA: true, Summary: "List SLA policies in the order they are tried",
			Response: PolicyResponse{}, List: true, Status: 200, Handler: h.listPolicies},
		{Method: "POST", Path: apiBase + "/sla/policies", Tag: "sla", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Create an SLA policy",
			Description: "Every problem is listed at once (422) by its path, e.g. targets[1].within. Open tickets' clocks are then recomputed from their history.",
			Request:     PolicyRequest{}, Response: PolicyResponse{}, Status: 201, Idempotent: true, ETag: true, Location: true, Handler: h.createPolicy},
		{Method: "GET", Path: apiBase + "/sla/policies/:id", Tag: "sla", Resource: "policy", Perm: accounts.PermSLARead, NeedsSLA: true, Summary: "Get an SLA policy",
			Response: PolicyResponse{}, Status: 200, ETag: true, Handler: h.getPolicy},
		{Method: "PATCH", Path: apiBase + "/sla/policies/:id", Tag: "sla", Resource: "policy", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Replace an SLA policy",
			Description: "The body is the whole policy, as for POST (absent optional fields take their defaults). Open tickets' clocks are recomputed from their history.",
			Request:     PolicyRequest{}, Response: PolicyResponse{}, Status: 200, ETag: true, Handler: h.updatePolicy},
		{Method: "DELETE", Path: apiBase + "/sla/policies/:id", Tag: "sla", Resource: "policy", Perm: accounts.PermSLAWrite, NeedsSLA: true, Summary: "Delete an SLA policy",
			Description: "Tickets it covered fall to the next matching policy when their clocks are recomputed.",
			Status:      204, IfMatch: true, Handler: h.deletePolicy},

		{Method: "GET", Path: apiBase + "/reports/sla", Tag: "reports", Perm: accounts.PermReportsRead, NeedsSLA: true, Summary: "SLA compliance of the tickets created in a period",
			Description: "Per group and metric: clocks counted, met on time, breached, still running, compliance and time to met (business time). " +
				"Dates are UTC. A bad date or grouping is a 400.",
			Query: slaReportQuery(), Response: SLAReportResponse{}, Status: 200, Handler: h.slaReport},
	}
}
