package tickets

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/workflow"
)

// SLA list filters (Filter.SLA). They read the sla_clocks table the SLA
// engine maintains, by name: this package does not import sla (sla reads
// tickets), and the table is the contract.
const (
	// SLABreached: some clock of the ticket has breached (breached_at set,
	// whether or not it was met late since) and the ticket is not closed.
	SLABreached = "breached"
	// SLADueSoon: a running clock that has not breached is due between now
	// and now + Filter.SLADueWithin.
	SLADueSoon = "due_soon"

	// DefaultSLADueWithin is the due_soon horizon when Filter.SLADueWithin is 0.
	DefaultSLADueWithin = 60 * time.Minute
	// MaxSLADueWithin bounds the due_soon horizon.
	MaxSLADueWithin = 30 * 24 * time.Hour
)

// checkSLAFilter adds the problems of f's SLA fields to v.
func checkSLAFilter(v *accounts.ValidationError, f Filter) {
	switch f.SLA {
	case "", SLABreached, SLADueSoon:
	default:
		v.Add("sla", fmt.Sprintf("%q is not an SLA filter; use breached or due_soon", f.SLA))
	}
	if f.SLADueWithin != 0 && f.SLA != SLADueSoon {
		v.Add("due_within_minutes", "applies only to sla=due_soon")
	}
	if f.SLADueWithin < 0 || f.SLADueWithin > MaxSLADueWithin {
		v.Add("due_within_minutes", fmt.Sprintf("must be between 1 minute and %d minutes (30 days)", int(MaxSLADueWithin/time.Minute)))
	}
}

// slaFilter narrows q (a query over tickets) by f.SLA with an EXISTS over
// the ticket's clocks; the unique (ticket_id, metric) key of sla_clocks
// serves it.
func (s *Service) slaFilter(q *gorm.DB, f Filter) *gorm.DB {
	switch f.SLA {
	case SLABreached:
		return q.Where("EXISTS (SELECT 1 FROM sla_clocks sc WHERE sc.ticket_id = tickets.id AND sc.breached_at IS NOT NULL)").
			Where("tickets.status_category <> ?", string(workflow.CategoryClosed))
	case SLADueSoon:
		within := f.SLADueWithin
		if within <= 0 {
			within = DefaultSLADueWithin
		}
		now := s.clock()
		return q.Where("EXISTS (SELECT 1 FROM sla_clocks sc WHERE sc.ticket_id = tickets.id AND sc.state = ? "+
			"AND sc.breached_at IS NULL AND sc.due_at >= ? AND sc.due_at <= ?)", "running", now, now.Add(within))
	}
	return q
}
