package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/loopdesk/loopdesk/internal/database"
)

// Idempotency-Key handling for creating POSTs (the IETF
// draft-ietf-httpapi-idempotency-key-header semantics):
//   - the first request claims (user, key) by inserting a placeholder row in
//     its own statement; the primary key makes concurrent duplicates lose
//     the race with a unique violation instead of creating twice;
//   - a repeat of a finished 2xx request replays the stored response with
//     Idempotent-Replayed: true; the same key with another body or endpoint
//     is a 422; a repeat while the first is still running is a 409;
//   - non-2xx outcomes release the claim so the client can fix and retry;
//   - rows live 24 h and are deleted lazily.
const (
	IdempotencyHeader = "Idempotency-Key"
	idemMaxKey        = 200
	idemTTL           = 24 * time.Hour
	// A placeholder older than this belongs to a process that died mid-request.
	idemAbandoned = 5 * time.Minute
)

type idemRow struct {
	UserID      int64  `gorm:"primaryKey;autoIncrement:false"`
	IdemKey     string `gorm:"primaryKey"`
	Method      string
	Path        string
	RequestHash string
	Status      int
	ContentType string
	Location    string
	Body        string
	CreatedAt   time.Time
}

func (idemRow) TableName() string { return "idempotency_keys" }

type idempotency struct {
	db        *database.DB
	lastSweep atomic.Int64 // unix seconds of the last expiry sweep
}

// captureWriter keeps a copy of the body so a 2xx can be stored for replay.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

func validIdemKey(k string) bool {
	if k == "" || len(k) > idemMaxKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Idempotency returns the Idempotency-Key middleware over db, for creating
// POSTs outside the route table (web/). It must run after authentication.
func Idempotency(db *database.DB) gin.HandlerFunc { return (&idempotency{db: db}).middleware() }

func (m *idempotency) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		key, sent := c.Request.Header[IdempotencyHeader]
		if !sent {
			c.Next()
			return
		}
		if len(key) != 1 || !validIdemKey(key[0]) {
			WriteProblem(c, http.StatusBadRequest,
				"Idempotency-Key must be one header of 1 to 200 printable ASCII characters (a UUID is a good choice)",
				FieldError{Field: IdempotencyHeader, Message: "1-200 printable ASCII characters"})
			return
		}
		u, ok := CurrentUser(c)
		if !ok {
			unauthorized(c, "authentication required")
			return
		}
		body, ok := readBody(c)
		if !ok {
			return
		}
		sum := sha256.Sum256(body)
		row := idemRow{UserID: u.ID, IdemKey: key[0], Method: c.Request.Method, Path: c.Request.URL.Path,
			RequestHash: hex.EncodeToString(sum[:]), Body: "", CreatedAt: now()}
		ctx := c.Request.Context()
		m.sweep(ctx, c)

		claimed, err := m.claim(ctx, &row)
		if err != nil {
			internalError(c, err)
			return
		}
		if !claimed {
			m.answerExisting(c, row)
			return
		}

		w := &captureWriter{ResponseWriter: c.Writer}
		c.Writer = w
		stored := false
		// Runs on panic too, so a crashing handler never leaves a claim behind.
		defer func() {
			if stored {
				return
			}
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.db.WithContext(dctx).Where("user_id = ? AND idem_key = ? AND status = 0", row.UserID, row.IdemKey).
				Delete(&idemRow{}).Error; err != nil {
				loggerFrom(c).Error("release idempotency claim", "request_id", RequestID(c), "error", err)
			}
		}()
		c.Next()

		status := w.Status()
		if status < 200 || status > 299 {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = m.db.WithContext(sctx).Model(&idemRow{}).
			Where("user_id = ? AND idem_key = ?", row.UserID, row.IdemKey).
			Updates(map[string]any{"status": status, "content_type": w.Header().Get("Content-Type"),
				"location": w.Header().Get("Location"), "body": w.buf.String()}).Error
		if err != nil {
			// The resource exists but cannot be replayed; releasing the claim
			// is the lesser evil compared with a key stuck "in progress".
			loggerFrom(c).Error("store idempotent response", "request_id", RequestID(c), "error", err)
			return
		}
		stored = true
	}
}

// claim inserts the placeholder. When the key is taken it loads the
// existing row into *row and reports false, after clearing an expired or
// abandoned row once and trying again.
func (m *idempotency) claim(ctx context.Context, row *idemRow) (bool, error) {
	mine := *row
	for attempt := 0; attempt < 3; attempt++ {
		err := m.db.WithContext(ctx).Create(&mine).Error
		if err == nil {
			return true, nil
		}
		if !database.IsUniqueViolation(err) {
			return false, err
		}
		var existing idemRow
		err = m.db.WithContext(ctx).Where("user_id = ? AND idem_key = ?", row.UserID, row.IdemKey).Take(&existing).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue // released between our insert and our read
		}
		if err != nil {
			return false, err
		}
		expired := existing.CreatedAt.Before(now().Add(-idemTTL))
		abandoned := existing.Status == 0 && existing.CreatedAt.Before(now().Add(-idemAbandoned))
		if expired || abandoned {
			// created_at in the condition: only the row we judged is removed.
			if err := m.db.WithContext(ctx).Where("user_id = ? AND idem_key = ? AND created_at = ?",
				existing.UserID, existing.IdemKey, existing.CreatedAt).Delete(&idemRow{}).Error; err != nil {
				return false, err
			}
			continue
		}
		*row = existing
		return false, nil
	}
	return false, errors.New("idempotency key kept changing hands; giving up")
}

func (m *idempotency) answerExisting(c *gin.Context, existing idemRow) {
	body, _ := c.Get(ctxRawBody)
	sum := sha256.Sum256(body.([]byte))
	switch {
	case existing.Method != c.Request.Method || existing.Path != c.Request.URL.Path:
		WriteProblem(c, http.StatusUnprocessableEntity,
			"this Idempotency-Key was already used for "+existing.Method+" "+existing.Path+"; use a new key for a different request",
			FieldError{Field: IdempotencyHeader, Message: "already used for another endpoint"})
	case existing.RequestHash != hex.EncodeToString(sum[:]):
		WriteProblem(c, http.StatusUnprocessableEntity,
			"this Idempotency-Key was already used with a different request body; use a new key for a different request",
			FieldError{Field: IdempotencyHeader, Message: "already used with a different body"})
	case existing.Status == 0:
		c.Header("Retry-After", "1")
		WriteProblem(c, http.StatusConflict, "a request with this Idempotency-Key is in progress; retry shortly")
	default:
		h := c.Writer.Header()
		h.Set("Idempotent-Replayed", "true")
		if existing.ContentType != "" {
			h.Set("Content-Type", existing.ContentType)
		}
		if existing.Location != "" {
			h.Set("Location", existing.Location)
		}
		// The ETag is derived from the stored body rather than stored itself:
		// the resource's version, or the ticket's in an escalation's answer.
		var v struct {
			Version *int `json:"version"`
			Ticket  struct {
				Version *int `json:"version"`
			} `json:"ticket"`
		}
		if json.Unmarshal([]byte(existing.Body), &v) == nil {
			if ver := cmp.Or(v.Version, v.Ticket.Version); ver != nil {
				h.Set("ETag", ETag(*ver))
			}
		}
		c.Status(existing.Status)
		_, _ = c.Writer.WriteString(existing.Body)
		c.Abort()
	}
}

// sweep deletes expired rows at most once a minute per process; the index
// on created_at keeps it cheap and no scheduler is needed.
func (m *idempotency) sweep(ctx context.Context, c *gin.Context) {
	t := time.Now().Unix()
	last := m.lastSweep.Load()
	if t-last < 60 || !m.lastSweep.CompareAndSwap(last, t) {
		return
	}
	if err := m.db.WithContext(ctx).Where("created_at < ?", now().Add(-idemTTL)).Delete(&idemRow{}).Error; err != nil {
		loggerFrom(c).Warn("sweep idempotency keys", slog.String("error", err.Error()))
	}
}
