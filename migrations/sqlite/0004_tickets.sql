-- Tickets domain: workflow versions, tickets, tags, comments, escalations,
-- append-only history, knowledge links and round-robin state.

-- Published workflow versions (immutable); the PK stops two publishers from
-- taking the same version.
CREATE TABLE workflow_definitions (
  `key` TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_by INTEGER NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (`key`, version)
);

CREATE TABLE tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subject TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  status_category TEXT NOT NULL,
  priority TEXT NOT NULL,
  workflow_key TEXT NOT NULL,
  workflow_version INTEGER NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL,
  custom_fields TEXT NOT NULL,
  department_id INTEGER NULL REFERENCES departments(id) ON DELETE SET NULL,
  assignee_id INTEGER NULL REFERENCES users(id) ON DELETE SET NULL,
  requester_id INTEGER NOT NULL REFERENCES users(id),
  version INTEGER NOT NULL DEFAULT 1,
  state_entered_at DATETIME NOT NULL,
  resolved_at DATETIME NULL,
  closed_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE INDEX tickets_category ON tickets(status_category, id);
CREATE INDEX tickets_status ON tickets(status, id);
CREATE INDEX tickets_department ON tickets(department_id, id);
CREATE INDEX tickets_assignee ON tickets(assignee_id, id);
CREATE INDEX tickets_assignee_load ON tickets(assignee_id, status_category);
CREATE INDEX tickets_requester ON tickets(requester_id, id);
CREATE INDEX tickets_priority ON tickets(priority, id);
CREATE INDEX tickets_updated ON tickets(updated_at, id);
CREATE INDEX tickets_created ON tickets(created_at, id);
CREATE INDEX tickets_workflow ON tickets(workflow_key, workflow_version, status_category);

CREATE TABLE ticket_tags (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags(tag, ticket_id);

CREATE TABLE ticket_comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  author_id INTEGER NOT NULL REFERENCES users(id),
  body TEXT NOT NULL,
  internal INTEGER NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments(ticket_id, id);

CREATE TABLE ticket_escalations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  from_department_id INTEGER NULL,
  to_department_id INTEGER NULL,
  from_assignee_id INTEGER NULL,
  to_assignee_id INTEGER NULL,
  tier INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  by_id INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX ticket_escalations_ticket ON ticket_escalations(ticket_id, id);

-- Append-only: rows are inserted, never updated.
CREATE TABLE ticket_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  actor_id INTEGER NULL,
  at DATETIME NOT NULL,
  kind TEXT NOT NULL,
  field TEXT NOT NULL DEFAULT '',
  event TEXT NOT NULL DEFAULT '',
  from_value TEXT NOT NULL,
  to_value TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX ticket_history_ticket ON ticket_history(ticket_id, id);

-- Knowledge links (kind: solved_by, referenced, created_from). The links API
-- comes with the knowledge domain; the resolve step's knowledge guard
-- already counts these rows. article_id has no foreign key until the
-- articles table exists.
CREATE TABLE ticket_article_links (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  article_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  created_by INTEGER NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (ticket_id, article_id, kind)
);
CREATE INDEX ticket_article_links_article ON ticket_article_links(article_id, ticket_id);

-- Auto-assignment state and lock: creations into a department lock its row
-- so concurrent assignments never pile onto one member.
CREATE TABLE department_assignment (
  department_id INTEGER NOT NULL PRIMARY KEY REFERENCES departments(id) ON DELETE CASCADE,
  last_assignee_id INTEGER NULL
);
