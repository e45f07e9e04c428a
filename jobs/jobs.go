// Package jobs is Loopdesk's background machinery: the asynq client and
// worker, the outbox relay that turns committed domain events into tasks,
// and the cron scheduler that runs periodic work once per slot across
// replicas. It is the only package that imports hibiken/asynq and
// robfig/cron; domain packages declare small interfaces and cmd wires them
// to what lives here.
//
// Task types follow asynq's "domain:verb" convention (user:created,
// sla:sweep). Outbox events travel as an Envelope; other tasks carry their
// own payload and are registered with Worker.HandleFunc.
package jobs

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// DefaultQueue is the asynq queue tasks go to unless told otherwise.
const DefaultQueue = "default"

// RedisOpt parses a Redis URL (redis://[:password@]host[:port][/db],
// rediss://, redis-socket://, redis-sentinel://) into asynq connection options.
func RedisOpt(redisURL string) (asynq.RedisConnOpt, error) {
	if strings.TrimSpace(redisURL) == "" {
		return nil, errors.New("redis URL is empty: use redis://[:password@]host:6379/0")
	}
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %v (use redis://[:password@]host:6379/0)", redactURL(redisURL), err)
	}
	return opt, nil
}

// NewRedisClient opens a go-redis client on redisURL, for readiness checks
// and rate limits. It is built from the same options asynq uses so every
// scheme asynq accepts works here too. The caller closes it.
func NewRedisClient(redisURL string) (redis.UniversalClient, error) {
	opt, err := RedisOpt(redisURL)
	if err != nil {
		return nil, err
	}
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("redis URL %q: unsupported connection type %T", redactURL(redisURL), opt)
	}
	return c, nil
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}

// taskTypeRE is the "domain:verb" convention: a lower-case domain, a colon,
// and a verb (which may itself contain dots, dashes or further colons).
var taskTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z0-9_][a-z0-9_.:-]*$`)

// ValidTaskType reports whether s follows the "domain:verb" naming.
func ValidTaskType(s string) bool { return taskTypeRE.MatchString(s) }
