package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/migrations"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "migrate", "migrate up|status [flags]")
	config.Bind(fs, storeFlags(&cfg))
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return parse(e, fs, args)
		}
		fmt.Fprintln(e.stderr, "loopdesk migrate: say up or status")
		fs.Usage()
		return errUsage
	}
	if err := parse(e, fs, args[1:]); err != nil {
		return err
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "up" {
		applied, err := migrations.Up(ctx, db)
		if err != nil {
			return err
		}
		for _, m := range applied {
			fmt.Fprintf(e.stdout, "applied %04d_%s\n", m.Version, m.Name)
		}
		if len(applied) == 0 {
			fmt.Fprintln(e.stdout, "database is up to date")
		}
		return nil
	}
	st, err := migrations.StatusOf(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	pending := 0
	for _, s := range st {
		at := "pending"
		if s.AppliedAt != nil {
			at = s.AppliedAt.Format(time.RFC3339)
			if s.Modified {
				at += " (file changed since it was applied)"
			}
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", s.Version, s.Name, at)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%s database, %d pending\n", db.Dialect, pending)
	return nil
}
