package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// SLA task types and the sweep's schedule: every 30 s, once across
// replicas, so a lost timer costs at most half a minute of lateness.
const (
	taskSLAFire      = "sla:fire"
	taskSLASweep     = "sla:sweep"
	slaSweepSchedule = "*/30 * * * * *"
)

// slaTimer adapts jobs.Timers to sla.Timer.
type slaTimer struct{ t *jobs.Timers }

type slaFirePayload struct {
	TicketID int64     `json:"ticket_id"`
	At       time.Time `json:"at"`
}

func (s slaTimer) Schedule(ctx context.Context, id string, at time.Time, ticketID int64) error {
	b, err := json.Marshal(slaFirePayload{TicketID: ticketID, At: at})
	if err != nil {
		return err
	}
	// asynq keeps ProcessAt in whole seconds and polls every 100 ms: arm a
	// second early so the task is surely ready, and let Fire wait out the
	// rest to the exact instant.
	return s.t.Schedule(ctx, id, at.Add(-time.Second), b)
}

func (s slaTimer) Cancel(ctx context.Context, id string) error { return s.t.Cancel(ctx, id) }

// ticketEventTypes are the events after which a ticket's clocks may change.
var ticketEventTypes = []string{
	tickets.EventTicketCreated, tickets.EventTicketUpdated, tickets.EventTicketAssigned,
	tickets.EventTicketTransitioned, tickets.EventTicketEscalated, tickets.EventTicketMigrated,
	tickets.EventCommentAdded,
}

// registerSLA wires the SLA engine's triggers: ticket events, timers,
// recorded warnings/breaches, policy changes and the sweep.
func registerSLA(w *jobs.Worker, svc *sla.Service, log *slog.Logger) {
	for _, typ := range ticketEventTypes {
		w.Handle(typ, func(ctx context.Context, env jobs.Envelope) error {
			id, err := strconv.ParseInt(env.AggregateID, 10, 64)
			if err != nil {
				return fmt.Errorf("event %d: aggregate id %q is not a ticket id", env.EventID, env.AggregateID)
			}
			return svc.Recompute(ctx, id)
		})
	}
	w.HandlePayload(taskSLAFire, func(ctx context.Context, payload []byte) error {
		var p slaFirePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return fmt.Errorf("sla timer payload: %w", err)
		}
		return svc.Fire(ctx, p.TicketID, p.At)
	})
	for _, typ := range []string{sla.EventWarned, sla.EventBreached} {
		w.Handle(typ, func(ctx context.Context, env jobs.Envelope) error {
			var ev sla.RecordedEvent
			if err := env.Decode(&ev); err != nil {
				return err
			}
			return svc.RunActions(ctx, ev)
		})
	}
	w.Handle(sla.EventPolicyChanged, func(ctx context.Context, _ jobs.Envelope) error {
		n, err := svc.RecomputeAll(ctx)
		log.InfoContext(ctx, "sla clocks recomputed after a policy change", "tickets", n, "err", err)
		return err
	})
	w.HandlePayload(taskSLASweep, func(ctx context.Context, _ []byte) error {
		n, err := svc.Sweep(ctx)
		if n > 0 {
			log.InfoContext(ctx, "sla sweep recorded missed instants", "tickets", n)
		}
		return err
	})
}
