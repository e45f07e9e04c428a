package main

import (
	"context"
	"log/slog"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/jobs"
)

// taskPrune removes expired sessions; the scheduler enqueues it hourly (spec pruneSchedule), once
// across all replicas.
const (
	taskPrune     = "maintenance:prune"
	pruneSchedule = "17 * * * *"
)

func registerHandlers(w *jobs.Worker, acc *accounts.Service, log *slog.Logger) {
	w.HandlePayload(taskPrune, func(ctx context.Context, _ []byte) error {
		n, err := acc.PruneSessions(ctx)
		if err == nil {
			log.InfoContext(ctx, "expired sessions pruned", "count", n)
		}
		return err
	})
}
