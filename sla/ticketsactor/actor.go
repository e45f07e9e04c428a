// Package ticketsactor carries out SLA actions (escalate, raise priority,
// notify) through the tickets service, as the system: escalations become
// real escalation records with history, like an agent's.
package ticketsactor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/notify"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// Notifier delivers notify actions; *notify.Service is one.
type Notifier interface {
	Notify(ctx context.Context, msg notify.Message, to []string) (notify.Result, error)
}

// Actor implements sla.Actor.
type Actor struct {
	Tickets *tickets.Service
	// Notifier carries out notify actions; nil only logs them.
	Notifier Notifier
	Log      *slog.Logger
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

// Notify stores an in-app notification for each recipient (and mails
// them when a transport is configured). Recipients that name nobody are
// logged, not errors: retrying would not make an assignee appear.
func (a Actor) Notify(ctx context.Context, ticketID int64, to []string, kind, message string) error {
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	if a.Notifier == nil {
		log.InfoContext(ctx, "sla notification (no notifier wired)", "ticket_id", ticketID, "to", to, "message", message)
		return nil
	}
	msg := a.message(ctx, ticketID, kind, message)
	res, err := a.Notifier.Notify(ctx, msg, to)
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		log.WarnContext(ctx, "sla notification recipient skipped", "ticket_id", ticketID, "to", s.To, "reason", s.Reason)
	}
	log.InfoContext(ctx, "sla notification", "ticket_id", ticketID, "kind", msg.Kind, "recipients", len(res.Notifications))
	return nil
}

// message words the notification.
func (a Actor) message(ctx context.Context, ticketID int64, slaKind, reason string) notify.Message {
	kind, what := notify.KindSLAWarning, "SLA warning"
	if slaKind == sla.KindBreach {
		kind, what = notify.KindSLABreach, "SLA breached"
	}
	subject := fmt.Sprintf("[#%d] %s", ticketID, what)
	body := reason + "\n"
	if a.Tickets != nil {
		// The ticket's subject makes the mail recognisable; without it
		// the notification still goes out.
		if t, err := a.Tickets.Get(ctx, System, ticketID); err == nil {
			subject += ": " + t.Subject
			body = fmt.Sprintf("Ticket #%d: %s\nPriority %s, status %s\n\n%s\n", t.ID, t.Subject, t.Priority, t.Status, reason)
		}
	}
	return notify.Message{TicketID: ticketID, Kind: kind, Subject: subject, Body: body}
}
