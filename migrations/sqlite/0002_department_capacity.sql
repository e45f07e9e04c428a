-- Auto-assignment never gives a member more than this many open tickets (0: no cap).
ALTER TABLE departments ADD COLUMN member_capacity INTEGER NOT NULL DEFAULT 0;
