-- Failed notification mail is retried (notify.RetryMail): email_attempts
-- counts the sends tried; email_retry_at is when the next one is due, or
-- null when none is (sent, no address, or given up).
ALTER TABLE notifications ADD COLUMN email_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN email_retry_at DATETIME NULL;
CREATE INDEX notifications_retry ON notifications(email_retry_at);
