-- In-app notifications (notify/): one row per recipient of an SLA notify
-- action, and the record of its email. user_id is null for a raw email
-- address that is no user's. emailed_at / email_error: the mail went out,
-- or why it did not (both empty when no SMTP transport is configured).
CREATE TABLE notifications (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NULL,
  email VARCHAR(254) NOT NULL DEFAULT '',
  ticket_id BIGINT NOT NULL,
  kind VARCHAR(40) NOT NULL,
  subject VARCHAR(300) NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  read_at DATETIME(3) NULL,
  emailed_at DATETIME(3) NULL,
  email_error VARCHAR(1000) NOT NULL DEFAULT '',
  -- A user's list, newest first, and its unread filter.
  KEY notifications_user (user_id, id),
  KEY notifications_unread (user_id, read_at, id),
  KEY notifications_ticket (ticket_id),
  CONSTRAINT notifications_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  CONSTRAINT notifications_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
