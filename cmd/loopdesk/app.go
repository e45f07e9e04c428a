package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/migrations"
)

// storeFlags binds the settings every database-touching command shares.
func storeFlags(cfg *config.Config) []config.Setting {
	var out []config.Setting
	for _, s := range cfg.Settings() {
		switch s.Flag {
		case "data-dir", "database-url", "log-level", "log-format":
			out = append(out, s)
		}
	}
	return out
}

func newLogger(cfg *config.Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.LogFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", cfg.LogFormat)
}

// openStore opens the database and brings its schema up to date. Every
// replica may call it at start; migrations take a lock.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*database.DB, error) {
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	applied, err := migrations.Up(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, m := range applied {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	return db, nil
}
