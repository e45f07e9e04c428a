package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// The FAQ miner's task and schedule: every 15 minutes, once across
// replicas (the scheduler's slot claim); the handler skips the run when no
// ticket, link, article or proposal changed since the last one. A run that
// races another (POST /faq-proposals/refresh, another worker) creates no
// duplicate: the knowledge package serialises proposal writes on its FAQ
// lock.
const (
	taskFAQMine     = "faq:mine"
	faqMineSchedule = "*/15 * * * *"
)

// registerFAQ handles faq:mine on the worker.
func registerFAQ(w *jobs.Worker, kb *knowledge.Service, log *slog.Logger) {
	w.HandlePayload(taskFAQMine, func(ctx context.Context, _ []byte) error {
		res, err := kb.FAQ().MineIfChanged(ctx)
		if err != nil {
			return err
		}
		if !res.Skipped {
			log.InfoContext(ctx, "faq miner ran", "tickets", res.Tickets, "created", res.Created, "joined", res.Joined,
				"covered", res.Covered, "suppressed", res.Suppressed, "took", res.Duration.Round(time.Millisecond))
		}
		return nil
	})
}

// scheduleFAQ adds the miner to the scheduler.
func scheduleFAQ(s *jobs.Scheduler) error {
	return s.Add(taskFAQMine, faqMineSchedule, taskFAQMine, nil)
}

// faqOption reads the miner's settings from the environment (all
// optional): LOOPDESK_FAQ_WINDOW (Go duration, default 720h),
// LOOPDESK_FAQ_MIN_SIZE (default 3), LOOPDESK_FAQ_REGROW_FACTOR (default
// 2), LOOPDESK_FAQ_COVER_THRESHOLD (0..1, default 0.25).
func faqOption(getenv func(string) string) (knowledge.Option, error) {
	var cfg knowledge.FAQConfig
	if v := strings.TrimSpace(getenv("LOOPDESK_FAQ_WINDOW")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("LOOPDESK_FAQ_WINDOW %q: want a positive Go duration such as 720h", v)
		}
		cfg.Window = d
	}
	if v := strings.TrimSpace(getenv("LOOPDESK_FAQ_MIN_SIZE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("LOOPDESK_FAQ_MIN_SIZE %q: want a whole number of at least 2", v)
		}
		cfg.MinSize = n
	}
	if v := strings.TrimSpace(getenv("LOOPDESK_FAQ_REGROW_FACTOR")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 1 {
			return nil, fmt.Errorf("LOOPDESK_FAQ_REGROW_FACTOR %q: want a number of at least 1, e.g. 2", v)
		}
		cfg.RegrowFactor = f
	}
	if v := strings.TrimSpace(getenv("LOOPDESK_FAQ_COVER_THRESHOLD")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return nil, fmt.Errorf("LOOPDESK_FAQ_COVER_THRESHOLD %q: want a number in (0, 1], e.g. 0.25", v)
		}
		cfg.CoverThreshold = f
	}
	return knowledge.WithFAQ(cfg), nil
}

// runFAQ is `loopdesk faq mine`: run the miner once now and print what it
// did.
func runFAQ(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "faq", "faq mine [flags]")
	config.Bind(fs, storeFlags(&cfg))
	if len(args) == 0 || args[0] != "mine" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return parse(e, fs, args)
		}
		fmt.Fprintln(e.stderr, "loopdesk faq: say mine")
		fs.Usage()
		return errUsage
	}
	if err := parse(e, fs, args[1:]); err != nil {
		return err
	}
	opt, err := faqOption(os.Getenv)
	if err != nil {
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
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		return fmt.Errorf("publish the built-in workflows: %w", err)
	}
	res, err := knowledge.New(db, tk, opt).FAQ().Mine(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mined %d tickets in %s: %d new proposals (%d reproposed), %d tickets joined %d open proposals, %d groups covered by articles, %d rejected groups suppressed\n",
		res.Tickets, res.Duration.Round(time.Millisecond), res.Created, res.Reproposed, res.Joined, res.Updated, res.Covered, res.Suppressed)
	return nil
}
