package main

import (
	"log/slog"
	"strings"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/notify"
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
