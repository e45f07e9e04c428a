package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// asynqLogger adapts slog to asynq's printf-style Logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// Fatal honours asynq's contract (log, then exit 1); asynq v0.26 never calls it.
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
	os.Exit(1)
}

// asynqLevel lets slog do the filtering: asynq only calls the logger at or
// above the level it is given.
func asynqLevel(l *slog.Logger) asynq.LogLevel {
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return asynq.DebugLevel
	}
	return asynq.InfoLevel
}

// cronLogger adapts slog to robfig/cron's Logger. Cron's Info messages
// (wake, run, schedule) are chatter, so they go to Debug.
type cronLogger struct{ l *slog.Logger }

var _ cron.Logger = cronLogger{}

func (c cronLogger) Info(msg string, kv ...any) {
	c.l.Debug("cron: "+msg, append(kv, "component", "cron")...)
}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "component", "cron", "err", err)...)
}
