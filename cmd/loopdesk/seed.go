package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
	"github.com/loopdesk/loopdesk/knowledge"
	"github.com/loopdesk/loopdesk/sla"
	"github.com/loopdesk/loopdesk/tickets"
)

func runSeed(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "seed", "seed --demo [flags]")
	config.Bind(fs, storeFlags(&cfg))
	demo := fs.Bool("demo", false, "load the demo departments and users")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if !*demo {
		fmt.Fprintln(e.stderr, "loopdesk seed: say --demo (the only data set so far)")
		return errUsage
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
	acc := accounts.New(db)
	tk := tickets.New(db, acc)
	if err := tk.EnsureBuiltinWorkflows(ctx); err != nil {
		return err
	}
	if err := seedDemoSLA(ctx, sla.New(db, tk, sla.WithLogger(log))); err != nil {
		return err
	}
	if err := seedDemo(ctx, acc, e.stdout, log); err != nil {
		return err
	}
	return seedDemoContent(ctx, acc, tk, knowledge.New(db, tk))
}

const demoPassword = "loopdesk-demo"

// seedDemo loads departments and one user per role. It is safe to run twice:
// what exists is kept. SLA policies come from seedDemoSLA, articles and tickets
// from seedDemoContent.
func seedDemo(ctx context.Context, acc *accounts.Service, out io.Writer, log *slog.Logger) error {
	depts := []accounts.NewDepartment{
		{Name: "Front line support", Tier: 1, AutoAssign: accounts.AutoAssignRoundRobin},
		{Name: "Billing", Tier: 2, AutoAssign: accounts.AutoAssignLeastLoaded},
		{Name: "Engineering", Tier: 3, AutoAssign: accounts.AutoAssignNone},
	}
	ids := map[string]int64{}
	existing, err := acc.ListDepartments(ctx, accounts.Page{Limit: 200})
	if err != nil {
		return err
	}
	for _, d := range existing {
		ids[d.Name] = d.ID
	}
	for _, d := range depts {
		if _, ok := ids[d.Name]; ok {
			continue
		}
		made, err := acc.CreateDepartment(ctx, d)
		if err != nil {
			return fmt.Errorf("demo department %s: %w", d.Name, err)
		}
		ids[d.Name] = made.ID
	}
	users := []accounts.NewUser{
		{Email: "agent@demo.loopdesk", Name: "Ada Agent", Roles: []accounts.Role{accounts.RoleAgent}, DepartmentIDs: []int64{ids["Front line support"]}},
		{Email: "billing@demo.loopdesk", Name: "Bo Billing", Roles: []accounts.Role{accounts.RoleDepartmentMember}, DepartmentIDs: []int64{ids["Billing"]}},
		{Email: "engineer@demo.loopdesk", Name: "Eli Engineer", Roles: []accounts.Role{accounts.RoleDepartmentMember}, DepartmentIDs: []int64{ids["Engineering"]}},
		{Email: "editor@demo.loopdesk", Name: "Kim Editor", Roles: []accounts.Role{accounts.RoleKnowledgeEditor}},
		{Email: "customer@demo.loopdesk", Name: "李雷 (Li Lei)", Locale: "zh", Roles: []accounts.Role{accounts.RoleRequester}},
	}
	for _, u := range users {
		u.Password = demoPassword
		if _, err := acc.CreateUser(ctx, u); err != nil && !errors.Is(err, accounts.ErrEmailTaken) {
			return fmt.Errorf("demo user %s: %w", u.Email, err)
		}
	}
	log.Info("demo data loaded", "departments", len(depts), "users", len(users))
	fmt.Fprintf(out, "Demo data loaded. Sign in with any of these, password %q:\n", demoPassword)
	for _, u := range users {
		fmt.Fprintf(out, "  %-24s %s\n", u.Email, u.Roles[0])
	}
	return nil
}
