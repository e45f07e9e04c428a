package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/jobs"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/migrations"
	"github.com/loopdesk/loopdesk/tickets"
)

var faqRepeats = [][3]string{
	{"您好，退款还没到账", "我上周申请了退款，钱还没有退回来", "已为您加急处理退款，款项将在1-3个工作日原路退回。"},
	{"申请退款后一直没收到钱", "退款申请已经通过了，但是银行卡里没有收到退款", "退款已原路退回，银行处理需要1-3个工作日。"},
	{"请问退款什么时候到账？", "已经等了一周了，退款还没到账", "退款将在1-3个工作日内原路退回到支付账户。"},
	{"Cannot log in to the app", "The app says my password is incorrect", "Cleared the app cache; the customer can log in now."},
	{"Login fails with wrong password", "The app still says wrong password when I log in", "Cleared the app cache and logged in again."},
	{"Can't log in: password incorrect", "Every time I log in the app says the password is incorrect", "Asked the customer to clear the app cache."},
	{"App login: password incorrect", "The app says my password is incorrect when I log in", "Cleared the app cache; the customer can log in again."},
}

// seedRepeats resolves the repeat tickets and returns the services.
func seedRepeats(t *testing.T, db *database.DB) *tickets.Service {
	t.Helper()
	ctx := context.Background()
	acc := accounts.New(db, accounts.WithBcryptCost(bcrypt.MinCost))
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		t.Fatal(err)
	}
	agent, err := acc.CreateUser(ctx, accounts.NewUser{Email: "agent@example.com", Name: "Agent", Roles: []accounts.Role{accounts.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range faqRepeats {
		x, err := tk.Create(ctx, agent, tickets.NewTicket{Subject: c[0], Description: c[1]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk.Fire(ctx, agent, x.ID, 0, tickets.Transition{Event: "resolve",
			Fields: map[string]string{"resolution": c[2], "no_article_reason": "none yet"}}); err != nil {
			t.Fatal(err)
		}
	}
	return tk
}

func countOpen(t *testing.T, db *database.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Table("faq_proposals").Where("status = ?", knowledge.ProposalOpen).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFAQScheduledMiner: the faq:mine schedule, claimed by two scheduler
// replicas for the same slot, enqueues once; the worker's handler mines;
// a second slot with nothing new is a skipped run; no proposal is ever
// duplicated. On SQLite with the in-process Redis and on MariaDB + Redis.
func TestFAQScheduledMiner(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { faqScheduledScenario(t, testenv.SQLite(t), testenv.EmbeddedRedis(t)) })
	t.Run("mysql+redis", func(t *testing.T) { faqScheduledScenario(t, testenv.MySQL(t), testenv.RealRedis(t)) })
}

func faqScheduledScenario(t *testing.T, db *database.DB, redisURL string) {
	ctx := context.Background()
	tk := seedRepeats(t, db)
	kb := knowledge.New(db, tk)
	opt, err := jobs.RedisOpt(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := jobs.NewClient(opt)
	defer client.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := jobs.NewWorker(opt, jobs.WorkerConfig{Logger: log, TaskCheckInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	registerFAQ(w, kb, log)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()

	replicas := []*jobs.Scheduler{
		jobs.NewScheduler(db, client, jobs.SchedulerConfig{Logger: log, Instance: "replica-a"}),
		jobs.NewScheduler(db, client, jobs.SchedulerConfig{Logger: log, Instance: "replica-b"}),
	}
	for _, s := range replicas {
		if err := scheduleFAQ(s); err != nil {
			t.Fatal(err)
		}
	}
	slot := time.Now().UTC().Truncate(15 * time.Minute)
	claims := 0
	for _, s := range replicas {
		ok, err := s.ClaimAndEnqueue(ctx, taskFAQMine, slot)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			claims++
		}
	}
	if claims != 1 {
		t.Fatalf("%d replicas claimed the slot, want 1", claims)
	}
	deadline := time.Now().Add(15 * time.Second)
	for countOpen(t, db) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled miner proposed %d proposals in 15 s, want 2", countOpen(t, db))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The next slot: nothing changed, the run is skipped, nothing duplicated.
	var before struct{ LastMinedAt *time.Time }
	if err := db.Table("faq_miner_state").Select("last_mined_at").Where("id = 1").Scan(&before).Error; err != nil {
		t.Fatal(err)
	}
	if ok, err := replicas[1].ClaimAndEnqueue(ctx, taskFAQMine, slot.Add(15*time.Minute)); err != nil || !ok {
		t.Fatalf("next slot: %v %v", ok, err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := countOpen(t, db); n != 2 {
		t.Fatalf("%d open proposals after the second slot, want 2", n)
	}
	res, err := kb.FAQ().MineIfChanged(ctx)
	if err != nil || !res.Skipped {
		t.Fatalf("unchanged state not skipped: %+v %v", res, err)
	}
}

// TestFAQMineCommand: `loopdesk faq mine` runs the miner on the store and
// says what it did; bad settings and arguments are refused.
func TestFAQMineCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	seedRepeats(t, db)
	db.Close()

	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	args := []string{"mine", "--data-dir", dir, "--database-url", "", "--log-level", "warn"}
	if err := runFAQ(ctx, e, args); err != nil {
		t.Fatalf("faq mine: %v (%s)", err, errb.String())
	}
	if !strings.Contains(out.String(), "2 new proposals") {
		t.Fatalf("faq mine said %q", out.String())
	}
	out.Reset()
	if err := runFAQ(ctx, e, args); err != nil || !strings.Contains(out.String(), "0 new proposals") {
		t.Fatalf("second faq mine: %v %q", err, out.String())
	}
	if err := runFAQ(ctx, e, []string{"dig"}); err != errUsage {
		t.Fatalf("unknown subcommand: %v", err)
	}
	for _, kv := range [][2]string{{"LOOPDESK_FAQ_WINDOW", "soon"}, {"LOOPDESK_FAQ_MIN_SIZE", "1"},
		{"LOOPDESK_FAQ_REGROW_FACTOR", "0.5"}, {"LOOPDESK_FAQ_COVER_THRESHOLD", "2"}} {
		if _, err := faqOption(func(k string) string {
			if k == kv[0] {
				return kv[1]
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	if _, err := faqOption(func(k string) string {
		return map[string]string{"LOOPDESK_FAQ_WINDOW": "168h", "LOOPDESK_FAQ_MIN_SIZE": "4"}[k]
	}); err != nil {
		t.Fatal(err)
	}
}
