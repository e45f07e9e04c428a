package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

// TestTicketPageShowsSLA: staff see each clock with its due time on the
// ticket page; the requester does not see the SLA card.
func TestTicketPageShowsSLA(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, db *database.DB) {
		s := newDesk(t, db)
		ctx := t.Context()
		if _, err := s.sla.CreatePolicy(ctx, sla.Policy{Name: "std", Active: true, Targets: []sla.Target{
			{Metric: sla.FirstResponse, Within: sla.Duration(time.Hour)},
			{Metric: sla.Resolution, Within: sla.Duration(8 * time.Hour)},
		}}); err != nil {
			t.Fatal(err)
		}
		rita, err := s.acc.GetUserByEmail(ctx, "rita@example.com")
		if err != nil {
			t.Fatal(err)
		}
		tk, err := s.tk.Create(ctx, rita, tickets.NewTicket{Subject: "VPN 连不上", Description: "since this morning"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.sla.Recompute(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		path := "/tickets/" + strconv.FormatInt(tk.ID, 10)

		_, page := s.signIn(t, "ana@example.com").get(path)
		// Milliseconds have passed since creation: due times round to the minute.
		for _, want := range []string{`id="sla"`, "First response", "Resolution", "Due in 1h<", "Due in 8h<", "&lt;1m of 1h", "&lt;1m of 8h", "sla-ok"} {
			if !strings.Contains(page, want) {
				t.Errorf("agent's ticket page lacks %q", want)
			}
		}
		_, page = s.signIn(t, "rita@example.com").get(path)
		if strings.Contains(page, `id="sla"`) {
			t.Error("the requester sees the SLA card")
		}
	})
}
