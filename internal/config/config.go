// Package config holds the process configuration shared by every subcommand.
// Each setting has one flag and one environment variable; the flag wins.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Config is everything a Loopdesk process needs to start.
type Config struct {
	Addr          string // HTTP listen address
	DataDir       string // embedded SQLite file and other local state
	DatabaseURL   string // empty: embedded SQLite; mysql://user:pass@host:3306/db
	RedisURL      string // empty: in-process server; redis://host:6379/0
	Roles         string // serve: comma list of web, worker, scheduler
	SMTPURL       string // serve: notification mail; empty keeps notifications in-app
	Proxies       string // serve: comma list of trusted proxy IPs or CIDRs
	AdminEmail    string // first admin on an empty database
	AdminPassword string
	LogLevel      string // debug, info, warn, error
	LogFormat     string // text or json
	Demo          bool   // serve: load demo data first
}

// Setting describes one option for --help and for binding.
type Setting struct {
	Flag, Env, Default, Usage string
	target                    *string
}

// Settings are the options common to the long-running commands.
func (c *Config) Settings() []Setting {
	return []Setting{
		{"addr", "LOOPDESK_ADDR", "127.0.0.1:8080", "HTTP listen address", &c.Addr},
		{"data-dir", "LOOPDESK_DATA_DIR", "./data", "directory for the embedded database and local state", &c.DataDir},
		{"database-url", "LOOPDESK_DATABASE_URL", "", "empty for embedded SQLite, or mysql://user:pass@host:3306/db", &c.DatabaseURL},
		{"redis-url", "LOOPDESK_REDIS_URL", "", "empty for the in-process server, or redis://host:6379/0", &c.RedisURL},
		{"admin-email", "LOOPDESK_ADMIN_EMAIL", "", "email of the first admin, created on an empty database", &c.AdminEmail},
		{"admin-password", "LOOPDESK_ADMIN_PASSWORD", "", "password of the first admin (random and printed once when empty)", &c.AdminPassword},
		{"log-level", "LOOPDESK_LOG_LEVEL", "info", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "LOOPDESK_LOG_FORMAT", "text", "text or json", &c.LogFormat},
	}
}

// Bind registers the settings on fs with defaults taken from the environment,
// so a flag given on the command line overrides the variable.
func Bind(fs *flag.FlagSet, settings []Setting) {
	for _, s := range settings {
		def := s.Default
		if v, ok := os.LookupEnv(s.Env); ok {
			def = v
		}
		fs.StringVar(s.target, s.Flag, def, fmt.Sprintf("%s (env %s)", s.Usage, s.Env))
	}
}

// NewSetting makes a Setting bound to target, for command-specific options.
func NewSetting(target *string, flagName, env, def, usage string) Setting {
	return Setting{Flag: flagName, Env: env, Default: def, Usage: usage, target: target}
}

// HasRole reports whether role is in the comma-separated Roles list.
func (c *Config) HasRole(role string) bool {
	for _, r := range strings.Split(c.Roles, ",") {
		if strings.TrimSpace(r) == role {
			return true
		}
	}
	return false
}

// ValidateRoles rejects unknown role names so a typo does not silently start nothing.
func (c *Config) ValidateRoles() error {
	for _, r := range strings.Split(c.Roles, ",") {
		switch strings.TrimSpace(r) {
		case "web", "worker", "scheduler":
		default:
			return fmt.Errorf("unknown role %q in --roles: use web, worker, scheduler", r)
		}
	}
	return nil
}
