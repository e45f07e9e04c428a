package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/api"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/internal/ratelimit"
	"github.com/loopdesk/loopdesk/internal/redisserver"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/sla/ticketsactor"
	"github.com/loopdesk/loopdesk/tickets"
	"github.com/loopdesk/loopdesk/web"
)

func serveFlags(e *env, name, synopsis, defaultRoles string, cfg *config.Config) *flag.FlagSet {
	fs := newFlags(e, name, synopsis)
	settings := append(cfg.Settings(), config.NewSetting(&cfg.Roles, "roles", "LOOPDESK_ROLES", defaultRoles, "comma list of roles to run: web, worker, scheduler"),
		smtpSetting(&cfg.SMTPURL),
		config.NewSetting(&cfg.Proxies, "trusted-proxies", "LOOPDESK_TRUSTED_PROXIES", "",
			"comma list of proxy IPs or CIDRs (e.g. 10.0.0.0/8) whose X-Forwarded-For gives the client IP; empty trusts none"))
	config.Bind(fs, settings)
	return fs
}

func runServe(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := serveFlags(e, "serve", "serve [flags]", "web,worker,scheduler", &cfg)
	fs.BoolVar(&cfg.Demo, "demo", false, "load demo departments and users before serving")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	return serve(ctx, e, &cfg)
}

func runWorker(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := serveFlags(e, "worker", "worker [flags]", "worker,scheduler", &cfg)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errors.New("a separate worker needs a shared Redis: set LOOPDESK_REDIS_URL (the embedded server lives inside `loopdesk serve`, which already runs a worker)")
	}
	if cfg.HasRole("web") {
		return errors.New("loopdesk worker does not serve HTTP: drop web from --roles or use loopdesk serve")
	}
	return serve(ctx, e, &cfg)
}

// serve runs the configured roles until ctx ends, then stops them in order:
// HTTP first (no new work comes in), then the worker (running tasks finish),
// then relay and scheduler, then Redis and the database.
func serve(ctx context.Context, e *env, cfg *config.Config) error {
	if err := cfg.ValidateRoles(); err != nil {
		return err
	}
	log, err := newLogger(cfg, e.stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	warnSmallPool(ctx, db, log)

	redisURL := cfg.RedisURL
	if redisURL == "" {
		srv, err := redisserver.Start()
		if err != nil {
			return fmt.Errorf("start the in-process Redis server: %w", err)
		}
		defer srv.Close()
		redisURL = srv.URL()
		log.Info("in-process Redis-compatible server started", "addr", srv.Addr())
	}
	rdb, err := jobs.NewRedisClient(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	redisOpt, err := jobs.RedisOpt(redisURL)
	if err != nil {
		return err
	}

	acc := accounts.New(db)
	if err := firstAdmin(ctx, cfg, acc, e, log); err != nil {
		return err
	}
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		return fmt.Errorf("publish the built-in workflows: %w", err)
	}
	faqOpt, err := faqOption(os.Getenv)
	if err != nil {
		return err
	}
	kb := knowledge.New(db, tk, faqOpt)
	if cfg.Demo {
		if err := seedDemo(ctx, acc, e.stdout, log); err != nil {
			return err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	notifier, err := newNotifier(db, acc, cfg.SMTPURL, log)
	if err != nil {
		return err
	}
	client := jobs.NewClient(redisOpt)
	defer client.Close()
	slaSvc := sla.New(db, tk, sla.WithLogger(log),
		sla.WithTimer(slaTimer{jobs.NewTimers(client, taskSLAFire)}), sla.WithActor(ticketsactor.Actor{Tickets: tk, Notifier: notifier, Log: log}))
	if cfg.Demo {
		if err := seedDemoSLA(ctx, slaSvc); err != nil {
			return fmt.Errorf("demo SLA policies: %w", err)
		}
		if err := seedDemoContent(ctx, acc, tk, kb); err != nil {
			return fmt.Errorf("demo articles and tickets: %w", err)
		}
	}

	var stops []func(context.Context)
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	var bg sync.WaitGroup

	if cfg.HasRole("worker") {
		// SLA timers need sub-second lateness: asynq moves due scheduled
		// tasks every DelayedTaskCheckInterval (DESIGN.md: 100 ms gave p99
		// 0.73 s over 20k timers on Redis); an idle worker must also poll
		// its pending queue as often (BENCHMARKS.md: p99 1.49 s -> 0.16 s).
		w, err := jobs.NewWorker(redisOpt, jobs.WorkerConfig{Logger: log, Registerer: reg,
			DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		registerHandlers(w, acc, log)
		registerSLA(w, slaSvc, log)
		registerFAQ(w, kb, log)
		registerNotify(w, notifier, log)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start job worker: %w", err)
		}
		stops = append(stops, func(context.Context) { w.Shutdown() })
		relay, err := jobs.NewRelay(db, client, jobs.RelayConfig{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		bg.Add(1)
		go func() { defer bg.Done(); relay.Run(runCtx) }()
	}
	if cfg.HasRole("scheduler") {
		host, _ := os.Hostname()
		s := jobs.NewScheduler(db, client, jobs.SchedulerConfig{Logger: log, Instance: fmt.Sprintf("%s-%d", host, os.Getpid())})
		if err := s.Add(taskPrune, pruneSchedule, taskPrune, nil); err != nil {
			return err
		}
		if err := s.Add(taskSLASweep, slaSweepSchedule, taskSLASweep, nil); err != nil {
			return err
		}
		if err := s.Add(taskMailRetry, mailRetrySchedule, taskMailRetry, nil); err != nil {
			return err
		}
		if err := scheduleFAQ(s); err != nil {
			return err
		}
		s.Start()
		stops = append(stops, func(ctx context.Context) {
			select {
			case <-s.Stop().Done():
			case <-ctx.Done():
			}
		})
	}

	var httpSrv *http.Server
	httpErr := make(chan error, 1)
	if cfg.HasRole("web") {
		throttle := accounts.NewLoginThrottle(ratelimit.New(rdb, "loopdesk:rl:"))
		engine := api.NewEngine(api.Deps{
			Accounts: acc, Tickets: tk, SLA: slaSvc, Knowledge: kb, Notify: notifier, DB: db, Redis: rdb, Throttle: throttle,
			Registry: reg, Logger: log, Version: version,
		})
		if err := api.TrustProxies(engine, cfg.Proxies); err != nil {
			return err
		}
		if err := web.Mount(engine, web.Deps{Accounts: acc, Tickets: tk, SLA: slaSvc, Knowledge: kb, Notify: notifier, Throttle: throttle, Logger: log}); err != nil {
			return err
		}
		// Build the suggestion model now rather than on the first ticket page.
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := kb.RefreshSuggestions(runCtx); err != nil && runCtx.Err() == nil {
				log.Warn("build article suggestions", "err", err)
			}
		}()
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s (set LOOPDESK_ADDR or --addr to another address): %w", cfg.Addr, err)
		}
		httpSrv = &http.Server{Handler: engine, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { httpErr <- httpSrv.Serve(ln) }()
		fmt.Fprintf(e.stdout, "Loopdesk is ready at http://%s (API docs at /api/docs)\n", ln.Addr())
	}
	log.Info("loopdesk started", "roles", cfg.Roles, "database", db.Dialect, "embedded_redis", cfg.RedisURL == "", "startup", time.Since(start).Round(time.Millisecond))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		runErr = fmt.Errorf("HTTP server stopped: %w", err)
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if httpSrv != nil {
		if err := httpSrv.Shutdown(shutdownCtx); err != nil {
			log.Warn("HTTP shutdown", "err", err)
		}
	}
	for _, stop := range stops {
		stop(shutdownCtx)
	}
	cancelRun()
	bg.Wait()
	return runErr
}

// firstAdmin creates the first admin on an empty database and says how to
// sign in; a generated password is printed once and never stored in clear.
func firstAdmin(ctx context.Context, cfg *config.Config, acc *accounts.Service, e *env, log *slog.Logger) error {
	created, generated, err := acc.EnsureFirstAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if !created {
		return nil
	}
	email := cfg.AdminEmail
	if email == "" {
		email = "admin@loopdesk.local"
	}
	log.Info("first admin created", "email", email)
	if generated != "" {
		fmt.Fprintf(e.stdout, "First admin created: %s with password %s (shown once; change it after signing in)\n", email, generated)
	} else {
		fmt.Fprintf(e.stdout, "First admin created: %s with the password from LOOPDESK_ADMIN_PASSWORD\n", email)
	}
	return nil
}
