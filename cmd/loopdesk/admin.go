package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/loopdesk/loopdesk/accounts"
	"github.com/loopdesk/loopdesk/internal/config"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runAdmin(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "create-user" && args[0] != "token") {
		fmt.Fprintln(e.stderr, "Usage: loopdesk admin create-user|token [flags]   (add --help for the flags)")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return errUsage
	}
	if args[0] == "token" {
		return adminToken(ctx, e, args[1:])
	}
	return adminCreateUser(ctx, e, args[1:])
}

func adminCreateUser(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	var roles, depts listFlag
	fs := newFlags(e, "admin create-user", "admin create-user --email E --name N --role R [--role R2] [--department D] < password")
	config.Bind(fs, storeFlags(&cfg))
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name (required)")
	locale := fs.String("locale", "en", "en or zh")
	fs.Var(&roles, "role", "role, repeatable: admin, agent, department_member, knowledge_editor, requester")
	fs.Var(&depts, "department", "department name or id, repeatable")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	password, err := readPassword(e)
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
	acc := accounts.New(db)
	deptIDs, err := resolveDepartments(ctx, acc, depts)
	if err != nil {
		return err
	}
	in := accounts.NewUser{Email: *email, Name: *name, Locale: *locale, Password: password, DepartmentIDs: deptIDs}
	for _, r := range roles {
		in.Roles = append(in.Roles, accounts.Role(r))
	}
	u, err := acc.CreateUser(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created user %d <%s> with roles %v\n", u.ID, u.Email, u.Roles)
	return nil
}

// readPassword takes the first line of stdin, so scripts can pipe it in
// without it showing up in the process list.
func readPassword(e *env) (string, error) {
	sc := bufio.NewScanner(e.stdin)
	if !sc.Scan() {
		return "", errors.New("give the password on standard input, e.g. `printf '%s\\n' \"$PASSWORD\" | loopdesk admin create-user ...`")
	}
	pw := strings.TrimRight(sc.Text(), "\r\n")
	if pw == "" {
		return "", errors.New("the password on standard input is empty")
	}
	return pw, nil
}

func resolveDepartments(ctx context.Context, acc *accounts.Service, refs []string) ([]int64, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	all, err := acc.ListDepartments(ctx, accounts.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, ref := range refs {
		found := false
		for _, d := range all {
			if strings.EqualFold(d.Name, ref) || strconv.FormatInt(d.ID, 10) == ref {
				ids = append(ids, d.ID)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no department named %q", ref)
		}
	}
	return ids, nil
}

func adminToken(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "admin token", "admin token --email E [--name N]")
	config.Bind(fs, storeFlags(&cfg))
	email := fs.String("email", "", "the user the token acts as (required)")
	name := fs.String("name", "cli", "a label to recognise the token by")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(e.stderr, "loopdesk admin token: --email is required")
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
	u, err := acc.GetUserByEmail(ctx, *email)
	if errors.Is(err, accounts.ErrNotFound) {
		return fmt.Errorf("no user with email %s", *email)
	} else if err != nil {
		return err
	}
	plain, _, err := acc.IssueToken(ctx, u.ID, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, plain)
	return nil
}
