// Command loopdesk is the single Loopdesk binary: API and pages, job worker,
// scheduler, migrations and admin tasks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	// Business calendars name IANA zones; embed the zone database so a
	// minimal container without /usr/share/zoneinfo still knows them.
	_ "time/tzdata"
)

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name, summary string
	run           func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch of the outside world; tests swap it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

var commands = []command{
	{"serve", "run the API, web pages, job worker and scheduler", runServe},
	{"worker", "run only the job worker and scheduler (needs shared DB and Redis)", runWorker},
	{"migrate", "apply (up) or list (status) database migrations", runMigrate},
	{"admin", "create-user, token: account administration", runAdmin},
	{"seed", "load demo data (--demo)", runSeed},
	{"faq", "mine: propose FAQ articles from repeat issues now", runFAQ},
	{"search", "reindex: rebuild the search index of tickets and articles", runSearch},
	{"version", "print the version", func(_ context.Context, e *env, _ []string) error {
		fmt.Fprintln(e.stdout, version)
		return nil
	}},
}

var version = "dev"

// errUsage means the command already printed what was wrong with its arguments.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(e.stderr, "loopdesk %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(e.stderr, "loopdesk: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Loopdesk: tickets, workflows, SLAs and knowledge in one binary.")
	fmt.Fprintln(w, "\nUsage: loopdesk <command> [flags]   (loopdesk <command> --help lists its flags)")
	fmt.Fprintln(w, "\nCommands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlags makes a FlagSet whose --help lists every flag with its variable.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("loopdesk "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		if synopsis != "" {
			fmt.Fprintf(out, "Usage: loopdesk %s\n\n", synopsis)
		}
		fmt.Fprintln(out, "Flags (each also read from the environment variable shown):")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; --help prints usage to stdout and exits 0.
func parse(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return nil
}
