// Package ticketsactor carries out SLA actions (escalate, raise priority,
// notify) through the tickets service, as the system: escalations become
// real escalation records with history, like an agent's.
package ticketsactor

import (
	"context"
	"log/slog"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// Actor implements sla.Actor.
type Actor struct {
	Tickets *tickets.Service
	Log     *slog.Logger
}

var _ sla.Actor = Actor{}

// System acts for automation; ID 0 is recorded as "no person".
var System = accounts.User{ID: 0, Name: "SLA automation", Roles: []accounts.Role{accounts.RoleAdmin}, Active: true}

// Escalate records an escalation as the action describes it.
func (a Actor) Escalate(ctx context.Context, ticketID int64, act sla.Action, reason string) error {
	_, _, err := a.Tickets.Escalate(ctx, System, ticketID, 0, tickets.EscalationRequest{
		Kind: act.Kind, ToDepartmentID: act.ToDepartmentID, Tier: act.Tier, Reason: reason})
	return err
}

var nextPriority = map[string]string{"P4": "P3", "P3": "P2", "P2": "P1"}

// RaisePriority sets priority to (one step up when empty); it never lowers it.
func (a Actor) RaisePriority(ctx context.Context, ticketID int64, to, reason string) error {
	t, err := a.Tickets.Get(ctx, System, ticketID)
	if err != nil {
		return err
	}
	if to == "" {
		to = nextPriority[t.Priority]
	}
	if to == "" || to >= t.Priority { // "P1" < "P2": lower sorts more urgent
		return nil
	}
	_, err = a.Tickets.Update(ctx, System, ticketID, 0, tickets.Patch{Priority: &to})
	return err
}

// Notify has no mail transport yet: it logs the notification; the ticket's
// history already records the SLA event it is about.
func (a Actor) Notify(ctx context.Context, ticketID int64, to []string, message string) error {
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "sla notification", "ticket_id", ticketID, "to", to, "message", message)
	return nil
}
