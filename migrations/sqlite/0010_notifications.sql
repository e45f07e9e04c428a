-- In-app notifications (notify/): one row per recipient of an SLA notify
-- action, and the record of its email. user_id is null for a raw email
-- address that is no user's. emailed_at / email_error: the mail went out,
-- or why it did not (both empty when no SMTP transport is configured).
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NULL REFERENCES users(id) ON DELETE CASCADE,
  email TEXT NOT NULL DEFAULT '',
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  read_at DATETIME NULL,
  emailed_at DATETIME NULL,
  email_error TEXT NOT NULL DEFAULT ''
);
-- A user's list, newest first, and its unread filter.
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, read_at, id);
CREATE INDEX notifications_ticket ON notifications(ticket_id);
