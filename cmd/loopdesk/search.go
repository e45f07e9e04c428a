package main

import (
	"context"
	"fmt"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// runSearch rebuilds the search index from the tickets and articles tables:
// after a restore, or after a tokenizer change.
func runSearch(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "search", "search reindex [flags]")
	config.Bind(fs, storeFlags(&cfg))
	if len(args) == 0 || args[0] != "reindex" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return parse(e, fs, args)
		}
		fmt.Fprintln(e.stderr, "loopdesk search: say reindex")
		fs.Usage()
		return errUsage
	}
	if err := parse(e, fs, args[1:]); err != nil {
		return err
	}
	log, err := newLogger(&cfg, e.stderr)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	tk := tickets.New(db, accounts.New(db))
	start := time.Now()
	nt, err := tk.ReindexAll(ctx)
	if err != nil {
		return fmt.Errorf("reindex tickets (after %d): %w", nt, err)
	}
	na, err := knowledge.New(db, tk).ReindexAll(ctx)
	if err != nil {
		return fmt.Errorf("reindex articles (after %d): %w", na, err)
	}
	fmt.Fprintf(e.stdout, "reindexed %d tickets and %d articles in %s\n", nt, na, time.Since(start).Round(time.Millisecond))
	return nil
}
