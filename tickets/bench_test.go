package tickets_test

import (
	"os"
	"testing"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/database"
	"github.com/loopdesk/loopdesk/internal/testenv"
	"github.com/loopdesk/loopdesk/tickets"
)

// BenchmarkCreate measures the service Create path (validation, insert,
// tags, history, search index, outbox) with parallel callers: plain, and
// into an auto-assigning department (locks its assignment row).
func BenchmarkCreate(b *testing.B) {
	run := func(b *testing.B, db *database.DB) {
		e := newEnv(b, db)
		members := []int64{}
		for range 4 {
			members = append(members, e.user("m", accounts.RoleDepartmentMember).ID)
		}
		d := e.dept(accounts.NewDepartment{Name: "Queue", MemberIDs: members, AutoAssign: accounts.AutoAssignLeastLoaded})
		for _, c := range []struct {
			name string
			dept *int64
		}{{"plain", nil}, {"auto_assign", &d.ID}} {
			b.Run(c.name, func(b *testing.B) {
				in := tickets.NewTicket{Subject: "Cannot log in 无法登录", Description: "Since this morning the login page says 退款 refund error 500.",
					Tags: []string{"login", "web"}, Channel: "web", DepartmentID: c.dept}
				b.ReportAllocs()
				b.SetParallelism(2)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.svc.Create(ctx, e.cust, in); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
	b.Run("sqlite", func(b *testing.B) { run(b, testenv.SQLite(b)) })
	if os.Getenv(testenv.MySQLEnv) != "" {
		b.Run("mysql", func(b *testing.B) { run(b, testenv.MySQL(b)) })
	}
}
