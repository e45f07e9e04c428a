package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	minPasswordChars = 8
	maxPasswordBytes = 72 // bcrypt ignores (x/crypto rejects) anything longer
)

// checkPasswordRules reports why pw is unacceptable, or "".
func checkPasswordRules(pw string) string {
	switch {
	case utf8.RuneCountInString(pw) < minPasswordChars:
		return fmt.Sprintf("must be at least %d characters", minPasswordChars)
	case len(pw) > maxPasswordBytes:
		return fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)
	}
	return ""
}

func (s *Service) hashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// passwordMatches compares pw with hash; an empty hash (no password set)
// still costs one bcrypt run so timing does not reveal which accounts exist.
func (s *Service) passwordMatches(hash, pw string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(s.dummy(), []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummy is a hash at the service's cost, made once, to burn the same time
// for unknown emails as for wrong passwords.
func (s *Service) dummy() []byte {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = bcrypt.GenerateFromPassword(randomBytes(16), s.bcryptCost)
	})
	return s.dummyHash
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return b
}

// randomURLToken is 32 random bytes as 43 base64url characters.
func randomURLToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// randomPassword draws n characters from an unambiguous alphabet.
func randomPassword(n int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	out := make([]byte, n)
	// 256 % 57 != 0: reject the top bytes to keep the draw uniform.
	const limit = 256 - 256%len(alphabet)
	for i := 0; i < n; {
		for _, b := range randomBytes(n) {
			if int(b) < limit && i < n {
				out[i] = alphabet[int(b)%len(alphabet)]
				i++
			}
		}
	}
	return string(out)
}

// sha256Hex is how secrets (tokens, session ids) are stored: a leaked table
// does not hand out working credentials.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
