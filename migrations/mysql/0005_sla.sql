-- SLA: business calendars, ordered policies, one clock per ticket and
-- metric, and the warnings/breaches recorded against them.

CREATE TABLE sla_calendars (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  always_open TINYINT(1) NOT NULL DEFAULT 0,
  hours TEXT NOT NULL,
  holidays MEDIUMTEXT NOT NULL,
  version INT NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY sla_calendars_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sla_policies (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  position INT NOT NULL DEFAULT 0,
  active TINYINT(1) NOT NULL DEFAULT 1,
  calendar_id BIGINT NULL,
  match_rules TEXT NOT NULL,
  targets MEDIUMTEXT NOT NULL,
  version INT NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY sla_policies_name (name),
  CONSTRAINT sla_policies_calendar FOREIGN KEY (calendar_id) REFERENCES sla_calendars(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- next_at is the clock's next instant to act on (warning or due) that is
-- not yet recorded; NULL when there is none. The sweep scans this index.
CREATE TABLE sla_clocks (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  metric VARCHAR(20) NOT NULL,
  policy_id BIGINT NOT NULL,
  target_ms BIGINT NOT NULL,
  cycle INT NOT NULL DEFAULT 1,
  state VARCHAR(10) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  elapsed_ms BIGINT NOT NULL DEFAULT 0,
  warn_at DATETIME(3) NULL,
  due_at DATETIME(3) NULL,
  first_warned_at DATETIME(3) NULL,
  breached_at DATETIME(3) NULL,
  met_at DATETIME(3) NULL,
  next_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY sla_clocks_ticket (ticket_id, metric),
  KEY sla_clocks_next (next_at),
  KEY sla_clocks_due (state, due_at),
  KEY sla_clocks_breached (breached_at, ticket_id),
  CONSTRAINT sla_clocks_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per warning or breach of one cycle of one clock: the unique key
-- is what makes each of them recorded exactly once across workers.
CREATE TABLE sla_events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  metric VARCHAR(20) NOT NULL,
  cycle INT NOT NULL,
  kind VARCHAR(10) NOT NULL,
  policy_id BIGINT NOT NULL,
  due_at DATETIME(3) NOT NULL,
  recorded_at DATETIME(3) NOT NULL,
  actions_done_at DATETIME(3) NULL,
  UNIQUE KEY sla_events_once (ticket_id, metric, cycle, kind),
  KEY sla_events_recorded (recorded_at),
  CONSTRAINT sla_events_ticket FOREIGN KEY (ticket_id) REFERENCES tickets(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
