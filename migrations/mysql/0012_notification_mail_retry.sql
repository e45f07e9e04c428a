-- Failed notification mail is retried (notify.RetryMail): email_attempts
-- counts the sends tried; email_retry_at is when the next one is due, or
-- null when none is (sent, no address, or given up).
ALTER TABLE notifications
  ADD COLUMN email_attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN email_retry_at DATETIME(3) NULL,
  ADD KEY notifications_retry (email_retry_at);
