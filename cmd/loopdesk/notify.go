package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/notify"
)

// The mail retry task: every minute, once across replicas, sends the
// notification mail whose next try is due (notify.RetryMail), up to
// mailRetryBatch at a time.
const (
	taskMailRetry     = "notify:mail_retry"
	mailRetrySchedule = "0 * * * * *"
	mailRetryBatch    = 200
)

// smtpSetting binds --smtp-url / LOOPDESK_SMTP_URL: where notification
// mail goes. Empty keeps notifications in-app only.
func smtpSetting(target *string) config.Setting {
	return config.NewSetting(target, "smtp-url", "LOOPDESK_SMTP_URL", "",
		"empty for in-app notifications only, or smtp://user:pass@host:587?from=loopdesk@example.com (smtps:// for TLS on connect)")
}

// newNotifier builds the notify service, with a mailer when smtpURL is set.
// A malformed URL stops the start: silently dropping mail is worse.
func newNotifier(db *database.DB, acc *accounts.Service, smtpURL string, log *slog.Logger) (*notify.Service, error) {
	opts := []notify.Option{notify.WithLogger(log)}
	if smtpURL = strings.TrimSpace(smtpURL); smtpURL != "" {
		m, err := notify.ParseSMTPURL(smtpURL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, notify.WithMailer(m))
		log.Info("notification email enabled", "smtp", m.Addr(), "from", m.From())
	}
	return notify.New(db, acc, opts...), nil
}

// registerNotify handles the mail retry task on a worker.
func registerNotify(w *jobs.Worker, n *notify.Service, log *slog.Logger) {
	w.HandlePayload(taskMailRetry, func(ctx context.Context, _ []byte) error {
		res, err := n.RetryMail(ctx, mailRetryBatch)
		if res != (notify.RetryResult{}) {
			log.InfoContext(ctx, "notification mail retried", "sent", res.Sent, "failed", res.Failed, "gave_up", res.GaveUp)
		}
		return err
	})
}
