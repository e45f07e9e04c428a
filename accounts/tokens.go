package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// TokenPrefix marks Loopdesk API tokens so scanners and people recognise them.
	TokenPrefix       = "ldk_"
	tokenLen          = len(TokenPrefix) + 43
	maxTokenNameChars = 100
	// lastUsedEvery bounds last_used_at writes to one a minute per token,
	// instead of one per request.
	lastUsedEvery = time.Minute
)

// IssueToken creates an API token for an active user and returns the secret,
// which is not stored (only its SHA-256) and cannot be shown again.
func (s *Service) IssueToken(ctx context.Context, userID int64, name string) (string, Token, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > maxTokenNameChars {
		v := &ValidationError{}
		v.Add("name", fmt.Sprintf("must be at most %d characters", maxTokenNameChars))
		return "", Token{}, v
	}
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return "", Token{}, err
	}
	if !u.Active {
		return "", Token{}, ErrInactive
	}
	plain := TokenPrefix + randomURLToken()
	row := tokenRow{UserID: userID, Name: name, TokenHash: sha256Hex(plain), CreatedAt: s.clock()}
	if err := s.conn(ctx).Create(&row).Error; err != nil {
		return "", Token{}, err
	}
	return plain, toToken(row), nil
}

func toToken(r tokenRow) Token {
	return Token{ID: r.ID, UserID: r.UserID, Name: r.Name, CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// AuthenticateToken returns the owner of a live token: ErrInvalidCredentials
// for unknown or revoked tokens, ErrInactive for a deactivated owner.
//
// A verified token and its owner are cached in process for the token cache
// TTL (DefaultTokenCacheTTL, see WithTokenCacheTTL): revoking the token or
// changing its owner through this Service takes effect at once, through
// another replica within the TTL. last_used_at is written at most once a
// minute per token.
func (s *Service) AuthenticateToken(ctx context.Context, plain string) (User, error) {
	if len(plain) != tokenLen || !strings.HasPrefix(plain, TokenPrefix) {
		return User{}, ErrInvalidCredentials
	}
	hash := sha256Hex(plain)
	now := s.clock()
	if e, ok := s.tokens.get(hash, now); ok {
		var err error
		if (e.lastUsed == nil || now.Sub(*e.lastUsed) >= lastUsedEvery) && s.tokens.claimTouch(hash, now) {
			_, err = s.touchToken(ctx, tokenRow{ID: e.tokenID, LastUsedAt: e.lastUsed}, now)
		}
		return cloneUser(e.user), err
	}
	gen := s.tokens.generation()
	// The token and its user in one query, then roles and departments in
	// one more.
	var got struct {
		ID, TokenID          int64
		Email, Name, Locale  string
		PasswordHash         string
		Active               bool
		Version              int
		CreatedAt, UpdatedAt time.Time
		TokenLastUsedAt      *time.Time
		TokenRevokedAt       *time.Time
	}
	err := s.conn(ctx).Raw(`SELECT u.id, u.email, u.name, u.locale, u.active, u.password_hash, u.version, u.created_at, u.updated_at,
 t.id AS token_id, t.last_used_at AS token_last_used_at, t.revoked_at AS token_revoked_at
 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, hash).Scan(&got).Error
	if err != nil {
		return User{}, err
	}
	if got.TokenID == 0 || got.TokenRevokedAt != nil {
		return User{}, ErrInvalidCredentials
	}
	us, err := loadUsers(ctx, s.db.DB, []userRow{{ID: got.ID, Email: got.Email, Name: got.Name, Locale: got.Locale,
		Active: got.Active, PasswordHash: got.PasswordHash, Version: got.Version, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}})
	if err != nil {
		return User{}, err
	}
	u := us[0]
	if !u.Active {
		return User{}, ErrInactive
	}
	lastUsed := got.TokenLastUsedAt
	wrote, err := s.touchToken(ctx, tokenRow{ID: got.TokenID, UserID: u.ID, LastUsedAt: lastUsed}, now)
	if err != nil {
		return u, err
	}
	if wrote {
		lastUsed = &now
	}
	s.tokens.put(hash, tokenEntry{user: cloneUser(u), tokenID: got.TokenID, lastUsed: lastUsed}, now, gen)
	return u, nil
}

// touchToken records use at most once a minute; the WHERE makes replicas
// racing on the same token write once. It reports whether it wrote.
func (s *Service) touchToken(ctx context.Context, row tokenRow, now time.Time) (bool, error) {
	if row.LastUsedAt != nil && now.Sub(*row.LastUsedAt) < lastUsedEvery {
		return false, nil
	}
	err := s.conn(ctx).Model(&tokenRow{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", row.ID, now.Add(-lastUsedEvery)).
		Update("last_used_at", now).Error
	return err == nil, err
}

// ListTokens returns a user's tokens, revoked ones included, oldest first.
func (s *Service) ListTokens(ctx context.Context, userID int64) ([]Token, error) {
	var rows []tokenRow
	if err := s.conn(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = toToken(r)
	}
	return out, nil
}

// RevokeToken revokes one of userID's tokens; revoking twice is not an
// error, someone else's token is ErrNotFound.
func (s *Service) RevokeToken(ctx context.Context, userID, tokenID int64) error {
	res := s.conn(ctx).Model(&tokenRow{}).
		Where("id = ? AND user_id = ? AND revoked_at IS NULL", tokenID, userID).
		Update("revoked_at", s.clock())
	s.tokens.clear()
	if res.Error != nil || res.RowsAffected == 1 {
		return res.Error
	}
	var n int64
	if err := s.conn(ctx).Model(&tokenRow{}).Where("id = ? AND user_id = ?", tokenID, userID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
