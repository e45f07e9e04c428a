-- SLA: business calendars, ordered policies, one clock per ticket and
-- metric, and the warnings/breaches recorded against them.

CREATE TABLE sla_calendars (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  time_zone TEXT NOT NULL,
  always_open INTEGER NOT NULL DEFAULT 0,
  hours TEXT NOT NULL,
  holidays TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

CREATE TABLE sla_policies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  position INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1,
  calendar_id INTEGER NULL REFERENCES sla_calendars(id),
  match_rules TEXT NOT NULL,
  targets TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

-- next_at is the clock's next instant to act on (warning or due) that is
-- not yet recorded; NULL when there is none. The sweep scans this index.
CREATE TABLE sla_clocks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  policy_id INTEGER NOT NULL,
  target_ms INTEGER NOT NULL,
  cycle INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL,
  started_at DATETIME NOT NULL,
  elapsed_ms INTEGER NOT NULL DEFAULT 0,
  warn_at DATETIME NULL,
  due_at DATETIME NULL,
  first_warned_at DATETIME NULL,
  breached_at DATETIME NULL,
  met_at DATETIME NULL,
  next_at DATETIME NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (ticket_id, metric)
);
CREATE INDEX sla_clocks_next ON sla_clocks(next_at);
CREATE INDEX sla_clocks_due ON sla_clocks(state, due_at);
CREATE INDEX sla_clocks_breached ON sla_clocks(breached_at, ticket_id);

-- One row per warning or breach of one cycle of one clock: the unique key
-- is what makes each of them recorded exactly once across workers.
CREATE TABLE sla_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  cycle INTEGER NOT NULL,
  kind TEXT NOT NULL,
  policy_id INTEGER NOT NULL,
  due_at DATETIME NOT NULL,
  recorded_at DATETIME NOT NULL,
  actions_done_at DATETIME NULL,
  UNIQUE (ticket_id, metric, cycle, kind)
);
CREATE INDEX sla_events_recorded ON sla_events(recorded_at);
