package accounts

import (
	"context"
	"encoding/hex"
	"time"

	"gorm.io/gorm"
)

const (
	// SessionTTL is how long a browser session lives without use.
	SessionTTL = 12 * time.Hour
	// sessions are extended once less than half their life is left, so an
	// active user is not logged out mid-shift and reads stay write-free.
	sessionRenewBelow = SessionTTL / 2
)

// CreateSession starts a browser session for an active user. Only the
// SHA-256 of the session id is stored; the CSRF token is per session.
func (s *Service) CreateSession(ctx context.Context, userID int64) (string, string, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return "", "", err
	}
	if !u.Active {
		return "", "", ErrInactive
	}
	id := randomURLToken()
	csrf := hex.EncodeToString(randomBytes(32))
	now := s.clock()
	row := sessionRow{IDHash: sha256Hex(id), UserID: userID, CsrfToken: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		// Sweep this user's dead sessions here so the table stays bounded
		// even without a periodic purge.
		if err := tx.Where("user_id = ? AND expires_at <= ?", userID, now).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return "", "", err
	}
	return id, csrf, nil
}

// SessionUser returns the session's user and CSRF token: ErrNotFound for an
// unknown or expired session, ErrInactive for a deactivated user.
func (s *Service) SessionUser(ctx context.Context, sessionID string) (User, string, error) {
	if sessionID == "" {
		return User{}, "", ErrNotFound
	}
	var row sessionRow
	err := s.conn(ctx).Where("id_hash = ?", sha256Hex(sessionID)).Take(&row).Error
	if err != nil {
		return User{}, "", notFound(err)
	}
	now := s.clock()
	if !now.Before(row.ExpiresAt) {
		return User{}, "", ErrNotFound
	}
	u, err := s.GetUser(ctx, row.UserID)
	if err != nil {
		return User{}, "", err
	}
	if !u.Active {
		return User{}, "", ErrInactive
	}
	if row.ExpiresAt.Sub(now) < sessionRenewBelow {
		err = s.conn(ctx).Model(&sessionRow{}).Where("id_hash = ?", row.IDHash).Update("expires_at", now.Add(SessionTTL)).Error
	}
	return u, row.CsrfToken, err
}

// DeleteSession ends a session; ending an unknown one is not an error.
func (s *Service) DeleteSession(ctx context.Context, sessionID string) error {
	return s.conn(ctx).Where("id_hash = ?", sha256Hex(sessionID)).Delete(&sessionRow{}).Error
}

// PruneSessions deletes every expired session, for a periodic job.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	res := s.conn(ctx).Where("expires_at <= ?", s.clock()).Delete(&sessionRow{})
	return res.RowsAffected, res.Error
}
