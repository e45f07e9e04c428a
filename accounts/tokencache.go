package accounts

import (
	"slices"
	"sync"
	"time"
)

const (
	// DefaultTokenCacheTTL is how long a replica trusts a verified API token
	// without asking the database again. It bounds how long a token revoked,
	// or a user deactivated or given other roles or departments, through
	// another replica (or the admin command) keeps working here. Changes made
	// through this Service take effect at once.
	DefaultTokenCacheTTL = 5 * time.Second
	// tokenCacheMax bounds the cache; past it, expired entries go first,
	// then arbitrary ones.
	tokenCacheMax = 4096
)

// WithTokenCacheTTL sets how long verified tokens are cached; 0 turns the
// cache off (every request reads the token and its user).
func WithTokenCacheTTL(d time.Duration) Option {
	return func(s *Service) {
		if d >= 0 {
			s.tokens.ttl = d
		}
	}
}

// tokenCache maps the SHA-256 of a live token to its active owner. Only
// successes are cached, so unknown tokens cannot fill it.
type tokenCache struct {
	ttl time.Duration

	mu      sync.Mutex
	entries map[string]*tokenEntry
	gen     uint64 // moves on every clear
}

type tokenEntry struct {
	user     User
	tokenID  int64
	lastUsed *time.Time // last_used_at as stored (or as we last wrote it)
	expires  time.Time
}

func (c *tokenCache) get(hash string, now time.Time) (tokenEntry, bool) {
	if c.ttl <= 0 {
		return tokenEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok {
		return tokenEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, hash)
		return tokenEntry{}, false
	}
	return *e, true
}

// generation is read before the database so that put can tell whether a
// clear happened while the lookup ran.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches e unless the cache was cleared since generation returned gen:
// then what the lookup read may predate the change that cleared it.
func (c *tokenCache) put(hash string, e tokenEntry, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	e.expires = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil {
		c.entries = map[string]*tokenEntry{}
	}
	if _, ok := c.entries[hash]; !ok && len(c.entries) >= tokenCacheMax {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < tokenCacheMax {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[hash] = &e
}

// claimTouch reports whether this caller should write last_used_at now (at
// most once per lastUsedEvery per token and process) and records that it will.
func (c *tokenCache) claimTouch(hash string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok {
		return true
	}
	if e.lastUsed != nil && now.Sub(*e.lastUsed) < lastUsedEvery {
		return false
	}
	t := now
	e.lastUsed = &t
	return true
}

// clear forgets every entry: after a change to tokens, users, roles or
// department memberships made through this Service.
func (c *tokenCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
}

// cloneUser copies the slices so callers cannot change the cached user.
func cloneUser(u User) User {
	u.Roles = slices.Clone(u.Roles)
	u.DepartmentIDs = slices.Clone(u.DepartmentIDs)
	return u
}
