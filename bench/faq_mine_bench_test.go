package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/bench"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/datasets"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/tickets"
)

// BenchmarkFAQMine times the whole FAQ miner (knowledge.FAQ.Mine: read the
// window's tickets, notes, comments and links from the database, cluster,
// check coverage against published articles, draft, write the proposals)
// over LOOPDESK_BENCH_FAQ_TICKETS resolved tickets (default 10,000; the
// issue's scale run is 100,000), on both backends.
//
//	LOOPDESK_BENCH_FAQ_TICKETS=100000 \
//	LOOPDESK_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//	LOOPDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	go test ./bench -run '^$' -bench 'FAQMine/mariadb' -benchtime 1x -timeout 60m
//
// Tickets are BANKING77 test and CLINC150 test questions interleaved
// (../shared/data), grown to n by copies with small variations
// (datasets.Vary), created through the tickets service (8 callers), then
// marked resolved within the last 30 days by one UPDATE: the miner reads
// resolved_at, not how a ticket got there, and resolving 100k tickets
// through the workflow would only lengthen the seeding. Reported: the
// first run (everything new), a second forced run over the same window
// (every group already proposed or suppressed), and a run after 1,000 more
// tickets were resolved.
func BenchmarkFAQMine(b *testing.B) {
	dir, ok := datasets.Dir()
	if !ok {
		b.Skip("../shared/data is absent: the FAQ miner benchmark needs BANKING77 and CLINC150")
	}
	bank, err := datasets.Banking77(dir, "test")
	if err != nil {
		b.Fatal(err)
	}
	clinc, err := datasets.CLINC150(dir)
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	ct := clinc["test"]
	for i := range max(len(bank), len(ct)) {
		if i < len(bank) {
			texts = append(texts, bank[i].Text)
		}
		if i < len(ct) {
			texts = append(texts, ct[i].Text)
		}
	}
	n := envInt("LOOPDESK_BENCH_FAQ_TICKETS", 10000)
	const more = 1000
	all := datasets.Vary(texts, n+more)
	backends(b, func(b *testing.B, db *database.DB, redisURL string) {
		s := newSite(b, db, redisURL)
		ctx := context.Background()
		now := time.Now().UTC()
		kb := knowledge.New(db, s.tk, knowledge.WithFAQ(knowledge.FAQConfig{MaxTickets: n + more}))
		ids := make([]int64, len(all))
		create := func(from, to int) float64 {
			return parallel(b, to-from, 8, func(i int) error {
				t, err := s.tk.Create(ctx, s.admin, tickets.NewTicket{Subject: bench.Subject(all[from+i]), Description: all[from+i]})
				ids[from+i] = t.ID
				return err
			})
		}
		resolve := func(from, to int, at time.Time) {
			lo, hi := ids[from], ids[from]
			for _, id := range ids[from:to] {
				lo, hi = min(lo, id), max(hi, id)
			}
			if err := db.Exec("UPDATE tickets SET status = 'resolved', status_category = 'resolved', resolved_at = ? WHERE id BETWEEN ? AND ?",
				at, lo, hi).Error; err != nil {
				b.Fatal(err)
			}
		}
		rate := create(0, n)
		resolve(0, n, now.Add(-24*time.Hour))
		b.Logf("%s: %d tickets created at %.0f/s and resolved", db.Dialect, n, rate)

		mine := func(label string) knowledge.MineResult {
			t0 := time.Now()
			res, err := kb.FAQ().Mine(ctx)
			if err != nil {
				b.Fatalf("%s: %v", label, err)
			}
			d := time.Since(t0)
			b.ReportMetric(d.Seconds(), label+"-s")
			b.Logf("%s %s: %s; %d tickets, %d groups, %d new proposals, %d joined, %d updated, %d covered, %d suppressed",
				db.Dialect, label, d.Round(time.Millisecond), res.Tickets, res.Groups, res.Created, res.Joined, res.Updated, res.Covered, res.Suppressed)
			return res
		}
		first := mine("first")
		if first.Tickets != n || first.Created == 0 {
			b.Fatalf("first run mined %d tickets into %d proposals, want %d tickets and some proposals", first.Tickets, first.Created, n)
		}
		if again := mine("again"); again.Created != 0 {
			b.Fatalf("a second run over the same tickets created %d proposals, want none", again.Created)
		}
		create(n, n+more)
		resolve(n, n+more, now.Add(-time.Hour))
		if grown := mine(fmt.Sprintf("plus-%d", more)); grown.Tickets != n+more {
			b.Fatalf("after %d more: %d tickets mined, want %d", more, grown.Tickets, n+more)
		}
		b.ReportMetric(0, "ns/op")
	})
}
